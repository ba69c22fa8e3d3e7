//! Price lists end to end: a tiered list that changes price mid-month, against a database filled
//! by the real fetch, gives the amounts a hand calculation gives; reconcile flags a line billed
//! at the wrong tier; a malformed list is refused with exit 2 naming the file and the key.

use crate::util;

use liveaudit::mock::expected_code;
use serde_json::Value;
use util::Env;

/// `n` distinct ids with prefix `prefix` whose mock code is `code`.
fn ids_with(prefix: &str, code: i64, n: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("{prefix}-{i:06}"))
        .filter(|id| expected_code(id) == code)
        .take(n)
        .collect()
}

/// The list of the hand calculation: period A from January 1st (tiers 1-3 at 0.035, 4-5 at
/// 0.030, then 0.025; code 12250 at 0.010 outside the tiers), period B from February 15th
/// (1-4 at 0.020, then 0.015).
const LIST: &str = r#"
currency = "EUR"
rounding = "total"
scale = 2
[[period]]
from = "2026-01-01"
tiers = [ { up_to = 3, price = "0.035" }, { up_to = 5, price = "0.030" }, { price = "0.025" } ]
codes = { 12250 = "0.010" }
[[period]]
from = "2026-02-15"
tiers = [ { up_to = 4, price = "0.020" }, { price = "0.015" } ]
"#;

struct Fixture {
    env: Env,
    /// The February checks in time order (Feb 10, 11, 15, 16, 17).
    february: Vec<String>,
}

