//! The id queue of a fetch: a producer pages the ids that still need the vendor out of the
//! database into a bounded channel, and the dispatcher turns each into a task (at most
//! `HELD_PER_SLOT` per request slot in progress), so memory stays flat however long the input.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::attempt::fetch_one;
use super::{Ctx, StopCause};
use crate::store::intake::{self, ToFetch};
use crate::store::{OpenMode, Store, StoreError};

/// Ids handed over from the producer at once.
pub(super) const ID_CHUNK: usize = 8;

/// Ids in progress (sending, or waiting out a back-off) per request slot.
const HELD_PER_SLOT: usize = 8;

/// Pages ids of the run's account needing the vendor out of the database into the workers'
/// channel.
pub(super) fn produce_ids(
    db: &std::path::Path,
    run_id: i64,
    partner_code: &str,
    tx: async_channel::Sender<Vec<ToFetch>>,
    cancel: &CancellationToken,
) -> Result<(), StoreError> {
    let store = Store::open(db, OpenMode::MigrateExisting)?;
    let mut after = 0;
    loop {
        let page = intake::next_to_fetch(&store.conn, run_id, partner_code, after, 1024)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.check;
        let mut page = page.into_iter().peekable();
        while page.peek().is_some() {
            let chunk: Vec<ToFetch> = page.by_ref().take(ID_CHUNK).collect();
            if cancel.is_cancelled() || tx.send_blocking(chunk).is_err() {
                return Ok(());
            }
        }
    }
}

/// Runs [`dispatch`] as a task on the runtime's threads, not on the thread that drives the run:
/// each id's end wakes the dispatcher (room in flight), and waking a task there is a queue push,
/// where waking the driving thread is a futex call and a context switch per id.
pub(super) async fn dispatch_on_runtime(
    ctx: &Arc<Ctx>,
    ids_rx: &async_channel::Receiver<Vec<ToFetch>>,
    concurrency: usize,
) {
    let dispatcher = tokio::spawn({
        let (ctx, ids_rx) = (ctx.clone(), ids_rx.clone());
        async move { dispatch(&ctx, &ids_rx, concurrency).await }
    });
    if let Err(e) = dispatcher.await {
        tracing::error!(error = %e, "the dispatcher failed");
        ctx.stop(StopCause::Storage(format!(
            "internal error in the dispatcher: {e}"
        )));
    }
}

/// Spawns a task per id from the producer's channel until it closes or the run stops, then
/// waits for every task.
///
/// Every id is its own task, so requests are parsed and classified on every runtime thread.
/// A request needs one of `concurrency` slots; an id waiting out a back-off gives its slot
/// back, so ids held at 11350 or 5xx do not starve the others. At most
/// `HELD_PER_SLOT * concurrency` ids are in progress at once (memory stays flat).
async fn dispatch(
    ctx: &Arc<Ctx>,
    ids_rx: &async_channel::Receiver<Vec<ToFetch>>,
    concurrency: usize,
) {
    let held = Arc::new(tokio::sync::Semaphore::new(concurrency * HELD_PER_SLOT));
    let mut tasks = tokio::task::JoinSet::new();
    let reap = |joined: Result<(), tokio::task::JoinError>, ctx: &Ctx| {
        if let Err(e) = joined {
            tracing::error!(error = %e, "a fetch task failed");
            ctx.stop(StopCause::Storage(format!(
                "internal error in a fetch task: {e}"
            )));
        }
    };
    'dispatch: loop {
        let chunk = tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            chunk = ids_rx.recv() => match chunk {
                Ok(chunk) => chunk,
                Err(_) => break,
            },
        };
        for check in chunk {
            let permit = tokio::select! {
                _ = ctx.cancel.cancelled() => break 'dispatch,
                permit = held.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break 'dispatch,
                },
            };
            let task_ctx = ctx.clone();
            tasks.spawn(async move {
                fetch_one(&task_ctx, check).await;
                drop(permit);
            });
            while let Some(joined) = tasks.try_join_next() {
                reap(joined, ctx);
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        reap(joined, ctx);
    }
}
