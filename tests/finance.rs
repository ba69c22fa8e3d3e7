//! Finance close end to end: the bridge of a planted statement tied to the last decimal, its
//! three totals, and the one CSV table each report's flags ask for.

use crate::reconcile::{Fixture, fixture, sequence_id};
use crate::util::words;

/// A price list at 0.035 rounded on the total at 2 decimals: five checks cost 0.175, 0.18.
pub(crate) const PRICES: &str = "currency = \"USD\"\nrounding = \"total\"\nscale = 2\n\
                      [[period]]\nfrom = \"2026-01-01\"\ntiers = [ { price = \"0.035\" } ]\n";

/// A statement with one fault of each kind planted (see the test below for the hand sums).
pub(crate) fn planted(f: &Fixture) -> String {
    let c = &f.charged;
    format!(
        "billed_at,liveness_id,sequence_id,amount\n\
         2026-10-02T10:00:00Z,{a},,0.035\n\
         2026-10-02T10:00:00Z,{a},,0.035\n\
         2026-10-03T10:00:00Z,{b},,0.05\n\
         2026-10-04T10:00:00Z,{cc},,0.030\n\
         2026-10-05T10:00:00Z,,{seq3},0.035\n\
         2026-10-07T10:00:00Z,{u},,0.035\n\
         2026-10-08T10:00:00Z,{k},,0.035\n\
         2026-10-09T10:00:00Z,{i},,0.035\n\
         2026-10-10T10:00:00Z,nobody-we-know,,0.035\n\
         2026-10-11T10:00:00Z,{a},,-0.035\n",
        a = c[0],
        b = c[1],
        cc = c[2],
        seq3 = sequence_id(&f.env, &c[3]),
        u = f.uncharged,
        k = f.unknown_code,
        i = f.internal,
    )
}

/// Reconcile of statement.csv over the Singapore October with prices.toml (format not set).
pub(crate) fn reconcile_args() -> Vec<&'static str> {
    words(
        "reconcile --statement statement.csv --tz Asia/Singapore --from 2026-10-01 --to 2026-10-31 --prices prices.toml",
    )
}

/// The JSON of [`reconcile_args`], asserting exit 5 (differences found).
pub(crate) fn reconcile_json(f: &Fixture) -> serde_json::Value {
    let mut args = reconcile_args();
    args.extend(["--format", "json"]);
    let run = f.env.run(&args);
    run.expect(5);
    run.json()
}

/// Asserts the bridge's three totals, each a (count, amount): to dispute, owed and to check.
pub(crate) fn assert_totals(
    bridge: &serde_json::Value,
    to_dispute: (u64, &str),
    owed: (u64, &str),
    to_check: (u64, &str),
) {
    for (total, (count, amount)) in [
        ("to_dispute", to_dispute),
        ("owed", owed),
        ("to_check", to_check),
    ] {
        assert_eq!(
            bridge[total],
            serde_json::json!({"count": count, "amount": amount}),
            "{total}"
        );
    }
}

