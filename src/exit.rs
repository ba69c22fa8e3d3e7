//! The documented exit statuses (README "Exit statuses"), in one enum so every command maps its
//! outcome the same way and scripts can rely on them.
//!
//! Policy: the library never ends the process. A first interrupt stops a run cleanly (what was
//! fetched is committed); a second one means "now", and the library hands that moment to the
//! hook the binary registered with [`on_second_interrupt`].

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitStatus {
    /// Done: every id resolved; a report or reconcile with nothing to flag.
    Ok = 0,
    /// An unexpected internal error.
    Internal = 1,
    /// Usage, configuration or input error; nothing was sent.
    Usage = 2,
    /// The vendor refused the credentials or the account; unfinished ids stay pending.
    Refused = 3,
    /// The run finished, but some ids are still failed or pending (or its time budget ran out);
    /// a purge left face image files it could not delete.
    Incomplete = 4,
    /// Reconcile found discrepancies.
    Discrepancies = 5,
    /// `report attacks --fail-on-spike` found a spike.
    Spike = 6,
    /// Interrupted (Ctrl-C / SIGTERM) after saving what was fetched.
    Interrupted = 130,
}

impl ExitStatus {
    /// The number the process ends with.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s.code())
    }
}

/// What a second interrupt (Ctrl-C or SIGTERM) does; set once by the binary.
static SECOND_INTERRUPT: std::sync::OnceLock<fn() -> !> = std::sync::OnceLock::new();

/// Registers what a second interrupt does (the binary ends the process with status 130).
/// Without a hook, a second interrupt changes nothing: the run is already stopping cleanly.
pub fn on_second_interrupt(hook: fn() -> !) {
    let _ = SECOND_INTERRUPT.set(hook);
}

/// Called by the library when a second interrupt arrives.
pub(crate) fn second_interrupt() {
    if let Some(hook) = SECOND_INTERRUPT.get() {
        hook()
    }
}
