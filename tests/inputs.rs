//! Inputs as users' tools write them (tests/data/inputs, made by make.py there): each registers
//! exactly its ids and times; every refused input exits 2 with nothing sent and the database
//! unchanged; no control byte from an input reaches the terminal.

use crate::util;

use std::io::Write;
use std::path::{Path, PathBuf};

use util::Env;

/// The checks every fixture lists, with their times (written in Asia/Jakarta).
const WANT: [(&str, i64); 4] = [
    ("123456789012345", 1_793_120_400_000),
    ("a869ed0c-0001", 1_792_998_306_000),
    ("a869ed0c-0002", 1_793_066_400_000),
    ("a869ed0c-0004", 1_793_465_999_500),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/inputs")
        .join(name)
}

/// (liveness_id, event_time, time_basis, status) of every check.
fn dated(env: &Env) -> Vec<(String, Option<i64>, Option<String>, String)> {
    let conn = env.conn();
    let mut stmt = conn
        .prepare(
            "SELECT liveness_id, event_time, time_basis, status FROM checks ORDER BY liveness_id",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn fetch_args<'a>(file: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["fetch", "--rate", "0", "--input-tz", "Asia/Jakarta"];
    args.extend_from_slice(extra);
    args.push(file);
    args
}

#[test]
fn every_real_file_registers_exactly_its_ids_and_times() {
    for (name, announced) in [
        ("semicolon.csv", "delimiter ';' (detected)"),
        ("pipe.csv", "delimiter '|' (detected)"),
        ("tab.tsv", "delimiter tab (.tsv file)"),
        (
            "excel_unicode.txt",
            "UTF-16LE text (BOM), delimiter tab (detected)",
        ),
        ("comma.csv.gz", "UTF-8 text, gzip, delimiter ',' (detected)"),
        (
            "comma.csv.zst",
            "UTF-8 text, zstd, delimiter ',' (detected)",
        ),
        ("book.xlsx", "workbook, sheet \"Checks\" (first of 2)"),
        ("offset.xlsx", "workbook, sheet \"Sheet\" (first of 1)"),
        ("legacy.xls", "workbook, sheet \"Checks\" (first of 1)"),
        ("calc.ods", "workbook, sheet \"Checks\" (first of 1)"),
    ] {
        let env = Env::plain();
        let path = fixture(name);
        let run = env.run(&fetch_args(path.to_str().unwrap(), &[]));
        run.expect(0);
        assert!(run.stderr.contains(announced), "{name}: {}", run.stderr);
        let got = dated(&env);
        let want: Vec<_> = WANT
            .iter()
            .map(|(id, t)| (id.to_string(), Some(*t), None, "done".to_string()))
            .collect();
        assert_eq!(got, want, "{name}");
        assert_eq!(env.mock.stats().result_requests, 4, "{name}");
        env.assert_all_match_mock();
    }
}

#[test]
fn workbook_rows_keep_the_sheets_numbers() {
    let env = Env::plain();
    let book = fixture("offset.xlsx");
    env.run(&fetch_args(book.to_str().unwrap(), &[])).expect(0);
    let conn = env.conn();
    let sources: Vec<String> = conn
        .prepare("SELECT source FROM checks ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let lines: Vec<&str> = sources
        .iter()
        .map(|s| s.rsplit(':').next().unwrap())
        .collect();
    assert_eq!(lines, ["4", "5", "7", "8"]);
}

#[test]
fn a_named_sheet_and_a_folder_are_read() {
    let env = Env::plain();
    let book = fixture("book.xlsx");
    env.run(&fetch_args(book.to_str().unwrap(), &["--sheet", "Other"]))
        .expect(0);
    assert_eq!(dated(&env).len(), 1);
    assert_eq!(dated(&env)[0].0, "b000000-other");
    let run = env.run(&fetch_args(book.to_str().unwrap(), &["--sheet", "Nope"]));
    run.expect(2);
    run.stderr_has("no sheet \"Nope\" (sheets: Checks, Other)");

    let env = Env::plain();
    let folder = fixture("folder");
    let run = env.run(&fetch_args(folder.to_str().unwrap(), &[]));
    run.expect(0);
    run.stderr_has("skipped 1: README.md");
    let conn = env.conn();
    let sources: Vec<(String, String, i64)> = conn
        .prepare("SELECT liveness_id, source, event_time FROM checks ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0].0, "f-0001");
    assert!(
        sources[0].1.ends_with("a_first.tsv.gz:2"),
        "{:?}",
        sources[0]
    );
    assert_eq!(sources[0].2, 1_790_812_800_000);
    assert_eq!(sources[1].0, "f-0002");
    assert_eq!(sources[1].2, 1_790_899_200_000);
}

#[test]
fn refused_inputs_send_nothing_change_nothing_and_echo_no_control_byte() {
    let env = Env::plain();
    env.write("good.csv", "liveness_id\nlv-00000001\nlv-00000002\n");
    env.run(&["fetch", "--rate", "0", "good.csv"]).expect(0);
    let before = dated(&env);
    let requests = env.mock.stats().result_requests;

    let utf16_no_bom: Vec<u8> = "liveness_id\r\nlv-00000003\r\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let all_bytes: Vec<u8> = (0..=255).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"liveness_id\nab\x1b]0;title\x07cd\n")
        .unwrap();
    let gz_esc = gz.finish().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "headerless_semicolons.csv",
            b"a869ed01;2026-10-13T11:25:06+08:00\na869ed02;2026-10-13T11:26:06+08:00\n".to_vec(),
            "no id column in the header",
        ),
        (
            "esc.csv",
            b"liveness_id\nlv-1\nab\x1b[2Jcd\n".to_vec(),
            "esc.csv:3: the id \"ab\\u{1b}[2Jcd\" holds a control or invisible character",
        ),
        (
            "nul.csv",
            b"liveness_id\nlv-1\nab\x00cd\n".to_vec(),
            "binary data",
        ),
        (
            "space.csv",
            b"liveness_id\nab cd\n".to_vec(),
            "whitespace inside",
        ),
        (
            "pipe_in_id.csv",
            b"liveness_id\nab|cd\n".to_vec(),
            "holds a delimiter character ('|' at character 3)",
        ),
        ("bytes.csv", all_bytes, "this looks like binary data"),
        (
            "utf16.csv",
            utf16_no_bom,
            "this looks like UTF-16 (little-endian) without a byte-order mark",
        ),
        ("esc.csv.gz", gz_esc, "\\u{1b}]0;title\\u{7}cd"),
        (
            "bzip2.csv",
            b"BZh91AY&SY\x00\x01".to_vec(),
            "this looks like a bzip2 file",
        ),
        (
            "quote.csv",
            b"liveness_id,note\nlv-00000010,\"open\nlv-00000011,x\nlv-00000012,y\"\n".to_vec(),
            "quote.csv:2: a field runs over several lines",
        ),
        (
            "dmy.csv",
            b"liveness_id,created_at\nlv-00000020,26/10/2026 14:05\nlv-00000021,27/10/2026 09:00\n"
                .to_vec(),
            "2 time(s) could not be read, e.g. ",
        ),
        (
            "lost_digits.xlsx",
            std::fs::read(fixture("lost_digits.xlsx")).unwrap(),
            "lost_digits.xlsx:3: the id is the number 1234567890123456",
        ),
        (
            "one_column_quote.csv",
            b"liveness_id\nlv-00000031\n\"abc\nrow2\n".to_vec(),
            "one_column_quote.csv:3: a field runs over several lines and holds what looks like \
             further rows (\"row2\")",
        ),
        (
            "excel.csv",
            b"liveness_id,created_at\nlv-00000030,2026-10-05\n1.23457E+17,2026-10-05\n".to_vec(),
            "excel.csv:3: the id \"1.23457E+17\" is a number in scientific notation, not an id; \
             Excel turned a long number into scientific notation; format the column as Text and \
             export again",
        ),
        (
            "pandas.csv",
            b"liveness_id\n123456789012345678.0\n".to_vec(),
            "pandas.csv:2: the id \"123456789012345678.0\" is a whole number written with a \
             decimal point",
        ),
        (
            "fraction.xlsx",
            fraction_workbook(),
            "fraction.xlsx:3 (cell A3): the id \"12.5\" is a number with a fraction in the workbook",
        ),
    ];
    for (name, content, message) in &cases {
        env.write(name, content);
        let run = env.run(&["fetch", "--rate", "0", name]);
        run.expect(2);
        assert!(run.stderr.contains(message), "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains("nothing was sent"),
            "{name}: {}",
            run.stderr
        );
        for text in [&run.stdout, &run.stderr] {
            assert!(
                !text.bytes().any(|b| b < 0x20 && b != b'\n'),
                "{name}: a control byte reached the terminal: {text:?}"
            );
        }
        assert_eq!(env.mock.stats().result_requests, requests, "{name}");
        assert_eq!(dated(&env), before, "{name}");
    }
    // The suggestion for day-first times, and a workbook piped in.
    let run = env.run(&["fetch", "dmy.csv"]);
    assert!(
        run.stderr.contains("--time-format '%d/%m/%Y %H:%M'") && run.stderr.contains("dmy.csv:2"),
        "{}",
        run.stderr
    );
    let run = util::Run::from(
        env.cmd()
            .args(["fetch", "-"])
            .stdin(std::fs::File::open(fixture("book.xlsx")).unwrap())
            .output()
            .unwrap(),
    );
    run.expect(2);
    run.stderr_has("read from a stream");
    assert_eq!(env.mock.stats().result_requests, requests);
}

