//! `liveaudit nightly`, the library side: the inbox ([`inbox`]), reading it into the database
//! file by file ([`intake`]), which days' billing reports to write again ([`billing`]) and the
//! export files that are their own cursor ([`export`]); the order of a night and the settings
//! are in `commands::nightly`.
//!
//! Policy: one night per account, in the order given; each step logs one line naming the step
//! and its status; the job's exit status is the most serious of the accounts' in this order:
//! 130 interrupted, 3 refused, 2 bad input or settings, 1 internal error, 4 cut off or ids
//! left, 6 attack spike, 0.

pub(crate) mod billing;
pub(crate) mod export;
pub(crate) mod inbox;
pub(crate) mod intake;

use crate::exit::ExitStatus;

/// How serious a night's status is: the lower, the more (the job reports the most serious).
fn rank(status: ExitStatus) -> u8 {
    match status {
        ExitStatus::Interrupted => 0,
        ExitStatus::Refused => 1,
        ExitStatus::Usage => 2,
        ExitStatus::Internal => 3,
        ExitStatus::Incomplete => 4,
        ExitStatus::Spike => 5,
        ExitStatus::Discrepancies => 6,
        ExitStatus::Ok => 7,
    }
}

/// The more serious of two statuses (the job's status over its accounts and steps).
pub(crate) fn worse(a: ExitStatus, b: ExitStatus) -> ExitStatus {
    if rank(b) < rank(a) { b } else { a }
}

/// Logs one step of an account's night: the step, its status and what it did; a warning when
/// the step's exit status is not 0.
pub(crate) fn log_step(account: &str, step: &str, status: &str, detail: &str, ok: bool) {
    if ok {
        tracing::info!(account, step, status, detail, "nightly step");
    } else {
        tracing::warn!(account, step, status, detail, "nightly step");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_serious_status_wins_in_the_documented_order() {
        use ExitStatus::*;
        let order = [Interrupted, Refused, Usage, Internal, Incomplete, Spike, Ok];
        for (i, a) in order.iter().enumerate() {
            for b in &order[i..] {
                assert_eq!(worse(*a, *b), *a);
                assert_eq!(worse(*b, *a), *a);
            }
        }
    }
}
