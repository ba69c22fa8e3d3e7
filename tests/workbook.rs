//! Excel workbooks end to end: `--output FILE.xlsx` writes a real workbook (read back with
//! calamine) whose numbers are numbers and add up to the JSON report's totals; an extension
//! liveaudit cannot write, or one that disagrees with `--format`, is refused with exit 2.

use crate::util;

use calamine::{Data, Reader, Xlsx, open_workbook};
use rust_decimal::Decimal;
use serde_json::Value;
use util::Env;

/// Forty checks a day apart from January 20th, fetched from the mock.
fn fixture() -> Env {
    let env = Env::plain();
    let mut csv = String::from("liveness_id,created_at\n");
    for i in 0..40 {
        let day = 20 + i; // January 20th onwards, past the end of the month
        let (month, d) = if day <= 31 { (1, day) } else { (2, day - 31) };
        csv += &format!("w-{i:06},2026-{month:02}-{d:02}T09:00:00Z\n");
    }
    env.write("ids.csv", csv);
    env.write(
        "prices.toml",
        "currency = \"EUR\"\nscale = 2\n[[period]]\nfrom = \"2026-01-01\"\n\
         tiers = [ { up_to = 10, price = \"0.035\" }, { price = \"0.030\" } ]\n",
    );
    env.run(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    env
}

fn json(env: &Env, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let run = env.run(&all);
    serde_json::from_str(&run.stdout).unwrap()
}

/// The sheet `name` as rows of cells, the header row first.
fn sheet(env: &Env, file: &str, name: &str) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> = open_workbook(env.path(file)).unwrap();
    let range = book.worksheet_range(name).unwrap();
    range.rows().map(<[Data]>::to_vec).collect()
}

fn column(rows: &[Vec<Data>], header: &str) -> Vec<Data> {
    let c = rows[0]
        .iter()
        .position(|h| *h == Data::String(header.into()))
        .unwrap_or_else(|| panic!("no column {header} in {:?}", rows[0]));
    rows[1..].iter().map(|r| r[c].clone()).collect()
}

fn number(d: &Data) -> f64 {
    match d {
        Data::Float(f) => *f,
        Data::Int(i) => *i as f64,
        other => panic!("{other:?} is not a number"),
    }
}

fn decimal(v: &Value) -> f64 {
    v.as_str()
        .unwrap()
        .parse::<Decimal>()
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn the_billing_workbook_adds_up_to_the_json_report() {
    let env = fixture();
    let args = [
        "report",
        "billing",
        "--by",
        "month",
        "--prices",
        "prices.toml",
    ];
    let mut with_output = args.to_vec();
    with_output.extend(["--output", "bill.xlsx"]);
    env.run(&with_output).expect(0);
    let j = json(&env, &args);

    let book: Xlsx<_> = open_workbook(env.path("bill.xlsx")).unwrap();
    assert_eq!(
        book.sheet_names(),
        ["totals", "periods", "codes", "tiers", "about"]
    );
    drop(book);

    let periods = sheet(&env, "bill.xlsx", "periods");
    let checks: f64 = column(&periods, "checks").iter().map(number).sum();
    let charged: f64 = column(&periods, "charged").iter().map(number).sum();
    let amount: f64 = column(&periods, "amount").iter().map(number).sum();
    assert_eq!(checks, j["totals"]["checks"].as_f64().unwrap());
    assert_eq!(charged, j["totals"]["charged"].as_f64().unwrap());
    // Amounts are at the list's scale: each row is JSON's exact amount (rounding = total
    // rounds the total only) rounded half to even.
    let scale = j["prices"]["scale"].as_u64().unwrap() as u32;
    let rounded = |rows: &Value| -> f64 {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let exact: Decimal = r["amount"].as_str().unwrap().parse().unwrap();
                let shown = exact.round_dp_with_strategy(
                    scale,
                    rust_decimal::RoundingStrategy::MidpointNearestEven,
                );
                f64::try_from(shown).unwrap()
            })
            .sum()
    };
    assert!((amount - rounded(&j["periods"])).abs() < 1e-9);

    let codes = sheet(&env, "bill.xlsx", "codes");
    let by_code: f64 = column(&codes, "amount").iter().map(number).sum();
    assert!((by_code - rounded(&j["codes"])).abs() < 1e-9);
    // Codes are numbers; messages text.
    assert!(matches!(column(&codes, "code")[0], Data::Float(_)));
    assert!(matches!(column(&codes, "message")[0], Data::String(_)));

    let tiers = sheet(&env, "bill.xlsx", "tiers");
    let tier_checks: f64 = column(&tiers, "checks").iter().map(number).sum();
    assert_eq!(tier_checks, charged);
    // Dates are dates.
    assert!(
        matches!(&column(&tiers, "price_from")[0], Data::DateTime(d) if d.is_datetime()),
        "{:?}",
        column(&tiers, "price_from")
    );

    let totals = sheet(&env, "bill.xlsx", "totals");
    let all = totals
        .iter()
        .find(|r| r[0] == Data::String("all".into()))
        .unwrap();
    assert!((number(&all[3]) - decimal(&j["totals"]["amount"])).abs() < 1e-9);
    // Shares are fractions.
    assert!((number(&all[2]) - 1.0).abs() < 1e-12);
}