#[test]
fn unreadable_times_are_read_with_a_format_or_dated_by_fetch_time_when_asked() {
    let env = Env::plain();
    env.write(
        "dmy.csv",
        "liveness_id,created_at\nlv-00000020,26/10/2026 14:05\nlv-00000021,2026-10-27T02:00:00Z\n",
    );
    env.run(&fetch_args("dmy.csv", &["--time-format", "%d/%m/%Y %H:%M"]))
        .expect(0);
    let got = dated(&env);
    assert_eq!(got[0].1, Some(1_792_998_300_000));
    assert_eq!(got[1].1, Some(1_793_066_400_000));

    let env = Env::plain();
    env.write(
        "dmy.csv",
        "liveness_id,created_at\nlv-00000020,26/10/2026 14:05\nlv-00000021,2026-10-27T02:00:00Z\n",
    );
    let run = env.ok("fetch --rate 0 --bad-times fetch-time dmy.csv");
    run.stderr_has("1 checks with an unreadable time are dated by their fetch time");
    let conn = env.conn();
    let (basis, event, fetched, attrs): (Option<String>, Option<i64>, Option<i64>, String) = conn
        .query_row(
            "SELECT time_basis, event_time, fetched_at, attrs FROM checks
             WHERE liveness_id = 'lv-00000020'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(basis.as_deref(), Some("fetch"));
    assert!(fetched.is_some());
    assert_eq!(event, fetched);
    assert!(attrs.contains("26/10/2026 14:05"), "{attrs}");
    let (basis, event): (Option<String>, Option<i64>) = conn
        .query_row(
            "SELECT time_basis, event_time FROM checks WHERE liveness_id = 'lv-00000021'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((basis, event), (None, Some(1_793_066_400_000)));
    let run = env.run(&["export", "--format", "jsonl"]);
    run.expect(0);
    let bases: Vec<String> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["time_basis"].to_string())
        .collect();
    assert_eq!(bases, ["\"fetch\"", "\"input\""]);
    let bad: i64 = conn
        .query_row(
            "SELECT bad_times FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bad, 1);
}

/// bash running liveaudit with the test environment.
fn bash(env: &Env, script: &str) -> util::Run {
    let bin = assert_cmd::cargo::cargo_bin("liveaudit");
    let base = env.cmd();
    let mut cmd = std::process::Command::new("bash");
    cmd.current_dir(env.dir.path())
        .env("LIVEAUDIT", bin)
        .args(["-c", script]);
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    util::Run::from(cmd.output().unwrap())
}

#[test]
fn fifos_and_process_substitution_read_like_stdin() {
    let env = Env::plain();
    bash(
        &env,
        "\"$LIVEAUDIT\" fetch --rate 0 <(printf 'liveness_id;created_at\\nps-0001;2026-10-01\\n')",
    )
    .expect(0);
    bash(
        &env,
        "mkfifo ids.fifo && (printf 'fifo-0001\\nfifo-0002\\n' > ids.fifo &) && \
         \"$LIVEAUDIT\" fetch --rate 0 ids.fifo",
    )
    .expect(0);
    let ids: Vec<String> = dated(&env).into_iter().map(|c| c.0).collect();
    assert_eq!(ids, ["fifo-0001", "fifo-0002", "ps-0001"]);
}

#[test]
fn a_signal_during_intake_ends_the_run_record_and_registers_nothing() {
    let env = Env::plain();
    let mut child = env.spawn(&["fetch", "--rate", "0", "-"]);
    let mut stdin = child.stdin.take().unwrap();
    let mut block = String::from("liveness_id\n");
    for i in 0..20_000 {
        block.push_str(&format!("sig-{i:08}\n"));
    }
    // Writing far more than a pipe holds returns only once liveaudit is reading: its intake
    // (and the signal handler installed before it) is under way.
    stdin.write_all(block.as_bytes()).unwrap();
    stdin.write_all(block.as_bytes()).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Rows keep coming until liveaudit stops reading and exits (the pipe then breaks).
    while stdin.write_all(block.as_bytes()).is_ok() {}
    drop(stdin);
    let run = util::Run::from(child.wait_with_output().unwrap());
    run.expect(130);
    run.stderr_has("interrupted while reading the input");
    let outcome: String = env.one("SELECT outcome FROM runs");
    assert_eq!(outcome, "interrupted");
    assert!(dated(&env).is_empty());
    assert_eq!(env.mock.stats().result_requests, 0);
}

/// A workbook whose id column holds a number with a fraction on sheet row 3.
fn fraction_workbook() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "liveness_id").unwrap();
    sheet.write_string(1, 0, "lv-00000040").unwrap();
    sheet.write_number(2, 0, 12.5).unwrap();
    book.save_to_buffer().unwrap()
}

