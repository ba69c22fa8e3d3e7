//! What a run watches besides the vendor: interrupts (during intake and during the run) and
//! its database file being deleted or replaced.
//!
//! Policy: a first interrupt stops the run cleanly; a second one goes to
//! [`crate::exit::second_interrupt`] (the binary ends the process).

use super::*;

/// Sets `flag` on SIGINT or SIGTERM while the input is read (handlers installed before this
/// returns); a second signal ends the process at once.
pub(crate) fn watch_intake_signals(
    flag: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    tokio::spawn(async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                crate::exit::second_interrupt();
            }
            _ => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    })
}

/// How often a run checks that its database file is still the one it locked.
pub(super) const DB_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Stops the run when the database file is deleted or replaced under it.
pub(super) async fn watch_database(ctx: Arc<Ctx>, watch: DbWatch) {
    let mut every = tokio::time::interval(DB_CHECK_EVERY);
    loop {
        every.tick().await;
        let check = watch.clone();
        let gone = tokio::task::spawn_blocking(move || check.check_in_place()).await;
        if let Ok(Err(e)) = gone {
            ctx.stop(StopCause::Storage(e.to_string()));
            return;
        }
    }
}

pub(super) async fn watch_signals(ctx: Arc<Ctx>) {
    let interrupted = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    interrupted.await;
    ctx.stop(StopCause::Interrupted);
    // A second signal means "now": everything committed so far is safe on disk.
    let _ = tokio::signal::ctrl_c().await;
    crate::exit::second_interrupt();
}
