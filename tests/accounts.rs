//! Accounts in reports end to end: `report billing|attacks --account/--by-account` and
//! `reconcile --account` through the real binary, over a database whose checks are recorded
//! under three partner codes (two named in the config file, and `unknown`).

use crate::util;

use calamine::{Data, Reader, Xlsx, open_workbook};
use rust_decimal::Decimal;
use serde_json::Value;
use util::Env;

const CODES: [&str; 3] = ["acme-id", "acme-ph", "unknown"];

/// Sixty checks a day apart from January 20th, fetched from the mock, then recorded under the
/// partner codes of `CODES` in turn; a config file naming the first two; a tiered price list.
fn fixture() -> Env {
    let env = Env::plain();
    let mut csv = String::from("liveness_id,created_at\n");
    for i in 0..60 {
        let day = 20 + i;
        let (month, d) = match day {
            ..=31 => (1, day),
            32..=59 => (2, day - 31),
            _ => (3, day - 59),
        };
        csv += &format!("a-{i:06},2026-{month:02}-{d:02}T09:00:00Z\n");
    }
    env.write("ids.csv", csv);
    env.fetch("ids.csv").unlimited().run().expect(0);
    let conn = env.conn();
    for (i, code) in CODES.iter().enumerate() {
        conn.execute(
            "UPDATE checks SET partner_code = ?1 WHERE (id - 1) % 3 = ?2",
            rusqlite::params![code, i as i64],
        )
        .unwrap();
    }
    env.write(
        "prices.toml",
        "currency = \"USD\"\nscale = 3\n[[period]]\nfrom = \"2026-01-01\"\n\
         tiers = [ { up_to = 5, price = \"0.035\" }, { price = \"0.030\" } ]\n",
    );
    env.write(
        "php.toml",
        "currency = \"PHP\"\n[[period]]\nfrom = \"2026-01-01\"\ntiers = [ { price = \"1.5\" } ]\n",
    );
    env.write(
        "liveaudit.toml",
        "prices = \"prices.toml\"\n\
         [accounts.id-app]\npartner_code = \"acme-id\"\n\
         [accounts.ph-app]\npartner_code = \"acme-ph\"\n",
    );
    env
}

/// The JSON of the command line `line` (words split at white space), asserting exit 0.
fn json(env: &Env, line: &str) -> Value {
    let mut all = util::words(line);
    all.extend(["--format", "json"]);
    let run = env.run(&all);
    run.expect(0);
    serde_json::from_str(&run.stdout).unwrap()
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a decimal string"))
        .parse()
        .unwrap()
}

/// What the list charges `n` charged checks of one month of one account.
fn tiered(n: i64) -> Decimal {
    Decimal::new(35, 3) * Decimal::from(n.min(5))
        + Decimal::new(30, 3) * Decimal::from((n - 5).max(0))
}