#[test]
fn conflicting_duplicates_are_warned_about_and_an_ambiguous_header_is_refused() {
    let env = Env::plain();
    env.write(
        "a.csv",
        "liveness_id,created_at\nlv-00000050,2025-10-05\nlv-00000051,2025-10-05\n",
    );
    env.write("b.csv", "liveness_id,created_at\nlv-00000050,2026-10-05\n");
    let run = env.run(&["fetch", "--rate", "0", "a.csv", "b.csv"]);
    run.expect(0);
    assert!(
        run.stderr
            .contains("ids listed more than once with a different event time")
            && run.stderr.contains("count=1")
            && run.stderr.contains(
                "b.csv:2: \"lv-00000050\" first listed at a.csv:2, again with event time \
                 2026-10-05T00:00:00Z (kept: 2025-10-05T00:00:00Z)"
            ),
        "{}",
        run.stderr
    );
    assert_eq!(env.mock.stats().result_requests, 2);

    env.write(
        "twice.csv",
        "liveness_id,note,liveness_id\nlv-00000060,x,lv-00000061\n",
    );
    let run = env.run(&["fetch", "--rate", "0", "twice.csv"]);
    run.expect(2);
    run.stderr_has(
        "twice.csv:1: several columns could be the id column: \"liveness_id\" (column 1), \
             \"liveness_id\" (column 3)",
    );
    assert_eq!(env.mock.stats().result_requests, 2);
}
