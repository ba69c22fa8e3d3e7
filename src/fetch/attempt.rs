//! One id: its attempts until a final answer (or a reason to stop), the rows they leave in the
//! attempts log, and the face image when asked for.

use std::future::Future;

use super::*;
use crate::td::answer::Retryable;
use crate::td::client::Attempt;

/// The loop's one contact with the vendor: send one request for this id and give back what
/// came of it (the vendor's answer, classified, or the transport failure). Nothing here
/// retries or waits; that is the loop's business. [`VendorClient`] is the real one.
pub(super) trait AskVendor: Send + Sync + 'static {
    fn ask(&self, id: &str, codes: &CodeTable) -> impl Future<Output = Attempt> + Send;
}

impl AskVendor for VendorClient {
    fn ask(&self, id: &str, codes: &CodeTable) -> impl Future<Output = Attempt> + Send {
        self.fetch_result(id, codes)
    }
}

/// How one id's round of attempts ended. The attempt that ended it rides along with the
/// ending when it has not been written yet, so a one-request id costs one write, and its
/// attempt row and result are committed together.
pub(super) enum Ending {
    Resolved(ResultAnswer, Option<AttemptRow>),
    Failed(Fault, Option<AttemptRow>),
    /// The run stopped first: the id stays as it was.
    Stopped,
}

/// Asks the vendor for one id, then records how the round ended with the number of attempts
/// it took (retried attempts are written as they happen; the one that ended the round is
/// written with the ending).
pub(super) async fn fetch_one<V: AskVendor>(ctx: &Ctx<V>, ToFetch { check, liveness_id }: ToFetch) {
    let mut attempts = 0;
    let ending = attempt_until_final(ctx, &liveness_id, &mut attempts).await;
    let op = match ending {
        Ending::Resolved(answer, last_attempt) => {
            match save_face(ctx, &liveness_id, &answer).await {
                Ok(()) => resolved_op(ctx, check, answer, attempts, last_attempt),
                Err(error) => {
                    // The answer is not stored: the id stays unresolved, so a later run asks
                    // again and writes its image then.
                    Tally::add(&ctx.tally.failed);
                    WriteOp::Failed {
                        check,
                        error,
                        attempts,
                        last_attempt,
                    }
                }
            }
        }
        Ending::Failed(fault, last_attempt) => {
            ctx.explain_failure(&liveness_id, &fault, attempts);
            Tally::add(&ctx.tally.failed);
            WriteOp::Failed {
                check,
                error: fault.to_string(),
                attempts,
                last_attempt,
            }
        }
        Ending::Stopped if attempts > 0 => WriteOp::Tried { check, attempts },
        Ending::Stopped => return,
    };
    ctx.write(op).await;
}

