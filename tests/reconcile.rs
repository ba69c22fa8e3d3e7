//! Reconcile end to end: a database filled by the real fetch against the mock, hand-made
//! statements of both shapes, and the exact contents of every bucket.

use crate::util;

use liveaudit::mock::expected_code;
use util::{Env, words};

/// The first `n` ids of the form `rc-00000042` whose mock code satisfies `want`.
pub(crate) fn ids_with(n: usize, skip: &[String], want: impl Fn(i64) -> bool) -> Vec<String> {
    (0..)
        .map(|i| format!("rc-{i:08}"))
        .filter(|id| want(expected_code(id)) && !skip.contains(id))
        .take(n)
        .collect()
}

pub(crate) struct Fixture {
    pub(crate) env: Env,
    pub(crate) charged: Vec<String>,
    pub(crate) uncharged: String,
    pub(crate) unknown_code: String,
    pub(crate) internal: String,
    pub(crate) near_end: String,
    pub(crate) next_day: String,
}

/// Checks in October 2026; the vendor bills by Singapore day.
pub(crate) fn fixture() -> Fixture {
    let env = Env::plain();
    let charged = ids_with(4, &[], |c| c == 200 || (12202..=12222).contains(&c));
    let uncharged = ids_with(1, &[], |c| c == 11340).remove(0);
    let unknown_code = ids_with(1, &[], |c| c == 12299).remove(0);
    let internal = ids_with(1, &[], |c| c == 11350).remove(0);
    let near_end = ids_with(1, &charged, |c| c == 200).remove(0);
    let next_day = ids_with(2, &charged, |c| c == 200).remove(1);
    let mut csv = String::from("liveness_id,created_at,channel\n");
    for (i, id) in charged.iter().enumerate() {
        csv.push_str(&format!("{id},2026-10-0{}T10:00:00Z,web\n", i + 2));
    }
    csv.push_str(&format!("{uncharged},2026-10-07T10:00:00Z,web\n"));
    csv.push_str(&format!("{unknown_code},2026-10-08T10:00:00Z,web\n"));
    csv.push_str(&format!("{internal},2026-10-09T10:00:00Z,web\n"));
    // 22:00 in Singapore on the 31st: inside October there, 8 hours from its end.
    csv.push_str(&format!("{near_end},2026-10-31T14:00:00Z,web\n"));
    // 04:00 on 1 November in Singapore, though still 31 October in UTC.
    csv.push_str(&format!("{next_day},2026-10-31T20:00:00Z,web\n"));
    env.write("ids.csv", csv);
    env.fetch("ids.csv").backoff(50).unlimited().run().expect(0);
    Fixture {
        env,
        charged,
        uncharged,
        unknown_code,
        internal,
        near_end,
        next_day,
    }
}

impl Fixture {
    /// Dates the last answer of our 11350 check inside October (2026-10-09T10:00Z), as if it
    /// was not asked again since.
    pub(crate) fn internal_last_asked_in_october(&self) {
        self.env
            .conn()
            .execute(
                "UPDATE checks SET fetched_at = 1791540000000 WHERE liveness_id = ?1",
                [&self.internal],
            )
            .unwrap();
    }

    /// Reconciles `statement` (written as statement.csv) in Singapore at 0.035 a check, as
    /// JSON, asserting exit 5 (differences found).
    pub(crate) fn reconcile_json(&self, statement: &str) -> serde_json::Value {
        self.env.write("statement.csv", statement);
        let run = self.env.run_line(
            "reconcile --statement statement.csv --tz Asia/Singapore --price 0.035 --format json",
        );
        run.expect(5);
        run.json()
    }
}

/// The count in reconcile's bucket `name` (0 when the JSON has no such bucket).
pub(crate) fn bucket_count(v: &serde_json::Value, name: &str) -> u64 {
    v["buckets"][name]["count"].as_u64().unwrap_or(0)
}

pub(crate) fn sequence_id(env: &Env, id: &str) -> String {
    env.conn()
        .query_row(
            "SELECT sequence_id FROM checks WHERE liveness_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
}

fn details(env: &Env) -> Vec<(String, String, String)> {
    let mut r = csv::Reader::from_path(env.path("details.csv")).unwrap();
    r.records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string(), r[2].to_string())
        })
        .collect()
}