/// What the list charges the periods of `report` (one account's, or all pooled), month by
/// month.
fn tiered_periods(report: &Value) -> Decimal {
    report["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| tiered(p["charged"].as_i64().unwrap()))
        .sum()
}

#[test]
fn by_account_groups_add_up_each_priced_on_its_own_and_csv_agrees_with_json() {
    let env = fixture();
    let report = json(&env, "report billing --by month --by-account");
    let accounts = report["accounts"].as_array().unwrap();
    let labels: Vec<&str> = accounts
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["id-app", "ph-app", "unknown"]);
    let codes: Vec<&str> = accounts
        .iter()
        .map(|a| a["partner_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, CODES);
    let mut charged = 0;
    let mut amount = Decimal::ZERO;
    for a in accounts {
        charged += a["totals"]["charged"].as_i64().unwrap();
        amount += dec(&a["totals"]["amount"]);
        // Each account's tiers count its own checks: the hand calculation month by month.
        assert_eq!(dec(&a["totals"]["amount"]), tiered_periods(a), "{a}");
        // ... and equal the report narrowed to it.
        let account = a["account"].as_str().unwrap();
        let alone = json(
            &env,
            &format!("report billing --by month --account {account}"),
        );
        assert_eq!(alone["totals"], a["totals"]);
        assert_eq!(alone["periods"], a["periods"]);
        assert_eq!(alone["account"]["partner_code"], a["partner_code"]);
    }
    assert_eq!(charged, report["totals"]["charged"].as_i64().unwrap());
    assert_eq!(amount, dec(&report["totals"]["amount"]));
    assert_eq!(report["totals"]["checks"], 60);
    // Priced as one pool the tiers would fill sooner: per account is not the same bill.
    assert_ne!(tiered_periods(&report), amount);

    // The tidy CSV tables carry the same numbers.
    let run = env.ok("report billing --by month --by-account --format csv --table accounts");
    let mut rows = csv::Reader::from_reader(run.stdout.as_bytes());
    let headers = rows.headers().unwrap().clone();
    assert_eq!(&headers[0], "account");
    assert_eq!(&headers[1], "partner_code");
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    for (r, a) in records.iter().zip(accounts) {
        assert_eq!(&r[0], a["account"].as_str().unwrap());
        assert_eq!(
            r[col("charged")].parse::<i64>().unwrap(),
            a["totals"]["charged"].as_i64().unwrap()
        );
        assert_eq!(
            r[col("amount")].parse::<Decimal>().unwrap(),
            dec(&a["totals"]["amount"])
        );
    }
    let run =
        env.run_line("report billing --by month --by-account --format csv --table account_periods");
    run.expect(0);
    let mut rows = csv::Reader::from_reader(run.stdout.as_bytes());
    let checks: i64 = rows
        .records()
        .map(|r| r.unwrap()[3].parse::<i64>().unwrap())
        .sum();
    assert_eq!(checks, 60);
}

#[test]
fn the_by_account_sheet_of_the_workbook_equals_the_json() {
    let env = fixture();
    let report = json(&env, "report billing --by-account");
    env.run(&["report", "billing", "--by-account", "-o", "by.xlsx"])
        .expect(0);
    let mut book: Xlsx<_> = open_workbook(env.path("by.xlsx")).unwrap();
    let range = book.worksheet_range("accounts").unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
    let col = |name: &str| {
        rows[0]
            .iter()
            .position(|h| *h == Data::String(name.into()))
            .unwrap()
    };
    let accounts = report["accounts"].as_array().unwrap();
    assert_eq!(rows.len(), accounts.len() + 1);
    for (row, a) in rows[1..].iter().zip(accounts) {
        assert_eq!(
            row[col("account")],
            Data::String(a["account"].as_str().unwrap().into())
        );
        let number = |d: &Data| match d {
            Data::Float(f) => *f,
            Data::Int(i) => *i as f64,
            other => panic!("{other:?} is not a number"),
        };
        assert_eq!(
            number(&row[col("checks")]) as i64,
            a["totals"]["checks"].as_i64().unwrap()
        );
        assert_eq!(
            number(&row[col("charged")]) as i64,
            a["totals"]["charged"].as_i64().unwrap()
        );
        let amount: f64 = a["totals"]["amount"].as_str().unwrap().parse().unwrap();
        assert!((number(&row[col("amount")]) - amount).abs() < 1e-9);
    }
}

#[test]
fn an_account_the_config_does_not_name_is_a_partner_code() {
    let env = fixture();
    let named = json(
        &env,
        "--config liveaudit.toml report billing --account ph-app",
    );
    std::fs::remove_file(env.path("liveaudit.toml")).unwrap();
    let coded = json(&env, "report billing --account acme-ph");
    assert_eq!(named["totals"]["checks"], coded["totals"]["checks"]);
    assert_eq!(named["totals"]["charged"], coded["totals"]["charged"]);
    assert_eq!(
        coded["account"]["account"], "acme-ph",
        "labelled by its code without the file"
    );
    let unknown = json(&env, "report attacks --account unknown");
    assert_eq!(unknown["account"]["partner_code"], "unknown");
    assert_eq!(unknown["resolved"], 20);
    let run = env.run(&["report", "billing", "--account", "acme-xx"]);
    run.expect(2);
    assert!(
        run.stderr.contains("acme-xx") && run.stderr.contains("acme-id, acme-ph, unknown"),
        "{}",
        run.stderr
    );

    // `unknown` is the reserved code: with no check under it, its report is empty, not a typo
    // (as export answers).
    env.conn()
        .execute(
            "UPDATE checks SET partner_code = 'acme-id' WHERE partner_code = 'unknown'",
            [],
        )
        .unwrap();
    let none = json(&env, "report billing --account unknown");
    assert_eq!(none["account"]["partner_code"], "unknown");
    assert_eq!(none["totals"]["checks"], 0);
    let none = json(&env, "report attacks --account unknown");
    assert_eq!(none["resolved"], 0);
    env.run(&["export", "--account", "unknown"]).expect(0);
}

#[test]
fn attacks_by_account_add_up() {
    let env = fixture();
    let report = json(&env, "report attacks --by month --by-account");
    let accounts = report["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    let sum = |key: &str| {
        accounts
            .iter()
            .map(|a| a[key].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(sum("resolved"), report["resolved"].as_i64().unwrap());
    assert_eq!(sum("attacks"), report["attacks"].as_i64().unwrap());
    let run = env.ok("report attacks --by-account --format csv --table accounts");
    assert!(
        run.stdout
            .starts_with("account,partner_code,resolved,attacks,share_of_checks,"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), 4);
    // Without --by-account the error says what adds the table.
    for report in ["billing", "attacks"] {
        let run = env.run(&["report", report, "--format", "csv", "--table", "accounts"]);
        run.expect(2);
        run.stderr_has("add --by-account");
    }
}

#[test]
fn zones_and_currencies_that_differ_need_a_flag_or_one_account() {
    let env = fixture();
    env.write(
        "mixed.toml",
        "prices = \"prices.toml\"\n\
         [accounts.id-app]\npartner_code = \"acme-id\"\ntz = \"Asia/Jakarta\"\n\
         [accounts.ph-app]\npartner_code = \"acme-ph\"\nprices = \"php.toml\"\n",
    );
    let run = env.run_line("--config mixed.toml report billing --format json");
    run.expect(2);
    assert!(
        run.stderr.contains("Asia/Jakarta")
            && run.stderr.contains("id-app")
            && run.stderr.contains("--tz")
            && run.stderr.contains("liveaudit adopt --account NAME"),
        "{}",
        run.stderr
    );
    let run = env.run_line("--config mixed.toml report billing --tz UTC --format json");
    run.expect(2);
    assert!(
        run.stderr.contains("PHP")
            && run.stderr.contains("USD")
            && run.stderr.contains("--account"),
        "{}",
        run.stderr
    );
    // Narrowed to one account, its own zone and price list apply.
    let ph = json(&env, "--config mixed.toml report billing --account ph-app");
    assert_eq!(ph["currency"], "PHP");
    assert_eq!(ph["basis"]["zone"], "UTC");
    let id = json(&env, "--config mixed.toml report billing --account id-app");
    assert_eq!(id["basis"]["zone"], "Asia/Jakarta");
    assert_eq!(id["currency"], "USD");
    // One list for all accounts (still counted per account) and --tz: one report.
    let all = json(
        &env,
        "--config mixed.toml report billing --tz UTC --prices prices.toml",
    );
    assert_eq!(all["totals"]["checks"], 60);
}

#[test]
fn reconcile_matches_one_account_and_refuses_to_guess_which() {
    let env = fixture();
    // A statement billing id-app's successes at the flat price, plus one check of ph-app's.
    let rows = successes(&env, "");
    let mut text = String::from("billed_at,liveness_id,amount\n");
    let mut stray = false;
    for (id, time, code) in &rows {
        let line = format!("{},{id},0.035\n", liveaudit_time(*time));
        if code == "acme-id" {
            text += &line;
        } else if !stray {
            text += &line;
            stray = true;
        }
    }
    env.write("statement.csv", &text);
    let run = env.run_line("reconcile --statement statement.csv --price 0.035");
    run.expect(2);
    for name in ["id-app", "ph-app", "unknown", "--account"] {
        assert!(run.stderr.contains(name), "{name}: {}", run.stderr);
    }
    let window = ["--from", "2026-01-01", "--to", "2026-03-31"];
    let mut args = util::words(
        "reconcile --statement statement.csv --price 0.035 --account id-app --format json",
    );
    args.extend(window);
    let run = env.run(&args);
    let r = run.json();
    let mut args = vec!["report", "billing", "--account", "id-app"];
    args.extend(window);
    let billing = json(&env, &args.join(" "));
    assert_eq!(r["our_charged"], billing["totals"]["charged"]);
    assert_eq!(
        r["buckets"]["unknown_to_us"]["count"], 1,
        "ph-app's line is not id-app's"
    );
    let count = |k: &str| r["buckets"][k]["count"].as_i64().unwrap_or(0);
    assert_eq!(
        count("matched") + count("underbilled"),
        billing["totals"]["charged"].as_i64().unwrap(),
        "{}",
        r["buckets"]
    );
    assert!(count("matched") > 0);
    assert!(
        r["notes"].to_string().contains("another partner code"),
        "{}",
        r["notes"]
    );
    assert_eq!(run.status, Some(5), "the stray line is a discrepancy");
}

/// (liveness_id, event_time, partner_code) of every check done with code 200, in id order;
/// `and` narrows them further (`AND partner_code <> 'unknown'`).
fn successes(env: &Env, and: &str) -> Vec<(String, i64, String)> {
    let sql = format!(
        "SELECT liveness_id, event_time, partner_code FROM checks \
         WHERE status = 'done' AND code = 200 {and} ORDER BY id"
    );
    env.conn()
        .prepare(&sql)
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn liveaudit_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

#[test]
fn a_summary_statement_of_one_account_is_compared_with_its_checks_at_its_prices() {
    let env = fixture();
    let billing = json(&env, "report billing --by month --account ph-app");
    // The statement bills exactly ph-app's charged checks per month, at its list's amounts.
    let mut text = String::from("month,checks,amount\n");
    for p in billing["periods"].as_array().unwrap() {
        text += &format!(
            "{},{},{}\n",
            p["period"].as_str().unwrap(),
            p["charged"],
            p["amount"].as_str().unwrap()
        );
    }
    env.write("summary.csv", &text);
    let args = util::words("reconcile --statement summary.csv --format json");
    env.run(&args).expect(2);
    let mut narrowed = args.to_vec();
    narrowed.extend(["--account", "ph-app"]);
    let run = env.run(&narrowed);
    run.expect(0);
    let r = run.json();
    assert_eq!(r["shape"], "summary");
    assert_eq!(r["net_difference"], 0, "{}", run.stdout);
    assert_eq!(r["net_amount"], "0.000", "{}", run.stdout);
    assert_eq!(r["our_charged"], billing["totals"]["charged"]);
    assert_eq!(r["account"]["partner_code"], "acme-ph");
}

#[test]
fn a_statement_of_several_accounts_is_read_one_account_at_a_time_by_its_partner_column() {
    let env = fixture();
    let rows = successes(&env, "AND partner_code <> 'unknown'");
    // Semicolons and a header as finance's spreadsheet writes it.
    let mut text = String::from("Partner Code;Billed At;Liveness ID;Amount\n");
    let mut per_code = std::collections::BTreeMap::<&str, i64>::new();
    for (id, time, code) in &rows {
        text += &format!("{code};{};{id};0,035\n", liveaudit_time(*time));
        *per_code.entry(code.as_str()).or_default() += 1;
    }
    env.write("both.csv", &text);
    let window = ["--from", "2026-01-01", "--to", "2026-03-31"];
    let base = ["reconcile", "--statement", "both.csv", "--price", "0.035"];
    // Two accounts on the statement: which one is not guessed.
    let mut args = base.to_vec();
    args.extend(window);
    let run = env.run(&args);
    run.expect(2);
    assert!(
        run.stderr.contains("acme-id, acme-ph") && run.stderr.contains("--account"),
        "{}",
        run.stderr
    );
    for (name, code) in [("id-app", "acme-id"), ("ph-app", "acme-ph")] {
        let mut args = base.to_vec();
        args.extend(["--account", name, "--format", "json"]);
        args.extend(window);
        let run = env.run(&args);
        let r = run.json();
        let billing = json(
            &env,
            &format!("report billing --account {name} --from 2026-01-01 --to 2026-03-31"),
        );
        let count = |k: &str| r["buckets"][k]["count"].as_i64().unwrap_or(0);
        // Every line of this account is matched; the other's are left out, not discrepancies.
        assert_eq!(count("matched"), per_code[code], "{name}: {}", r["buckets"]);
        assert_eq!(count("unknown_to_us"), 0, "{name}: {}", r["buckets"]);
        assert_eq!(r["our_charged"], billing["totals"]["charged"], "{name}");
        let other: i64 = per_code
            .iter()
            .filter(|(c, _)| **c != code)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(r["statement_lines_of_other_accounts"], other, "{name}");
    }
    // A statement of one account chooses it without --account.
    let only_ph: String = text
        .lines()
        .filter(|l| l.starts_with("Partner") || l.starts_with("acme-ph"))
        .map(|l| format!("{l}\n"))
        .collect();
    env.write("ph.csv", &only_ph);
    let mut args = vec![
        "reconcile",
        "--statement",
        "ph.csv",
        "--price",
        "0.035",
        "--format",
        "json",
    ];
    args.extend(window);
    let r: Value = serde_json::from_str(&env.run(&args).stdout).unwrap();
    assert_eq!(
        r["buckets"]["matched"]["count"], per_code["acme-ph"],
        "{}",
        r["buckets"]
    );
    // The statement of one account reconciled against another is refused.
    let mut args = vec![
        "reconcile",
        "--statement",
        "ph.csv",
        "--price",
        "0.035",
        "--account",
        "id-app",
    ];
    args.extend(window);
    let run = env.run(&args);
    run.expect(2);
    run.stderr_has("none is acme-id");
}