/// The attempt loop of one id: until a final answer, retries run out, or the run stops.
pub(super) async fn attempt_until_final<V: AskVendor>(
    ctx: &Ctx<V>,
    id: &str,
    attempts: &mut i64,
) -> Ending {
    let mut delays = ctx.retry.delays();
    let mut internal: Option<ResultAnswer> = None;
    loop {
        let Some((slot, grant, attempt)) = ask_once(ctx, id).await else {
            return stopped(internal);
        };
        Tally::add(&ctx.tally.requests);
        ctx.pace.answered(attempt.latency);
        *attempts += 1;
        let row = attempt_row(id, grant.at_ms, &attempt);
        let mut retry = match settle(ctx, id, row, attempt.verdict, &mut internal).await {
            Ok(retry) => retry,
            Err(ending) => return ending,
        };
        let answered = retry.answer.is_some();
        if let Some(answer) = retry.answer.take() {
            Tally::add(&ctx.tally.internal_errors);
            internal = Some(answer);
        }
        if ctx.cancel.is_cancelled() {
            return stopped(internal);
        }
        let delay = match after_retry(ctx, &retry, answered, &grant, &mut delays) {
            Next::Wait(delay) => delay,
            Next::Stop => return stopped(internal),
            Next::GiveUp => {
                return match internal {
                    Some(answer) => Ending::Resolved(answer, None),
                    None => Ending::Failed(retry.fault, None),
                };
            }
        };
        Tally::add(&ctx.tally.retries);
        // Both the request slot and the room in flight are free during the back-off.
        drop(grant);
        drop(slot);
        tokio::select! {
            _ = ctx.cancel.cancelled() => return stopped(internal),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// One request for `id`: a request slot, the pace's grant, then the vendor's answer; `None`
/// when the run stops first. The slot is held from waiting for the pace to the attempt's
/// write, and given back before a back-off wait.
async fn ask_once<'c, V: AskVendor>(
    ctx: &'c Ctx<V>,
    id: &str,
) -> Option<(tokio::sync::SemaphorePermit<'c>, pace::Grant, Attempt)> {
    let slot = tokio::select! {
        _ = ctx.cancel.cancelled() => return None,
        slot = ctx.slots.acquire() => slot.ok()?,
    };
    let grant = ctx.pace.ready(&ctx.cancel).await?;
    let attempt = tokio::select! {
        a = ctx.client.ask(id, &ctx.codes) => a,
        _ = async { ctx.cancel.cancelled().await; tokio::time::sleep(STOP_GRACE).await } => {
            return None;
        }
    };
    Some((slot, grant, attempt))
}

/// What an attempt's verdict means for the round: its ending (`Err`), or a retryable answer
/// whose attempt row is written (`Ok`). A stop keeps an 11350 answer already received.
async fn settle<V: AskVendor>(
    ctx: &Ctx<V>,
    id: &str,
    row: AttemptRow,
    verdict: Verdict,
    internal: &mut Option<ResultAnswer>,
) -> Result<Retryable, Ending> {
    match verdict {
        Verdict::Final(answer) => {
            ctx.breaker.record_ok();
            if !answer.dropped.is_empty() {
                tracing::warn!(liveness_id = %id, "{}", dropped_note(&answer.dropped));
            }
            Err(Ending::Resolved(answer, Some(row)))
        }
        Verdict::GiveUp(fault) => {
            // An HTTP 4xx given up on (400, 413, a WAF's 406...) is the endpoint refusing the
            // request, not an answer about the id: a streak of them trips the breaker as an
            // outage does, so a gateway that blocks every request stops the run instead of
            // marking a million ids failed one by one; a few among answers never do.
            if fault.is_outage() {
                if ctx.breaker.record_outage() {
                    ctx.stop(StopCause::Outage {
                        count: ctx.breaker.threshold(),
                        last: fault.to_string(),
                    });
                }
            } else {
                ctx.breaker.record_ok();
            }
            Err(Ending::Failed(fault, Some(row)))
        }
        Verdict::Stop(reason) => {
            ctx.write(WriteOp::Attempt(row)).await;
            ctx.stop(StopCause::Vendor(reason));
            Err(stopped(internal.take()))
        }
        Verdict::Retry(retry) => {
            if !ctx.write(WriteOp::Attempt(row)).await {
                return Err(stopped(internal.take()));
            }
            Ok(retry)
        }
    }
}

/// What the loop does after a retryable answer.
enum Next {
    /// Ask again after this wait (zero: the shared pause is the wait).
    Wait(Duration),
    /// Retries ran out.
    GiveUp,
    /// The breaker tripped: the run is stopping.
    Stop,
}

/// Counts a retryable answer towards the breaker, sets the shared pause it asks for, and picks
/// the wait before the next attempt: none of the back-off for a 429 that paused the run (the
/// pause is the wait, the breaker the bound), else the next back-off delay, if any is left
/// (`answered`: the attempt was an 11350 answer, which waits the shortest back-off).
fn after_retry<V>(
    ctx: &Ctx<V>,
    retry: &Retryable,
    answered: bool,
    grant: &pace::Grant,
    delays: &mut retry::Delays,
) -> Next {
    // A 429 that paused the run counts towards the breaker like an outage fault: a vendor
    // that refuses every request for that long is not coming back during this run.
    let refused = (retry.fault == Fault::RateLimited).then(|| {
        let pause = ctx.retry.rate_limit_pause(retry.retry_after);
        ctx.pace.refused(grant, retry.retry_after, pause)
    });
    if retry.fault.is_outage() || refused == Some(true) {
        if ctx.breaker.record_outage() {
            ctx.stop(StopCause::Outage {
                count: ctx.breaker.threshold(),
                last: retry.fault.to_string(),
            });
            return Next::Stop;
        }
    } else if refused.is_none() {
        ctx.breaker.record_ok();
    }
    if refused.is_some() {
        Tally::add(&ctx.tally.rate_limited);
        return Next::Wait(Duration::ZERO);
    }
    if let Some(wait) = retry.retry_after {
        let wait = wait.min(ctx.retry.retry_after_cap);
        // A 503 with a `Retry-After` is how some gateways throttle: under `auto` it cuts the
        // rate as a 429 does (other 5xx never do); at a fixed rate both only pause.
        if matches!(retry.fault, Fault::Status { status: 503, .. }) {
            ctx.pace.refused(grant, Some(wait), wait);
        } else {
            ctx.pace.pause_for(wait);
        }
    }
    // An 11350 answer waits the shortest back-off, a fault a growing one (see `retry.rs`).
    delays.next(answered).map_or(Next::GiveUp, Next::Wait)
}

/// How a round ends when the run stops: an answer already received (11350, asked again next
/// run) is stored as the id's state, never lost; otherwise the id stays as it was.
fn stopped(internal: Option<ResultAnswer>) -> Ending {
    match internal {
        Some(answer) => Ending::Resolved(answer, None),
        None => Ending::Stopped,
    }
}

/// The note for secondary fields dropped from an answer that was kept.
pub(super) fn dropped_note(fields: &[&str]) -> String {
    format!(
        "answer kept; dropped field(s) of an unexpected type: {}",
        fields.join(", ")
    )
}

pub(super) fn attempt_row(id: &str, sent_at_ms: i64, attempt: &Attempt) -> AttemptRow {
    let (outcome, code, sequence_id, detail) = match &attempt.verdict {
        Verdict::Final(a) => (
            "final".to_string(),
            Some(a.code),
            a.sequence_id.clone(),
            (!a.dropped.is_empty()).then(|| dropped_note(&a.dropped)),
        ),
        Verdict::Retry(r) => (
            format!("retry:{}", r.fault.kind()),
            r.answer.as_ref().map(|a| a.code),
            r.answer.as_ref().and_then(|a| a.sequence_id.clone()),
            Some(r.fault.to_string()),
        ),
        Verdict::GiveUp(f) => (
            format!("give_up:{}", f.kind()),
            None,
            None,
            Some(f.to_string()),
        ),
        Verdict::Stop(reason) => {
            let code = match reason {
                VendorStop::Account { code, .. } => Some(*code),
                _ => None,
            };
            ("stop".to_string(), code, None, Some(reason.to_string()))
        }
    };
    AttemptRow {
        liveness_id: id.to_string(),
        sent_at_ms,
        latency_ms: attempt.latency.as_millis() as i64,
        http_status: attempt.http_status,
        code,
        sequence_id,
        outcome,
        detail,
    }
}

/// Saves the face when `--save-images` asks for it. A failure is the id's failure; a full or
/// read-only disk also stops the run, since every later image would fail the same way.
pub(super) async fn save_face<V>(
    ctx: &Ctx<V>,
    id: &str,
    answer: &ResultAnswer,
) -> Result<(), String> {
    let (Some(dir), Some(bytes)) = (
        &ctx.save_images,
        answer.face.as_ref().and_then(|f| f.bytes.as_ref()),
    ) else {
        return Ok(());
    };
    let (dir, id_for_file, bytes) = (dir.clone(), id.to_string(), bytes.clone());
    let saved = tokio::task::spawn_blocking(move || faces::save(&dir, &id_for_file, &bytes)).await;
    let error = match saved {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e,
        Err(e) => std::io::Error::other(e.to_string()),
    };
    let message = format!(
        "could not save the face image under {save_images_flag}: {error}",
        save_images_flag = Setting::SaveImages
    );
    tracing::warn!(liveness_id = %id, error = %error, "could not save the face image");
    // A full disk, a quota or a read-only file system: the disk, not this image.
    if matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull
            | std::io::ErrorKind::QuotaExceeded
            | std::io::ErrorKind::ReadOnlyFilesystem
    ) {
        ctx.stop(StopCause::Storage(format!(
            "{message} (free space or fix the directory, then run the same command again)"
        )));
    }
    Err(message)
}

/// Counts a resolved answer and builds its write.
pub(super) fn resolved_op<V>(
    ctx: &Ctx<V>,
    check: i64,
    answer: ResultAnswer,
    attempts: i64,
    last_attempt: Option<AttemptRow>,
) -> WriteOp {
    let category = ctx.codes.category(answer.code);
    Tally::add(&ctx.tally.resolved);
    match crate::check::classify(Status::Done, Some(answer.code), &ctx.codes) {
        Class::Charged => Tally::add(&ctx.tally.charged),
        Class::UnknownCode => Tally::add(&ctx.tally.unknown_codes),
        Class::Uncharged | Class::Provisional | Class::Unresolved => {}
    }
    if category == Category::Attack {
        Tally::add(&ctx.tally.attacks);
    }
    WriteOp::Resolved {
        check,
        answer: StoredAnswer {
            code: answer.code,
            message: answer.message,
            score: answer.score,
            sequence_id: answer.sequence_id,
            image_sha256: answer.face.as_ref().map(|f| f.sha256.clone()),
            image_bytes: answer.face.as_ref().map(|f| f.len as i64),
        },
        attempts,
        last_attempt,
    }
}

#[cfg(test)]
mod tests;
