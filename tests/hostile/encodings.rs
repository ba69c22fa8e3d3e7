//! Answers in encodings the vendor's page does not promise but servers and proxies send: a
//! UTF-8 byte-order mark before the JSON, a gzip body nobody asked for, and a gzip bomb.

use std::io::Write;

use super::{all_done_200, fetch_args, run, statuses};
use crate::util::hostile::{Hostile, Reply};
use crate::util::{Env, id_csv};

const ANSWER: &str = r#"{"code":"200","message":"success","score":0.01,"sequence_id":"s1"}"#;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Guards answers that are the vendor's JSON in another wrapping: a body starting with a UTF-8
/// BOM, and a gzip body marked `Content-Encoding: gzip` though liveaudit asked for none, are
/// each stored as the answer they carry (they failed every retry before).
#[test]
fn a_bom_or_an_unasked_gzip_body_is_read_as_the_answer_it_carries() {
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), ANSWER.as_bytes()].concat();
    let gzipped = gzip(ANSWER.as_bytes());
    for (name, body, encoding) in [("bom", with_bom, None), ("gzip", gzipped, Some("gzip"))] {
        let env = Env::plain();
        env.write("ids.csv", id_csv(3));
        let vendor = Hostile::start(move |_| {
            let reply = Reply::json(200, "");
            let reply = Reply {
                body: body.clone(),
                ..reply
            };
            match encoding {
                Some(e) => reply.header("Content-Encoding", e),
                None => reply,
            }
        });
        let fetch = run(&env, &vendor, &fetch_args(&[]));
        assert_eq!(fetch.status, Some(0), "{name}: {}", fetch.stderr);
        all_done_200(&env);
    }
}

/// Guards the size cap through compression: a 20 KB gzip body that inflates past
/// `--max-body-mib` is refused as too large (never inflated whole, never stored), and the id
/// is left failed for the next run.
#[test]
fn a_gzip_bomb_is_refused_at_the_body_cap() {
    let env = Env::plain();
    env.write("ids.csv", id_csv(1));
    let mut json = ANSWER.trim_end_matches('}').to_string();
    json.push_str(r#","pad":""#);
    json.push_str(&" ".repeat(3 << 20));
    json.push_str(r#""}"#);
    let bomb = gzip(json.as_bytes());
    assert!(bomb.len() < 20_000, "{} bytes", bomb.len());
    let vendor = Hostile::start(move |_| {
        Reply {
            body: bomb.clone(),
            ..Reply::json(200, "")
        }
        .header("Content-Encoding", "gzip")
    });
    let fetch = run(&env, &vendor, &fetch_args(&["--max-body-mib", "2"]));
    assert_eq!(fetch.status, Some(4), "{}", fetch.stderr);
    fetch.stderr_has("larger than the 2097152-byte cap");
    assert_eq!(statuses(&env), vec![("failed".to_string(), None)]);
}