#[test]
fn itemised_statement_sorts_every_line_into_its_bucket() {
    let f = fixture();
    let c = &f.charged;
    let seq3 = sequence_id(&f.env, &c[3]);
    let statement = format!(
        "billed_at,liveness_id,sequence_id,code,amount\n\
         2026-10-02T10:00:00Z,{a},,200,0.035\n\
         2026-10-02T10:00:00Z,{a},,200,0.035\n\
         2026-10-03T10:00:00Z,{b},,,0.05\n\
         2026-10-04T10:00:00Z,{cc},,,0.035\n\
         2026-10-05T10:00:00Z,,{seq3},,0.035\n\
         2026-10-07T10:00:00Z,{u},,,0.035\n\
         2026-10-08T10:00:00Z,{k},,,0.035\n\
         2026-10-09T10:00:00Z,{i},,,0.035\n\
         2026-10-10T10:00:00Z,nobody-we-know,,,0.035\n\
         yesterday,{a},,,0.035\n",
        a = c[0],
        b = c[1],
        cc = c[2],
        u = f.uncharged,
        k = f.unknown_code,
        i = f.internal,
    );
    f.env.write("statement.csv", statement);
    let run = f.env.run_line("reconcile --statement statement.csv --tz Asia/Singapore --from 2026-10-01 --to 2026-10-31 --price 0.035 --details details.csv --format json");
    run.expect(5);
    let v = run.json();
    let count = |b: &str| v["buckets"][b]["count"].as_u64().unwrap_or(0);
    assert_eq!(
        count("matched"),
        4,
        "a, b, c, and the fourth by sequence id"
    );
    assert_eq!(count("duplicate"), 1);
    assert_eq!(count("overbilled"), 1);
    assert_eq!(count("unknown_code"), 1);
    // The check we hold at 11350 (no longer "unresolved"), fetched after October: confirmed.
    assert_eq!(count("provisional_confirmed"), 1);
    assert_eq!(count("unresolved"), 0);
    assert_eq!(count("unknown_to_us"), 1);
    assert_eq!(count("amount_variance"), 1);
    assert_eq!(
        count("underbilled"),
        1,
        "only the check inside the Singapore month"
    );
    assert_eq!(v["malformed"][0]["line"], 11);
    assert!(
        v["malformed"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("yesterday")
    );
    assert_eq!(v["lines"], 9);
    assert_eq!(v["our_charged"], 5, "four, plus the one late on the 31st");
    // The nine lines read, and the line dated "yesterday", which is billed all the same.
    assert_eq!(v["billed_amount"], "0.365");

    let d = details(&f.env);
    let expected: Vec<(String, String, String)> = vec![
        ("duplicate", "3", c[0].as_str()),
        ("above_price", "4", c[1].as_str()),
        ("amount_variance", "4", c[1].as_str()),
        ("overbilled", "7", f.uncharged.as_str()),
        ("unknown_code", "8", f.unknown_code.as_str()),
        ("provisional_confirmed", "9", f.internal.as_str()),
        ("unknown_to_us", "10", "nobody-we-know"),
        ("underbilled", "", f.near_end.as_str()),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(d, expected);
    let underbilled_note = &v["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["bucket"] == "underbilled")
        .unwrap()["note"];
    assert!(
        underbilled_note.as_str().unwrap().contains("period end"),
        "{underbilled_note}"
    );
    assert!(
        d.iter().all(|r| r.2 != f.next_day),
        "the next Singapore day is not October"
    );
}

#[test]
fn a_statement_that_matches_exits_0() {
    let f = fixture();
    let mut statement = String::from("date,liveness_id\n");
    for id in f.charged.iter().chain([&f.near_end]) {
        statement.push_str(&format!("2026-10-15,{id}\n"));
    }
    f.env.write("statement.csv", statement);
    let v = f.env.json("reconcile --statement statement.csv --tz Asia/Singapore --from 2026-10-01 --to 2026-10-31 --format json");
    assert_eq!(v["discrepancies"], 0);
    assert_eq!(v["buckets"]["matched"]["count"], 5);
}

#[test]
fn summary_statement_is_compared_per_period() {
    let f = fixture();
    // Our October (Singapore) has 5 charged checks; November has 1.
    f.env.write(
        "summary.csv",
        "month,checks,amount\n2026-10,5,0.175\n2026-11,3,0.105\n",
    );
    let run = f.env.run_line(
        "reconcile --statement summary.csv --tz Asia/Singapore --price 0.035 --format json",
    );
    run.expect(5);
    let v = run.json();
    assert_eq!(v["shape"], "summary");
    let periods = v["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 2);
    assert_eq!(
        (
            periods[0]["period"].as_str(),
            periods[0]["billed"].as_i64(),
            periods[0]["ours"].as_i64()
        ),
        (Some("2026-10"), Some(5), Some(5))
    );
    assert_eq!(
        (
            periods[1]["billed"].as_i64(),
            periods[1]["ours"].as_i64(),
            periods[1]["difference"].as_i64()
        ),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!(periods[1]["amount_difference"], "0.070");
    assert_eq!(v["buckets"]["period_difference"]["count"], 1);

    // In UTC the late check moves back into October: the same statement now differs there.
    let run = f
        .env
        .run_line("reconcile --statement summary.csv --format json");
    run.expect(5);
    let v = run.json();
    assert_eq!(v["periods"][0]["ours"], 6);
}

#[test]
fn an_empty_statement_bills_nothing() {
    let f = fixture();
    f.env.write("empty.csv", "");
    let run = f.env.run_line("reconcile --statement empty.csv --tz Asia/Singapore --from 2026-10-01 --to 2026-10-31 --format json");
    run.expect(5);
    let v = run.json();
    assert_eq!(v["lines"], 0);
    assert_eq!(v["buckets"]["underbilled"]["count"], 5);

    f.env.write("header-only.csv", "liveness_id,billed_at\n");
    let run = f
        .env
        .run_line("reconcile --statement header-only.csv --format json");
    run.expect(0);
    let v = run.json();
    assert!(v["notes"][0].as_str().unwrap().contains("no times"), "{v}");
}

#[test]
fn a_statement_of_unknown_shape_is_a_usage_error() {
    let f = fixture();
    f.env.write("odd.csv", "foo,bar\n1,2\n");
    let run = f.env.run(&["reconcile", "--statement", "odd.csv"]);
    run.expect(2);
    run.stderr_has("--statement-id-column");
}

/// Guards that lines dated outside the period, and time-zone shifts, are bucketed so the
/// buckets explain the net difference.
#[test]
fn reconcile_adds_up_with_outside_lines_and_time_zone_shifts() {
    let f = fixture();
    let c = &f.charged;
    let statement = format!(
        "billed_at,liveness_id\n\
         2026-10-02T10:00:00Z,{a}\n\
         2026-11-01T01:00:00+08:00,{near_end}\n\
         2026-10-31T23:00:00+08:00,{next_day}\n\
         2026-09-20T10:00:00Z,{b}\n\
         2026-09-15T00:00:00Z,nobody-we-know\n",
        a = c[0],
        b = c[1],
        near_end = f.near_end,
        next_day = f.next_day,
    );
    f.env.write("statement.csv", statement);
    let args = words(
        "reconcile --statement statement.csv --tz Asia/Singapore --from 2026-10-01 --to 2026-10-31 --price 0.035 --format json",
    );
    let run = f.env.run(&args);
    run.expect(5);
    let v = run.json();
    let count = |b: &str| v["buckets"][b]["count"].as_i64().unwrap_or(0);
    assert_eq!(v["lines"], 2, "only the lines dated in the period");
    assert_eq!(v["our_charged"], 5);
    assert_eq!(v["net_difference"], -3);
    assert_eq!(count("matched"), 1);
    assert_eq!(
        count("shifted_out"),
        1,
        "ours on the 31st, billed on 1 November"
    );
    assert_eq!(
        count("shifted_in"),
        1,
        "billed on the 31st, ours on 1 November"
    );
    assert_eq!(count("underbilled"), 3);
    assert_eq!(count("outside_period"), 2);
    assert!(count("matched") <= v["our_charged"].as_i64().unwrap());
    let explained: i64 = v["buckets"]
        .as_object()
        .unwrap()
        .values()
        .filter(|b| b["overlaps"] == false)
        .map(|b| b["effect"].as_i64().unwrap() * b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(explained, v["net_difference"].as_i64().unwrap());
    let shifted = v["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["bucket"] == "shifted_out")
        .unwrap();
    assert_eq!(shifted["liveness_id"], f.near_end.as_str());
    assert_eq!(shifted["line"], 3);
    // Times in the report's zone, as billing shows them.
    assert_eq!(shifted["statement_time"], "2026-11-01T01:00:00+08:00");
    assert_eq!(shifted["our_time"], "2026-10-31T22:00:00+08:00");
    let mut table = args[..args.len() - 2].to_vec();
    table.extend(["--format", "table"]);
    let text = f.env.run(&table);
    text.stdout_has("time (Asia/Singapore)");
    text.stdout_has("2026-10-31T22:00:00+08:00");

    // Our side is billing's charged for the same window.
    let b = f
        .env
        .json("report billing --tz Asia/Singapore --from 2026-10-01 --to 2026-10-31 --format json");
    assert_eq!(b["totals"]["charged"], v["our_charged"]);

    // The summary table as CSV carries the same identity for a spreadsheet.
    let mut csv_args = args[..args.len() - 2].to_vec();
    csv_args.extend(["--output", "tables/"]);
    f.env.run(&csv_args).expect(5);
    let mut reader = csv::Reader::from_path(f.env.path("tables/summary.csv")).unwrap();
    let from_csv: i64 = reader
        .records()
        .map(Result::unwrap)
        .filter(|r| &r[4] == "false")
        .map(|r| r[2].parse::<i64>().unwrap() * r[1].parse::<i64>().unwrap())
        .sum();
    assert_eq!(from_csv, -3);
    assert!(f.env.path("tables/discrepancies.csv").exists());

    // The printed headline says the same identity in words.
    let mut table = args.to_vec();
    table.pop();
    table.push("table");
    let run = f.env.run(&table);
    run.expect(5);
    run.stdout_has("net difference -3 = 1 shifted_in - 3 underbilled - 1 shifted_out");
}

/// Guards that billing and reconcile both name 11350 checks provisional (a part of uncharged).
#[test]
fn billing_and_reconcile_both_call_11350_provisional() {
    let f = fixture();
    let run = f.env.run(&["report", "billing", "--format", "json"]);
    run.expect(0);
    let v = run.json();
    assert_eq!(v["totals"]["provisional"], 1);
    assert_eq!(
        v["totals"]["uncharged"], 2,
        "11340, and 11350 as its named part"
    );
    assert_eq!(v["totals"]["unresolved"], 0);
    let run = f.env.run(&["report", "billing", "--format", "table"]);
    run.stdout_has("of which provisional (11350)");

    f.env.write(
        "statement.csv",
        format!(
            "billed_at,liveness_id\n2026-10-09T10:00:00Z,{}\n",
            f.internal
        ),
    );
    let run = f
        .env
        .run_line("reconcile --statement statement.csv --format json");
    run.expect(5);
    let v = run.json();
    // Fetched after the statement's one day: the 11350 is confirmed.
    assert_eq!(v["buckets"]["provisional_confirmed"]["count"], 1);
    assert!(v["buckets"].get("unresolved").is_none());
}

/// Guards that the billing day is one setting (flag, LIVEAUDIT_TZ, config key `tz`) that
/// billing and reconcile both follow.
#[test]
fn one_tz_setting_serves_billing_and_reconcile() {
    let f = fixture();
    let charged = |extra: &[(&str, &str)], args: &[&str]| -> serde_json::Value {
        let mut cmd = f.env.cmd();
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.args(args).output().unwrap();
        assert!(out.status.success() || out.status.code() == Some(5));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let billing = words("report billing --from 2026-10-01 --to 2026-10-31 --format json");
    // In UTC the check of 1 November 04:00 Singapore is still October.
    assert_eq!(charged(&[], &billing)["totals"]["charged"], 6);
    let env = [("LIVEAUDIT_TZ", "Asia/Singapore")];
    assert_eq!(charged(&env, &billing)["totals"]["charged"], 5);
    f.env.write("liveaudit.toml", "tz = \"Asia/Singapore\"\n");
    let from_file = charged(&[], &billing);
    assert_eq!(from_file["totals"]["charged"], 5);
    assert_eq!(from_file["basis"]["zone"], "Asia/Singapore");
    // The flag wins over the file.
    let mut utc = billing.to_vec();
    utc.extend(["--tz", "UTC"]);
    assert_eq!(charged(&[], &utc)["totals"]["charged"], 6);

    f.env.write("statement.csv", "billed_at,liveness_id\n");
    let r = charged(
        &[],
        &words(
            "reconcile --statement statement.csv --from 2026-10-01 --to 2026-10-31 --format json",
        ),
    );
    assert_eq!(r["zone"], "Asia/Singapore");
    assert_eq!(r["our_charged"], 5);
}

/// Amounts as European statements write them are read exactly, and a damaged cell or a price
/// typed with too many digits is an input error, never an overflow panic.
#[test]
fn decimal_commas_are_read_and_damaged_amounts_never_panic() {
    let f = fixture();
    let c = &f.charged;
    let statement = format!(
        "billed_at,liveness_id,amount\n\
         2026-10-02T10:00:00Z,{a},\"0,035\"\n\
         2026-10-03T10:00:00Z,{b},79228162514264337593543950335\n\
         2026-10-04T10:00:00Z,{cc},79228162514264337593543950335\n",
        a = c[0],
        b = c[1],
        cc = c[2],
    );
    let v = f.reconcile_json(&statement);
    assert_eq!(
        bucket_count(&v, "amount_variance"),
        0,
        "0,035 is 0.035: {v}"
    );
    let malformed = v["malformed"].as_array().unwrap();
    assert_eq!(malformed.len(), 2, "{v}");
    assert!(malformed[0]["problem"].as_str().unwrap().contains("amount"));

    for args in [
        vec!["report", "billing", "--price", "99999999999999999999999999"],
        vec!["report", "billing", "--price", "1e3"],
        vec![
            "reconcile",
            "--statement",
            "statement.csv",
            "--price",
            "79228162514264337593543950",
        ],
    ] {
        let run = f.env.run(&args);
        run.expect(2);
        assert!(
            run.stderr.contains("is not a price"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

/// Guards a statement saved through Excel: sequence ids in scientific notation (`2.12011E+18`)
/// match no check, and read as they are they made every line "unknown to us" (disputed) and
/// every check "underbilled"; each such line is malformed instead, saying what Excel did, and
/// nothing is disputed.
#[test]
fn sequence_ids_a_spreadsheet_turned_into_scientific_notation_are_malformed_not_disputed() {
    let f = fixture();
    let mut statement = String::from("billed_at,sequence_id,amount\n");
    // What Excel shows for a 19-digit number, whatever the sequence id was.
    for i in 0..f.charged.len() {
        statement.push_str(&format!("2026-10-0{}T10:00:00Z,2.12011E+18,0.035\n", i + 2));
    }
    let v = f.reconcile_json(&statement);
    assert_eq!(bucket_count(&v, "unknown_to_us"), 0, "{v}");
    let malformed = v["malformed"].as_array().unwrap();
    assert_eq!(malformed.len(), f.charged.len(), "{v}");
    let problem = malformed[0]["problem"].as_str().unwrap();
    assert!(
        problem.contains("sequence id \"2.12011E+18\" is a number in scientific notation")
            && problem.contains("Excel"),
        "{problem}"
    );
}

/// A statement line is outside text: the `--details` file and the CSV discrepancies table
/// neutralise a formula in it, and `--raw-cells` keeps it as written.
#[test]
fn a_formula_in_a_statement_line_never_reaches_a_csv_cell() {
    let f = fixture();
    f.env.write(
        "statement.csv",
        format!(
            "billed_at,liveness_id,sequence_id,code,amount\n\
             2026-10-02T10:00:00Z,{a},,200,0.035\n\
             2026-10-10T10:00:00Z,\"=HYPERLINK(\"\"x\"\")\",,,0.035\n",
            a = f.charged[0]
        ),
    );
    let run_with = |extra: &[&str]| {
        let mut args = words(
            "reconcile --statement statement.csv --from 2026-10-01 --to 2026-10-31 --price 0.035 \
             --details details.csv --format csv --table discrepancies",
        );
        args.extend_from_slice(extra);
        let run = f.env.run(&args);
        run.expect(5);
        let details = std::fs::read_to_string(f.env.path("details.csv")).unwrap();
        (run.stdout.clone(), details)
    };
    let (table, details) = run_with(&[]);
    for (what, text) in [("table", &table), ("details", &details)] {
        let cells: Vec<String> = csv::Reader::from_reader(text.as_bytes())
            .records()
            .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
            .collect();
        assert!(
            cells.iter().any(|c| c == "'=HYPERLINK(\"x\")"),
            "{what}: {text}"
        );
        assert!(!cells.iter().any(|c| c.starts_with('=')), "{what}: {text}");
    }
    let (table, details) = run_with(&["--raw-cells"]);
    assert!(table.contains(",\"=HYPERLINK(\"\"x\"\")\","), "{table}");
    assert!(details.contains(",\"=HYPERLINK(\"\"x\"\")\","), "{details}");
}

/// A statement is read as leniently as an id list: `;` with decimal commas, Excel's "Unicode
/// text" (UTF-16LE with a BOM, tab-separated) and gzip all give the comma-separated result; a
/// file that is no statement is named without its raw bytes.
#[test]
fn statements_in_any_saved_form_reconcile_alike() {
    use std::io::Write;
    let f = fixture();
    let c = &f.charged;
    let lines = [
        ("billed_at", "liveness_id", "amount"),
        ("2026-10-02T10:00:00Z", c[0].as_str(), "0.035"),
        ("2026-10-03T10:00:00Z", c[1].as_str(), "0.05"),
        ("2026-10-10T10:00:00Z", "nobody-we-know", "0.035"),
    ];
    let joined = |sep: &str, comma: bool| -> String {
        lines
            .iter()
            .map(|(t, id, a)| {
                let a = if comma {
                    a.replace('.', ",")
                } else {
                    a.to_string()
                };
                format!("{t}{sep}{id}{sep}{a}\r\n")
            })
            .collect()
    };
    f.env.write("comma.csv", joined(",", false));
    f.env.write("semicolon.csv", joined(";", true));
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(
        joined("\t", false)
            .encode_utf16()
            .flat_map(u16::to_le_bytes),
    );
    f.env.write("unicode.txt", utf16);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(joined(",", false).as_bytes()).unwrap();
    f.env.write("statement.csv.gz", gz.finish().unwrap());
    let buckets = |file: &str| {
        let run = f.env.run_line(&format!(
            "reconcile --statement {file} --from 2026-10-01 --to 2026-10-31 --price 0.035 --format json"
        ));
        run.expect(5);
        let v = run.json();
        (v["buckets"].clone(), v["billed_amount"].clone())
    };
    let want = buckets("comma.csv");
    assert_eq!(want.0["unknown_to_us"]["count"], 1, "{want:?}");
    assert_eq!(want.0["amount_variance"]["count"], 1, "{want:?}");
    assert_eq!(want.1, "0.120", "{want:?}");
    for file in ["semicolon.csv", "unicode.txt", "statement.csv.gz"] {
        assert_eq!(buckets(file), want, "{file}");
    }

    // Compressed bytes that hold no statement: named, never echoed.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&(0u8..=255).cycle().take(4000).collect::<Vec<_>>())
        .unwrap();
    f.env.write("junk.csv.gz", gz.finish().unwrap());
    let run = f
        .env
        .run_line("reconcile --statement junk.csv.gz --price 0.035");
    run.expect(2);
    run.stderr_has("junk.csv.gz");
    assert!(
        !run.stderr
            .contains(['\u{1b}', '\u{7}', '\u{0}', '\u{fffd}']),
        "{}",
        run.stderr
    );
    assert!(run.stderr.len() < 1000, "{}", run.stderr);
}