/// Billed 0.29 (ten lines) against 0.18 expected (five checks, 0.175 rounded up): 0.11 =
/// duplicate 0.035 + overbilled 0.035 + unknown to us 0.035 + 11350 confirmed 0.035 + above the
/// price 0.015 (to dispute 0.155) - underbilled 0.035 - below the price 0.005 (owed 0.040) +
/// unknown code 0.035 + credit -0.035 (to check 0) + rounding -0.005.
#[test]
fn the_bridge_of_a_planted_statement_ties_to_the_last_decimal() {
    let f = fixture();
    f.env.write("statement.csv", planted(&f));
    f.env.write("prices.toml", PRICES);
    let v = reconcile_json(&f);
    let b = &v["bridge"];
    assert_eq!(
        (&b["billed"], &b["expected"], &b["difference"]),
        (&"0.290".into(), &"0.180".into(), &"0.110".into())
    );
    let line = |bucket: &str| {
        let l = b["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["bucket"] == bucket)
            .unwrap_or_else(|| panic!("no {bucket} in {b}"));
        (
            l["count"].as_u64().unwrap(),
            l["amount"].as_str().unwrap().to_string(),
            l["total"].as_str().unwrap().to_string(),
        )
    };
    let expect = |bucket: &str, count: u64, amount: &str, total: &str| {
        assert_eq!(
            line(bucket),
            (count, amount.to_string(), total.to_string()),
            "{bucket}"
        );
    };
    expect("duplicate", 1, "0.035", "to_dispute");
    expect("overbilled", 1, "0.035", "to_dispute");
    expect("unknown_to_us", 1, "0.035", "to_dispute");
    expect("provisional_confirmed", 1, "0.035", "to_dispute");
    expect("above_price", 1, "0.015", "to_dispute");
    expect("underbilled", 1, "-0.035", "owed");
    expect("below_price", 1, "-0.005", "owed");
    expect("unknown_code", 1, "0.035", "to_check");
    expect("credit", 1, "-0.035", "to_check");
    expect("provisional", 0, "0.000", "to_check");
    assert_eq!(b["rounding"], "-0.005");
    assert_totals(b, (5, "0.155"), (2, "0.040"), (2, "0.000"));

    // Piped (so CSV), the one table written is the bridge, headline included.
    let run = f.env.run(&reconcile_args());
    run.expect(5);
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(rows[0], "line,count,amount,total");
    assert_eq!(rows[1], "statement,10,0.290,");
    assert_eq!(rows[2], "outside_period,0,0.000,");
    assert_eq!(rows[3], "billed,10,0.290,");
    assert_eq!(rows[4], "expected,5,0.180,");
    assert_eq!(rows[5], "difference,5,0.110,");
    assert!(rows.contains(&"rounding,,-0.005,"), "{}", run.stdout);
    assert!(rows.contains(&"to_dispute,5,0.155,"), "{}", run.stdout);
    run.stderr_has("wrote the bridge table");
    run.stderr_has("--table NAME");
}

/// A line whose date cannot be read is still billed: the bridge starts from the statement's
/// total, 0.325 (the planted 0.290 and line 12's 0.035, dated `31/13/2026 25:00`), and holds
/// the lines that could not be read as `unreadable` (to check: 0.035, with the credit's -0.035
/// and the unknown code's 0.035); line 13, whose amount cannot be read either, is counted there
/// and named. Difference 0.325 - 0.180 = 0.145 = 0.155 - 0.040 + 0.035 - 0.005 (rounding).
#[test]
fn a_line_that_cannot_be_read_stays_in_the_bridge() {
    let f = fixture();
    let mut statement = planted(&f);
    statement.push_str(&format!("31/13/2026 25:00,{},,0.035\n", f.charged[1]));
    statement.push_str("2026-10-12T10:00:00Z,someone,,\"0.035 a check\"\n");
    f.env.write("statement.csv", statement);
    f.env.write("prices.toml", PRICES);
    let v = reconcile_json(&f);
    let b = &v["bridge"];
    assert_eq!(
        (&b["statement"], &b["outside_period"]),
        (
            &serde_json::json!({"count": 12, "amount": "0.325"}),
            &serde_json::json!({"count": 0, "amount": "0.000"})
        )
    );
    assert_eq!(
        (&b["billed"], &b["difference"]),
        (&"0.325".into(), &"0.145".into())
    );
    let unreadable = b["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["bucket"] == "unreadable")
        .unwrap();
    assert_eq!(
        unreadable,
        &serde_json::json!({"bucket": "unreadable", "count": 2, "amount": "0.035", "total": "to_check"})
    );
    assert_totals(b, (5, "0.155"), (2, "0.040"), (4, "0.035"));
    assert_eq!(
        v["lines"], 10,
        "the lines read, as the count difference counts them"
    );
    assert_eq!(v["malformed"][0]["amount"], "0.035");
    assert_eq!(v["malformed"][1]["amount"], serde_json::Value::Null);
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("no amount that can be read either (line 13)"),
        "{notes}"
    );

    // Piped (CSV) and as a table, the same rows.
    let run = f.env.run(&reconcile_args());
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        rows[1..6],
        [
            "statement,12,0.325,",
            "outside_period,0,0.000,",
            "billed,12,0.325,",
            "expected,5,0.180,",
            "difference,7,0.145,"
        ]
    );
    assert!(rows.contains(&"unreadable,2,0.035,to_check"), "{rows:?}");
    let mut args = reconcile_args();
    args.extend(["--format", "table"]);
    f.env
        .run(&args)
        .stdout_has("billed: 10 lines in the period and 2 lines that could not be read (0.325 USD)")
        .stdout_has("to check 0.035 USD")
        .stdout_has("0.035   time \"31/13/2026 25:00\" is not a date or time");

    // A summary statement: the day that is no date is billed too.
    f.env.write(
        "statement.csv",
        "date,checks,amount\n2026-10-02,1,0.035\n2026-10-03,1,0.035\n2026-10-04,1,0.035\n\
         2026-10-05,1,0.035\n2026-10-31,1,0.035\n2026-10-32,1,0.035\n",
    );
    let mut args = reconcile_args();
    args.extend(["--format", "json"]);
    let v = f.env.run(&args).json();
    let b = &v["bridge"];
    assert_eq!(v["shape"], "summary");
    assert_eq!(
        b["statement"],
        serde_json::json!({"count": 6, "amount": "0.210"})
    );
    assert_eq!(
        (&b["billed"], &b["difference"]),
        (&"0.210".into(), &"0.030".into())
    );
    assert_totals(b, (0, "0.000"), (0, "0.000"), (1, "0.035"));
}

