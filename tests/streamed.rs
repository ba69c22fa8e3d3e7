//! A fetch of regular files registers its input in committed chunks while the requests run
//! (`src/fetch/registration.rs`): these tests guard what that must not change: a refused input
//! sends nothing, the counts are those of one transaction, and a run killed while it still
//! registers loses nothing it fetched.

use crate::util;

use liveaudit::mock::expected_code;
use util::{Env, id_csv};

/// More ids than two registration chunks (1,024 each), so an input spans several chunks.
const IDS: usize = 2500;

/// The fetch of `input` as the tests run it, with a summary file (not started).
fn fetch_with_summary<'a>(env: &'a Env, input: &str, summary: &str) -> util::Fetch<'a> {
    env.fetch(input)
        .quick()
        .file("--summary-file", &env.path(summary))
}

/// The last line of a summary file.
fn last_summary(env: &Env, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(env.path(name)).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

#[test]
fn a_bad_line_deep_in_a_large_file_sends_and_registers_nothing() {
    let env = Env::plain();
    let mut text = id_csv(IDS).into_bytes();
    text.extend_from_slice(b"bad-\xe9\n");
    env.write("late.csv", text);
    let run = env.fetch("late.csv").quick().run();
    run.expect(2);
    run.stderr_has(&format!("late.csv:{}", IDS + 2));
    run.stderr_has("nothing was sent");
    assert_eq!(env.mock.stats().result_requests, 0);
    assert_eq!(env.checks().len(), 0);
}

/// The same two runs over the same ids, read from files (registered while fetching) and from
/// standard input (registered in one transaction first): every count of the summary agrees.
#[test]
fn a_streamed_run_counts_what_one_transaction_counts() {
    // The second input: every id of the first again (already final or held at 11350), new ids
    // over several chunks, rows of blanks, and duplicates of ids several chunks back.
    let first = id_csv(700);
    let mut second = id_csv(IDS);
    for i in 0..300 {
        second.push_str(&format!("lv-{:08}\n  \n", i * 7));
    }
    let summaries = ["file", "stdin"].map(|how| {
        let env = Env::plain();
        env.write("first.csv", &first);
        env.write("second.csv", &second);
        let mut out = Vec::new();
        for (input, text) in [("first.csv", &first), ("second.csv", &second)] {
            let run = if how == "file" {
                fetch_with_summary(&env, input, "runs.jsonl").run()
            } else {
                let mut child = fetch_with_summary(&env, "-", "runs.jsonl").spawn();
                use std::io::Write;
                let mut stdin = child.stdin.take().unwrap();
                stdin.write_all(text.as_bytes()).unwrap();
                drop(stdin);
                util::Run::from(child.wait_with_output().unwrap())
            };
            run.expect(0);
            let s = last_summary(&env, "runs.jsonl");
            out.push((s["this_run"].clone(), s["input_after"].clone()));
        }
        env.assert_all_match_mock();
        out
    });
    let [file, stdin] = &summaries;
    for ((f_run, f_after), (s_run, s_after)) in file.iter().zip(stdin) {
        for key in [
            "ids",
            "duplicates",
            "blank_ids",
            "other_account",
            "adopted",
            "to_fetch",
        ] {
            assert_eq!(f_run[key], s_run[key], "{key}: file {f_run} stdin {s_run}");
        }
        assert_eq!(f_after, s_after);
    }
    let (second_run, _) = &file[1];
    assert_eq!(second_run["ids"], IDS);
    assert_eq!(second_run["duplicates"], 300);
    // The first run's ids held at 11350 are asked again; its final ones are not.
    let held = (0..700)
        .filter(|i| expected_code(&format!("lv-{i:08}")) == 11350)
        .count();
    assert_eq!(second_run["to_fetch"], (IDS - 700 + held) as i64);
}

#[test]
fn killed_while_registering_the_rerun_keeps_every_answer_and_completes() {
    // At most a queue of 1,152 ids and two chunks are registered ahead of the requests.
    const IDS: usize = 4000;
    let env = Env::with_latency(20).ids(IDS);
    let mut child = env.fetch("ids.csv").quick().concurrency(4).spawn();
    env.rt.block_on(env.mock.wait_for_requests(40));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The registration keeps about a chunk ahead of the requests: it had not finished.
    let before = env.checks();
    assert!(
        (40..IDS).contains(&before.len()),
        "{} ids registered at the kill",
        before.len()
    );
    let answered: Vec<_> = before.iter().filter(|c| c.1 == "done").cloned().collect();
    assert!(!answered.is_empty(), "something was committed");
    let outcome: String = env.one("SELECT outcome FROM runs");
    assert_eq!(outcome, "running", "a killed run records no end");

    let run = env
        .fetch("ids.csv")
        .quick()
        .flag("--concurrency", "32")
        .run();
    run.expect(0);
    env.assert_all_match_mock();
    assert_eq!(env.checks().len(), IDS);
    // Nothing fetched was lost: every answer stored before the kill is still there, and only
    // the ids in flight at the kill (or held at 11350) were asked again.
    let after = env.checks();
    for (id, _, code) in &answered {
        assert!(after.iter().any(|c| &c.0 == id && &c.2 == code), "{id}");
    }
    let reasked = env.final_asked_again();
    assert!(reasked <= 8, "{reasked} ids asked again");
}
