//! The night's inbox step: the inbox's files registered (each moved to `done/` or
//! `rejected/`, or left for the next night when the budget cuts it off), and its one line.
//!
//! Policy: the step's line and the night's summary tell what was registered, a file cut off
//! part way included, and warn about what reading found as `fetch` does (ids another account
//! read first, times that could not be read); when the inbox ends the night's requests, the
//! fetch step still logs its line saying why it did not start.

use std::path::PathBuf;

use anyhow::anyhow;

use super::{Night, shown};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::fetch::FetchOptions;
use crate::nightly::intake::FileDisposition;
use crate::nightly::{inbox, intake};
use crate::store::account::RunAccount;

impl Night<'_> {
    /// Registers the inbox's files; `false` when the night stops here (cut off, interrupted).
    pub(super) fn read_inbox(&mut self, opts: &FetchOptions) -> bool {
        let now = std::time::SystemTime::now();
        let listing = match inbox::list(&self.paths.inbox, self.s.settle, now) {
            Ok(l) => l,
            Err(e) => {
                let f = Failure::usage(anyhow!("reading {}: {e}", shown(&self.paths.inbox)));
                self.failed("inbox", &f);
                return true;
            }
        };
        self.summary.files_waiting = listing.waiting.iter().map(|(p, _)| shown(p)).collect();
        self.unread_entries(&listing);
        if listing.take.is_empty() {
            let detail = format!(
                "no new file ({} still being written)",
                listing.waiting.len()
            );
            self.step("inbox", ExitStatus::Ok, "quiet", detail);
            return true;
        }
        let outcomes = match intake::register_files(
            &opts.db,
            &opts.account(),
            &listing.take,
            &opts.input,
            self.deadline,
            self.signalled,
        ) {
            Ok(o) => o,
            Err(e) => {
                self.failed("inbox", &Failure::from(e));
                self.fetch_not_started("the inbox could not be registered");
                return false;
            }
        };
        self.file_dispositions(outcomes, &opts.account())
    }

    /// The fetch step's line when the inbox step ends the night's requests before it.
    fn fetch_not_started(&mut self, why: &str) {
        let detail = format!("not started: {why}");
        self.step("fetch", ExitStatus::Incomplete, "not_started", detail);
    }

    /// Names what the inbox holds but never reads (a folder, a FIFO: status 2, so someone
    /// looks), and warns about files whose modification time is in the future.
    fn unread_entries(&mut self, listing: &inbox::Listing) {
        for (path, why) in &listing.skipped {
            self.summary.files_skipped.push(shown(path));
            let detail = format!("{} skipped: {why}", shown(path));
            self.step("inbox", ExitStatus::Usage, "skipped", detail);
        }
        let label = self.label();
        for path in &listing.future_mtime {
            tracing::warn!(
                account = label.as_str(),
                file = shown(path).as_str(),
                "the file's modification time is in the future (the sender's clock or an SFTP \
                 time-zone setting is wrong): judged settled by when it last changed on this \
                 machine"
            );
        }
    }

    /// Moves each read file where it belongs, warns about what reading found (as `fetch` does:
    /// ids another account read first, odd times) and counts what was registered, a file cut
    /// off part way included; `false` when the night stops here.
    fn file_dispositions(
        &mut self,
        outcomes: Vec<(PathBuf, FileDisposition)>,
        account: &RunAccount,
    ) -> bool {
        let (mut cut, mut stopped) = (0, false);
        let inbox = self.paths.inbox.clone();
        let (mut ids, mut partial) = (0, 0);
        for (file, outcome) in outcomes {
            match outcome {
                FileDisposition::Registered(stats) => {
                    self.found(&stats, account);
                    ids += stats.distinct;
                    match inbox::move_into(&file, &inbox.join(inbox::DONE_FOLDER)) {
                        Ok(to) => self.summary.files_registered.push(shown(&to)),
                        Err(e) => {
                            let f = Failure::internal(anyhow!("moving {}: {e}", shown(&file)));
                            self.failed("inbox", &f);
                        }
                    }
                }
                FileDisposition::Rejected(why) => {
                    let detail = match inbox::reject(&file, &inbox, &why) {
                        Ok(to) => format!("{} rejected: {why}", shown(&to)),
                        Err(e) => {
                            format!("{} cannot be read ({why}), nor moved: {e}", shown(&file))
                        }
                    };
                    self.summary.files_rejected.push(shown(&file));
                    self.step("inbox", ExitStatus::Usage, "rejected", detail);
                }
                FileDisposition::CutOff(stats) => {
                    self.found(&stats, account);
                    partial += stats.distinct;
                    cut += 1;
                }
                FileDisposition::Interrupted => stopped = true,
            }
        }
        self.summary.ids_registered = ids + partial;
        let registered = self.summary.files_registered.len();
        let mut detail =
            format!("{registered} files registered ({ids} ids), {cut} left for the next night");
        if partial > 0 {
            // Kept and pending: the next fetch asks them, the next night reads on after them.
            detail.push_str(&format!(
                " ({partial} of their ids registered before the cut-off)"
            ));
        }
        if self.summary.other_account > 0 {
            detail.push_str(&format!(
                "; {} rows name ids another account read first (not asked under this one)",
                self.summary.other_account
            ));
        }
        if stopped {
            self.step("inbox", ExitStatus::Interrupted, "interrupted", detail);
            return false;
        }
        if cut > 0 {
            self.step("inbox", ExitStatus::Incomplete, "cut_off", detail);
            self.fetch_not_started("no budget left after the inbox");
            return false;
        }
        self.step("inbox", ExitStatus::Ok, "ok", detail);
        true
    }

    /// Logs what reading a file found, as `fetch` logs it, and counts other accounts' rows.
    fn found(&mut self, stats: &crate::store::intake::IntakeStats, account: &RunAccount) {
        crate::fetch::log_intake(stats, account);
        self.summary.other_account += stats.other_account.rows;
    }
}