/// January: 7 successes on the 10th to the 16th, one 12250 on the 20th, one 11340 (uncharged)
/// on the 21st. February: successes on the 10th and 11th (period A), the 15th, 16th and 17th
/// (period B).
fn fixture() -> Fixture {
    let env = Env::plain();
    let ok = ids_with("ok", 200, 12);
    let e12250 = ids_with("e", 12250, 1);
    let e11340 = ids_with("u", 11340, 1);
    let mut csv = String::from("liveness_id,created_at\n");
    for (i, id) in ok[..7].iter().enumerate() {
        csv += &format!("{id},2026-01-{:02}T12:00:00Z\n", 10 + i);
    }
    csv += &format!("{},2026-01-20T12:00:00Z\n", e12250[0]);
    csv += &format!("{},2026-01-21T12:00:00Z\n", e11340[0]);
    let days = [10, 11, 15, 16, 17];
    for (id, day) in ok[7..].iter().zip(days) {
        csv += &format!("{id},2026-02-{day:02}T12:00:00Z\n");
    }
    env.write("ids.csv", csv);
    env.write("prices.toml", LIST);
    env.run(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    Fixture {
        env,
        february: ok[7..].to_vec(),
    }
}

fn billing_json(env: &Env, extra: &[&str]) -> Value {
    let mut args = vec!["report", "billing", "--format", "json", "--by", "month"];
    args.extend_from_slice(extra);
    let run = env.run(&args);
    run.expect(0);
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn a_tiered_list_that_changes_price_gives_the_hand_calculation() {
    let f = fixture();
    let b = billing_json(&f.env, &["--prices", "prices.toml"]);
    // January: places 1-3 at 0.035 (0.105), 4-5 at 0.030 (0.060), 6-7 at 0.025 (0.050),
    // plus 12250 at 0.010 outside the tiers: 0.225.
    // February: places 1-2 at period A's 0.035 (0.070); from the 15th period B's tiers, the
    // count running on: places 3-4 in its tier 1 at 0.020 (0.040), place 5 in its tier 2 at
    // 0.015: 0.125. Total 0.350, rounded at 2 decimals: 0.35.
    assert_eq!(b["currency"], "EUR");
    assert_eq!(b["totals"]["charged"], 13);
    // Shown at the list's 2 decimals.
    assert_eq!(b["totals"]["amount"], "0.35");
    assert_eq!(b["prices"]["unrounded"], "0.35");
    assert_eq!(b["prices"]["unpriced"], 0);
    let periods: Vec<(String, String)> = b["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap().to_string(),
                p["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        periods,
        [
            ("2026-01".to_string(), "0.225".to_string()),
            ("2026-02".to_string(), "0.125".to_string())
        ]
    );
    let tiers: Vec<(String, String, String, i64, String)> = b["prices"]["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["month"].as_str().unwrap().to_string(),
                t["price_from"].as_str().unwrap().to_string(),
                t["rate"].as_str().unwrap().to_string(),
                t["checks"].as_i64().unwrap(),
                t["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let row = |m: &str, from: &str, rate: &str, n: i64, a: &str| {
        (
            m.to_string(),
            from.to_string(),
            rate.to_string(),
            n,
            a.to_string(),
        )
    };
    assert_eq!(
        tiers,
        [
            row("2026-01", "2026-01-01", "1: 1 to 3", 3, "0.105"),
            row("2026-01", "2026-01-01", "2: 4 to 5", 2, "0.06"),
            row("2026-01", "2026-01-01", "3: 6 and over", 2, "0.05"),
            row("2026-01", "2026-01-01", "code 12250", 1, "0.01"),
            row("2026-02", "2026-01-01", "1: 1 to 3", 2, "0.07"),
            row("2026-02", "2026-02-15", "1: 1 to 4", 2, "0.04"),
            row("2026-02", "2026-02-15", "2: 5 and over", 1, "0.015"),
        ]
    );
    // The code rows add up to the total; 11340 is uncharged at 0.
    let codes_sum: rust_decimal::Decimal = b["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["amount"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(codes_sum.normalize().to_string(), "0.35");

    // --from mid-month: the tiers still count from January 1st (places 4-7, then 12250).
    let b = billing_json(
        &f.env,
        &[
            "--prices",
            "prices.toml",
            "--from",
            "2026-01-13",
            "--to",
            "2026-01-31",
        ],
    );
    assert_eq!(b["totals"]["charged"], 5);
    // 2 x 0.030 + 2 x 0.025 + 0.010 = 0.12
    assert_eq!(b["totals"]["amount"], "0.12");

    // The tiers table is a CSV table of its own.
    let run = f
        .env
        .run_line("report billing --prices prices.toml --by month --format csv --table tiers");
    run.expect(0);
    assert!(
        run.stdout.starts_with(
            "month,price_from,rate,price,checks,amount\n2026-01,2026-01-01,1: 1 to 3,0.035,3,0.10\n"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn line_rounding_and_the_config_key() {
    let f = fixture();
    f.env
        .write("line.toml", LIST.replace("\"total\"", "\"line\""));
    f.env.write("liveaudit.toml", "prices = \"line.toml\"\n");
    // Each check's price rounded half to even at 2 decimals first: 0.035 -> 0.04,
    // 0.030 -> 0.03, 0.025 -> 0.02, 0.010, 0.020 -> 0.02, 0.015 -> 0.02.
    // January 3x0.04 + 2x0.03 + 2x0.02 + 0.01 = 0.23; February 2x0.04 + 2x0.02 + 0.02 = 0.14.
    let b = billing_json(&f.env, &["--config", "liveaudit.toml"]);
    assert_eq!(b["totals"]["amount"], "0.37");
    assert_eq!(b["prices"]["rounding"], "line");
    // --price wins over the config's list.
    let b = billing_json(&f.env, &["--config", "liveaudit.toml", "--price", "1"]);
    assert_eq!(b["totals"]["amount"], "13.00");
    assert!(b.get("prices").is_none());
}

/// `rounding = "line"` at 0 decimals bills every check priced below 0.5 at 0: the report says
/// how many, in its lines for people and in JSON, and counts none when the total is rounded.
#[test]
fn checks_a_line_rounding_bills_at_zero_are_said() {
    let f = fixture();
    let zeroed = LIST
        .replace("\"total\"", "\"line\"")
        .replace("scale = 2", "scale = 0");
    f.env.write("zero.toml", zeroed);
    let b = billing_json(&f.env, &["--prices", "zero.toml"]);
    assert_eq!(b["totals"]["charged"], 13);
    assert_eq!(b["totals"]["amount"], "0", "at the list's 0 decimals");
    assert_eq!(b["prices"]["billed_at_zero"], 13);
    let run = f.env.run(&[
        "report",
        "billing",
        "--prices",
        "zero.toml",
        "--format",
        "markdown",
    ]);
    run.expect(0);
    run.stdout_has(
        "13 charged checks are billed at 0: rounding = \"line\" rounds their list price to 0 \
             at 0 decimals on each check",
    );
    let b = billing_json(&f.env, &["--prices", "prices.toml"]);
    assert_eq!(b["prices"]["billed_at_zero"], 0);
}

/// The amount strings of a report's JSON (every key that names money), with their paths.
fn amounts(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let here = format!("{path}.{k}");
                match v {
                    Value::String(s)
                        if k == "price" || k == "unrounded" || k.ends_with("amount") =>
                    {
                        out.push((here, s.clone()));
                    }
                    _ => amounts(v, &here, out),
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                amounts(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_amount_of_a_billing_json_is_at_the_report_scale_zeros_and_accounts_too() {
    let f = fixture();
    f.env
        .write("scale3.toml", LIST.replace("scale = 2", "scale = 3"));
    let b = billing_json(&f.env, &["--prices", "scale3.toml", "--by-account"]);
    let mut found = Vec::new();
    amounts(&b, "", &mut found);
    for (path, amount) in &found {
        let decimals = amount.split_once('.').map_or(0, |(_, d)| d.len());
        assert_eq!(decimals, 3, "{path} = {amount}: {b:#}");
    }
    // The zero of the uncharged code and the accounts' amounts are among them.
    assert!(
        found
            .iter()
            .any(|(p, a)| p.starts_with(".codes") && a == "0.000"),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(p, _)| p.starts_with(".accounts[0].totals")),
        "{found:?}"
    );
    assert_eq!(b["totals"]["amount"], "0.350");
    assert_eq!(b["accounts"][0]["totals"]["amount"], "0.350");
}

#[test]
fn a_malformed_list_is_refused_naming_file_and_key() {
    let f = fixture();
    f.env.write(
        "bad.toml",
        LIST.replace(
            "{ up_to = 5, price = \"0.030\" }",
            "{ up_to = 5, price = 0.030 }",
        ),
    );
    let run = f.env.run(&["report", "billing", "--prices", "bad.toml"]);
    run.expect(2);
    run.stderr_has("bad.toml");
    run.stderr_has("period[0].tiers[1].price");
    let run = f
        .env
        .run(&["report", "billing", "--prices", "missing.toml"]);
    run.expect(2);
    run.stderr_has("missing.toml");
    let run = f
        .env
        .run_line("report billing --prices prices.toml --price 1");
    run.expect(2);
}

#[test]
fn reconcile_flags_a_line_billed_at_the_wrong_tier() {
    let f = fixture();
    let feb = &f.february;
    // February by the list: 0.035, 0.035 (period A tier 1), 0.020, 0.020 (period B tier 1),
    // 0.015 (period B tier 2). The vendor bills the 16th at 0.035 (a tier it is not in) and the
    // 17th at 0.020 (tier 1, where its place 5 is tier 2).
    let statement = format!(
        "liveness_id,billed_at,amount\n\
         {},2026-02-10T12:00:00Z,0.035\n\
         {},2026-02-11T12:00:00Z,0.035\n\
         {},2026-02-15T12:00:00Z,0.020\n\
         {},2026-02-16T12:00:00Z,0.035\n\
         {},2026-02-17T12:00:00Z,0.020\n",
        feb[0], feb[1], feb[2], feb[3], feb[4]
    );
    f.env.write("statement.csv", statement);
    let run = f.env.run_line("reconcile --statement statement.csv --prices prices.toml --from 2026-02-01 --to 2026-02-28 --format json");
    run.expect(5);
    let r = run.json();
    assert_eq!(r["buckets"]["matched"]["count"], 5);
    assert_eq!(r["buckets"]["amount_variance"]["count"], 2);
    // Billed 0.145; ours by the list 0.125: net 0.020 = (0.035-0.020) + (0.020-0.015).
    assert_eq!(r["billed_amount"], "0.145");
    assert_eq!(r["our_amount"], "0.120");
    assert_eq!(r["buckets"]["amount_variance"]["amount"], "0.020");
    let notes: Vec<&str> = r["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["bucket"] == "amount_variance")
        .map(|d| d["note"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        [
            "billed 0.035, expected 0.020 (from 2026-02-15, tier 1: 1 to 4)",
            "billed 0.020, expected 0.015 (from 2026-02-15, tier 2: 5 and over)",
        ]
    );
}

#[test]
fn a_summary_statement_is_compared_with_the_list_amount() {
    let f = fixture();
    // February by the list: 0.125 for our 5 checks; the vendor bills 5 checks at 0.145.
    f.env.write(
        "summary.csv",
        "month,count,amount\n2026-01,8,0.225\n2026-02,5,0.145\n",
    );
    let run = f
        .env
        .run_line("reconcile --statement summary.csv --prices prices.toml --format json");
    run.expect(5);
    let r = run.json();
    let diffs: Vec<(&str, i64, &str)> = r["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap(),
                p["difference"].as_i64().unwrap(),
                p["amount_difference"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(diffs, [("2026-01", 0, "0.000"), ("2026-02", 0, "0.020")]);
    assert_eq!(r["buckets"]["amount_variance"]["count"], 1);
    // 0.225 + 0.125 = 0.350, rounded 0.35.
    assert_eq!(r["our_amount"], "0.350");
}

/// Every amount cell of a CSV table: the column `amount` (and the bridge's), never empty.
fn amount_cells(csv: &str) -> Vec<String> {
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let at = rdr.headers().unwrap().iter().position(|h| h == "amount");
    rdr.records()
        .map(|r| r.unwrap()[at.unwrap()].to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

/// A list at `scale = 2` whose tier price has 4 decimals (0.0333, rounded on the total) prints
/// every amount at 2 decimals, in billing and reconcile, in every format: the total 0.36 (the
/// exact 0.3566 rounded once), never `0.3600`, each period rounded from its exact sum (a note
/// says so; JSON keeps it exact); the unit price keeps its 4 decimals. January by the list:
/// 3 x 0.035 + 2 x 0.0333 + 2 x 0.025 + 0.010 = 0.2316; February 0.125.
#[test]
fn a_two_decimal_list_prints_two_decimals_everywhere() {
    let f = fixture();
    f.env
        .write("p4.toml", LIST.replace("\"0.030\"", "\"0.0333\""));
    let two = |a: &String| a.split_once('.').is_some_and(|(_, d)| d.len() == 2);
    let run = f
        .env
        .run_line("report billing --prices p4.toml --by day --format csv");
    let days = amount_cells(&run.stdout);
    assert!(days.len() >= 12, "{}", run.stdout);
    assert!(days.iter().all(two), "{days:?}");
    let run = f
        .env
        .run_line("report billing --prices p4.toml --by month --format table");
    run.stdout_has("0.36 EUR")
        .stdout_has("each row is rounded from its exact sum");
    assert!(!run.stdout.contains("0.3600"), "{}", run.stdout);
    assert!(
        run.stdout.contains(" 0.23 "),
        "January's 0.2316: {}",
        run.stdout
    );
    let b = f
        .env
        .json("report billing --prices p4.toml --by month --format json");
    assert_eq!(b["totals"]["amount"], "0.36");
    assert_eq!(
        b["periods"][0]["amount"], "0.2316",
        "JSON keeps the exact sum"
    );
    let tiers = f
        .env
        .run_line("report billing --prices p4.toml --table tiers --format csv");
    tiers.stdout_has(",0.0333,");
    assert!(
        amount_cells(&tiers.stdout).iter().all(two),
        "{}",
        tiers.stdout
    );

    // A statement in cents reconciles at 2 decimals too: February billed 5 x 0.03.
    let feb = &f.february;
    let mut statement = String::from("liveness_id,billed_at,amount\n");
    for (id, day) in feb.iter().zip([10, 11, 15, 16, 17]) {
        statement += &format!("{id},2026-02-{day}T12:00:00Z,0.03\n");
    }
    f.env.write("statement.csv", statement);
    let line =
        "reconcile --statement statement.csv --prices p4.toml --from 2026-02-01 --to 2026-02-28";
    let bridge = f.env.run_line(&format!("{line} --format csv"));
    let cells = amount_cells(&bridge.stdout);
    assert!(cells.iter().all(two), "{}", bridge.stdout);
    assert!(
        cells.contains(&"0.15".to_string()),
        "billed: {}",
        bridge.stdout
    );
    f.env
        .run_line(&format!("{line} --format table"))
        .stdout_has("expected 0.12 EUR")
        .stdout_has("amounts are shown at 2 decimals");
}
