//! The floor of the HTTP stack liveaudit is built on: reqwest with the same settings the vendor
//! client uses (rustls, no redirects, no retries inside reqwest, `TCP_NODELAY`, a pool as large
//! as the concurrency), posting one small body per request and reading the answer, with
//! nothing parsed or stored.
//!
//! `scripts/bench.py` runs it beside `fetch --rate 0` and wrk, so the ceiling benchmark shows how
//! much of the gap to wrk is the client library and how much is liveaudit's own work.
//!
//! Usage: `http_floor URL REQUESTS CONNECTIONS` (prints `requests/s`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: http_floor URL REQUESTS CONNECTIONS";
    let url = reqwest::Url::parse(&args.next().ok_or(usage)?)?;
    let requests: usize = args.next().ok_or(usage)?.parse()?;
    let connections: usize = args.next().ok_or(usage)?.parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let rate = runtime.block_on(async move {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .tcp_nodelay(true)
            .pool_max_idle_per_host(connections)
            .build()?;
        let issued = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..connections {
            let (client, url, issued) = (client.clone(), url.clone(), issued.clone());
            tasks.spawn(async move {
                while issued.fetch_add(1, Ordering::Relaxed) < requests {
                    let answer = client
                        .post(url.clone())
                        .header("content-type", "application/json")
                        .body(r#"{"liveness_id":"b-000000001"}"#)
                        .send()
                        .await?;
                    answer.bytes().await?;
                }
                Ok::<_, reqwest::Error>(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        Ok::<_, Box<dyn std::error::Error>>(requests as f64 / started.elapsed().as_secs_f64())
    })?;
    println!("{rate:.0}");
    Ok(())
}