#[test]
fn the_reconcile_workbook_has_the_discrepancies() {
    let env = fixture();
    // Bill the first two checks, one of them twice: a duplicate, and underbilled checks.
    let checks = env.checks();
    let charged: Vec<&String> = checks
        .iter()
        .filter(|(_, s, c)| s == "done" && *c == Some(200))
        .map(|(id, _, _)| id)
        .take(2)
        .collect();
    env.write(
        "statement.csv",
        format!(
            "liveness_id,billed_at,amount\n{0},2026-01-20T09:00:00Z,0.035\n\
             {0},2026-01-20T09:00:00Z,0.035\n{1},2026-01-21T09:00:00Z,0.035\n",
            charged[0], charged[1]
        ),
    );
    let args = [
        "reconcile",
        "--statement",
        "statement.csv",
        "--price",
        "0.035",
        "--from",
        "2026-01-20",
        "--to",
        "2026-01-31",
    ];
    let mut with_output = args.to_vec();
    with_output.extend(["--output", "rec.xlsx"]);
    env.run(&with_output).expect(5);
    let j = json(&env, &args);
    let summary = sheet(&env, "rec.xlsx", "summary");
    let bucket = |name: &str| {
        summary
            .iter()
            .find(|r| r[0] == Data::String(name.into()))
            .map(|r| number(&r[1]))
    };
    assert_eq!(bucket("duplicate"), Some(1.0));
    assert_eq!(
        bucket("underbilled"),
        j["buckets"]["underbilled"]["count"].as_f64()
    );
    let details = sheet(&env, "rec.xlsx", "discrepancies");
    assert_eq!(
        details.len() - 1,
        j["details"].as_array().unwrap().len(),
        "one row per discrepancy shown"
    );
    // Ids stay text, amounts are numbers.
    assert!(matches!(
        column(&details, "liveness_id")[0],
        Data::String(_)
    ));
}

#[test]
fn a_file_is_never_written_in_a_format_its_name_does_not_say() {
    let env = fixture();
    let run = env.run(&["report", "billing", "--output", "bill.xls"]);
    run.expect(2);
    run.stderr_has(".xls");
    assert!(!env.path("bill.xls").exists());
    let run = env.run_line("report billing --output bill.xlsx --format csv");
    run.expect(2);
    assert!(!env.path("bill.xlsx").exists());
    // With --format, an extension liveaudit does not know is the user's choice.
    env.run_line("report attacks --output attacks.dat --format xlsx")
        .expect(0);
    let mut book: Xlsx<_> = open_workbook(env.path("attacks.dat")).unwrap();
    assert!(book.sheet_names().contains(&"about".to_string()));
    assert!(book.worksheet_range("about").is_ok());
}

#[test]
fn export_never_writes_csv_into_a_file_named_like_another_format() {
    let env = fixture();
    for name in ["checks.xlsx", "checks.html", "checks.dat"] {
        let run = env.run(&["export", "--output", name]);
        run.expect(2);
        run.stderr_has("CSV or JSON lines");
        assert!(!env.path(name).exists(), "{name} was written");
    }
    let run = env.run(&["export", "--output", "checks.csv", "--format", "jsonl"]);
    run.expect(2);
    assert!(!env.path("checks.csv").exists());
    // The extension chooses the format; --format may name an extension liveaudit does not know.
    env.run(&["export", "--output", "checks.jsonl"]).expect(0);
    let jsonl = std::fs::read_to_string(env.path("checks.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 40);
    assert!(
        jsonl
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
    env.run(&["export", "--output", "checks.dat", "--format", "csv"])
        .expect(0);
    let csv = std::fs::read_to_string(env.path("checks.dat")).unwrap();
    assert!(csv.starts_with("liveness_id,"), "{csv}");
}