/// A check held at 11350 whose last answer came inside the period was not asked again since:
/// to check, not to dispute.
#[test]
fn an_11350_not_asked_again_is_to_check() {
    let f = fixture();
    f.env.write("statement.csv", planted(&f));
    f.env.write("prices.toml", PRICES);
    f.internal_last_asked_in_october();
    let mut args = reconcile_args();
    args.extend(["--format", "json"]);
    let run = f.env.run(&args);
    let v = run.json();
    assert_eq!(v["buckets"]["provisional"]["count"], 1);
    assert!(v["buckets"].get("provisional_confirmed").is_none());
    assert_eq!(v["bridge"]["to_dispute"]["amount"], "0.120");
    assert_eq!(v["bridge"]["to_check"]["amount"], "0.035");
}

/// `--by` asks for the periods table, `--dimension` for the dimension table (over `--by`);
/// neither: the first table, as before. Stderr names the table and the others.
#[test]
fn csv_writes_the_table_the_flags_ask_for() {
    let f = fixture();
    let header = |args: &[&str]| {
        let run = f.env.run(args);
        run.expect(0);
        (
            run.stdout.lines().next().unwrap_or_default().to_string(),
            run.stderr.clone(),
        )
    };
    let (h, err) = header(&["report", "billing", "--by", "day", "--format", "csv"]);
    assert!(h.starts_with("period,checks,charged"), "{h}");
    assert!(err.contains("wrote the periods table"), "{err}");
    assert!(err.contains("totals"), "{err}");
    let (h, _) = header(&["report", "billing", "--format", "csv"]);
    assert!(h.starts_with("class,checks"), "{h}");
    let (h, err) = header(&[
        "report",
        "attacks",
        "--by",
        "week",
        "--dimension",
        "channel",
        "--format",
        "csv",
    ]);
    assert!(h.starts_with("channel") || h.contains("value"), "{h}");
    assert!(err.contains("wrote the dimension table"), "{err}");
    let (h, err) = header(&["report", "attacks", "--by", "week", "--format", "csv"]);
    assert!(h.starts_with("period"), "{h}");
    assert!(err.contains("wrote the periods table"), "{err}");
}

