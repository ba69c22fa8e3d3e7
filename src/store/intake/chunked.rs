//! Registering a fetch's input in committed chunks while the fetch runs: after each commit the
//! chunk's ids that need the vendor are handed on, so the first request leaves once the first
//! chunk is committed rather than after the whole input.
//!
//! Policy: the caller has already read the whole input once without writing anything and
//! found no error (`fetch` does that check first), so an input that will be refused sends
//! nothing and registers nothing. Every [`CHUNK_IDS`] rows are read, then registered in one
//! transaction (in a turn at writing: [`crate::store::turns`]) and only then handed on, so no
//! id is asked before its row is committed. A `kill -9` keeps the chunks committed before it
//! (real ids of the input, pending until asked): the next run of the same input registers them
//! again (that changes nothing), keeps every stored answer and asks only what is still open. A
//! signal ends the reading and commits what was read. An error found now after all (the file
//! changed since the check) is returned with the chunks before it kept. The counts are those
//! of [`super::register`]: duplicates are found by the database across chunks, so they are the
//! same whatever the chunking.

use rusqlite::Connection;

use super::{Batch, INTAKE_ROWS, IntakeError, IntakeStats, ToFetch};
use crate::input::{IdRow, InputError, InputOptions, InputStats, Source, read_ids};
use crate::store::account::RunAccount;
use crate::store::turns::Turns;

/// Rows registered together before their ids are handed on. Rule: a chunk holds the turn at
/// writing while it registers, and the result writer waits that long; about 1,000 ids (tens of
/// milliseconds) keep that wait short and the commits few.
pub(crate) const CHUNK_IDS: usize = 1024;

/// How a streamed registration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The whole input is registered.
    Done,
    /// A signal stopped the reading; what was read before it is committed and counted.
    Stopped,
}

/// Registers every source under `run` and `account` in chunks that each commit; after each
/// commit, `committed` gets the chunk's ids that need the vendor under the run's account (in
/// row order). The run's counts go to its row with the last chunk. A signal ends the reading
/// early ([`Ended::Stopped`]) with what was read committed and counted.
pub(crate) fn register_chunked(
    conn: &Turns<Connection>,
    run: i64,
    account: &RunAccount,
    sources: &[Source],
    opts: &InputOptions,
    committed: &mut dyn FnMut(Vec<ToFetch>),
) -> Result<(IntakeStats, Ended), IntakeError> {
    let batch = {
        let conn = conn.take();
        // The intake's page cache and statement journals in memory (the rule:
        // `super::register`), kept while the run writes: this is the result writer's
        // connection, which nothing else uses. A chunk's multi-row upserts journal more than
        // SQLite keeps in memory by default (64 KiB), and spilled to a temporary file they cost
        // a `pwrite` per page, about a third of this thread's CPU (BENCHMARKS.md, 2026-12-08).
        conn.execute_batch(&format!(
            "PRAGMA cache_size = -{}; PRAGMA temp_store = MEMORY;",
            super::INTAKE_CACHE_KIB
        ))?;
        Batch::new(&conn, run, account)?
    };
    {
        let mut chunks = Chunks {
            conn,
            batch,
            stats: IntakeStats::default(),
            rows: Vec::with_capacity(CHUNK_IDS),
            committed,
        };
        chunks.batch.fix_times = opts.fix_times;
        let mut input = InputStats::default();
        let mut ended = Ended::Done;
        for source in sources {
            let read = read_ids(source, opts, &mut input, |row: IdRow| {
                chunks.rows.push(row);
                match chunks.rows.len() < CHUNK_IDS {
                    true => Ok(()),
                    false => chunks.write(None),
                }
            });
            match read {
                Ok(written) => written?,
                Err(InputError::Interrupted) => {
                    ended = Ended::Stopped;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        chunks.stats.input = input;
        // Checked before any chunk was written; found now, the input changed since.
        if let Some(e) = chunks.stats.input.bad_times_error(opts)
            && ended == Ended::Done
        {
            return Err(e.into());
        }
        chunks.write(Some(run))?;
        Ok((chunks.stats, ended))
    }
}

/// The chunk being read and what registering the ones before it counted.
struct Chunks<'c, 'a> {
    conn: &'c Turns<Connection>,
    batch: Batch<'a>,
    stats: IntakeStats,
    /// The rows read since the last commit.
    rows: Vec<IdRow>,
    committed: &'c mut dyn FnMut(Vec<ToFetch>),
}

impl Chunks<'_, '_> {
    /// Registers the rows read in one transaction (the last one, `last`, records the run's
    /// counts in its row too), then hands their ids that need the vendor on.
    fn write(&mut self, last: Option<i64>) -> Result<(), rusqlite::Error> {
        let mut queue = Vec::with_capacity(self.rows.len());
        {
            let conn = self.conn.take();
            let tx = conn.unchecked_transaction()?;
            let mut part = Vec::with_capacity(INTAKE_ROWS);
            for row in self.rows.drain(..) {
                part.push(row);
                if part.len() == INTAKE_ROWS {
                    self.batch
                        .flush_into(&tx, &mut part, &mut self.stats, Some(&mut queue))?;
                }
            }
            self.batch
                .flush_into(&tx, &mut part, &mut self.stats, Some(&mut queue))?;
            if let Some(run) = last {
                super::record_intake(&tx, run, &self.stats)?;
            }
            tx.commit()?;
        }
        queue.sort_unstable_by_key(|id| id.check);
        (self.committed)(queue);
        Ok(())
    }
}