/// The planted statement as a workbook: text cells, amounts as number cells (a credit as
/// accounting text).
fn planted_workbook(f: &Fixture) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, line) in planted(f).lines().enumerate() {
        for (c, cell) in line.split(',').enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell.parse::<f64>() {
                Ok(n) if c == 3 && n < 0.0 => sheet.write_string(r, c, format!("({})", -n)),
                Ok(n) if c == 3 => sheet.write_number(r, c, n),
                _ => sheet.write_string(r, c, cell),
            }
            .unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

/// An .xlsx statement reconciles as its CSV does; `(0.035)` is a credit.
#[test]
fn a_workbook_statement_and_a_credit_in_parentheses() {
    let f = fixture();
    f.env.write("prices.toml", PRICES);
    f.env.write("statement.xlsx", planted_workbook(&f));
    let mut args = reconcile_args();
    args[2] = "statement.xlsx";
    args.extend(["--format", "json"]);
    let run = f.env.run(&args);
    run.expect(5);
    let v = run.json();
    assert_eq!(v["bridge"]["difference"], "0.110", "{}", v["bridge"]);
    assert_eq!(v["bridge"]["to_dispute"]["amount"], "0.155");
    assert_eq!(v["buckets"]["credit"]["count"], 1);
    assert_eq!(v["buckets"]["credit"]["amount"], "-0.035");
    assert_eq!(v["malformed"], serde_json::json!([]));
}

/// A statement in another currency than our prices' is refused, naming both; words around an
/// amount make a malformed line, never a guess.
#[test]
fn another_currency_is_refused_and_words_around_an_amount_are_malformed() {
    let f = fixture();
    f.env.write("prices.toml", PRICES);
    let eur = planted(&f).replace(",0.035\n", ",0.035 EUR\n");
    f.env.write("statement.csv", eur);
    let run = f.env.run(&reconcile_args());
    run.expect(2);
    run.stderr_has("bills in EUR, our prices are in USD");
    assert!(run.stdout.is_empty());
    // A currency column says the same.
    let column = planted(&f)
        .replace("amount\n", "amount,currency\n")
        .replace('\n', ",EUR\n")
        .replacen(",EUR\n", "\n", 1);
    f.env.write("statement.csv", column);
    f.env.run(&reconcile_args()).expect(2);
    // The price's own currency is accepted.
    let usd = planted(&f).replace(",0.035\n", ",0.035 USD\n");
    f.env.write("statement.csv", usd);
    f.env.run(&reconcile_args()).expect(5);

    let damaged = planted(&f).replacen(",0.05\n", ",\"0.035 USD per check, 1 of 2\"\n", 1);
    f.env.write("statement.csv", damaged);
    let v = reconcile_json(&f);
    assert_eq!(v["malformed"][0]["line"], 4, "{}", v["malformed"]);
    assert!(
        v["malformed"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("0.035 USD per check, 1 of 2")
    );
    assert_eq!(v["lines"], 9, "the damaged line is not billed at all");
}

/// The small ones: a day that does not exist is named as such; 11340's message is words, not
/// a template; the CSV periods table names the class as JSON does.
#[test]
fn a_day_that_does_not_exist_and_the_names_of_classes_and_codes() {
    let f = fixture();
    let run = f
        .env
        .run_line("report billing --from 2026-02-30 --format csv");
    run.expect(2);
    run.stderr_has("--from 2026-02-30: that day does not exist (February 2026 has 28 days)");
    let run = f.env.run(&["report", "billing", "--to", "2026-13-01"]);
    run.expect(2);
    run.stderr_has("there is no month 13");
    let run = f.env.run(&["report", "billing", "--from", "yesterday"]);
    run.stderr_has("use YYYY-MM-DD");

    let run = f.env.run(&["codes", "--format", "csv"]);
    run.expect(0);
    run.stdout_has("11340,Parameter error");
    assert!(!run.stdout.contains("{parameter}"));

    let run = f
        .env
        .run(&["report", "billing", "--by", "month", "--format", "csv"]);
    run.expect(0);
    let header = run.stdout.lines().next().unwrap_or_default().to_string();
    assert!(header.contains(",unknown_code,"), "{header}");
    let run = f
        .env
        .run(&["report", "billing", "--by", "month", "--format", "json"]);
    let v = run.json();
    assert!(v["periods"][0].get("unknown_code").is_some(), "{v}");
}
