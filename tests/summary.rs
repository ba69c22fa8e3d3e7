//! Summary statements end to end: the bridge of a planted daily summary (counts and amounts
//! per day) tied to the last decimal in JSON and in the workbook, its three totals equal to
//! the planted faults, and the dispute file holding the disputed periods.

use std::str::FromStr;

use calamine::{Data, Reader, Xlsx, open_workbook};
use rust_decimal::Decimal;

use crate::finance::{PRICES, assert_totals, reconcile_args};
use crate::reconcile::fixture;

/// Our Singapore October: one charged check each on the 2nd to the 5th and the 31st, our 11350
/// on the 9th (fetched after October). Planted: the 3rd bills 2 checks more (0.070), the 4th
/// 0.015 above the price, the 5th 0.005 below it, the 9th bills our 11350 (asked after the
/// statement: to dispute 0.035), the 31st is left out (owed 0.035).
const SUMMARY: &str = "date,checks,amount\n\
                       2026-10-02,1,0.035\n\
                       2026-10-03,3,0.105\n\
                       2026-10-04,1,0.05\n\
                       2026-10-05,1,0.030\n\
                       2026-10-09,1,0.035\n";

/// Billed 0.255 against 0.18 expected (five checks at 0.035, 0.175 rounded on the total):
/// 0.075 = billed_over 0.070 + 11350 confirmed 0.035 + above 0.015 (to dispute 0.120) -
/// underbilled 0.035 - below 0.005 (owed 0.040) + rounding -0.005. Our 11350 last asked inside
/// October moves its 0.035 to check.
#[test]
fn the_bridge_of_a_summary_statement_ties_to_the_last_decimal() {
    let f = fixture();
    f.env.write("summary.csv", SUMMARY);
    f.env.write("prices.toml", PRICES);
    let mut args = reconcile_args();
    args[2] = "summary.csv";
    let mut json = args.clone();
    json.extend(["--format", "json", "--dispute", "dispute.csv"]);
    let run = f.env.run(&json);
    run.expect(5);
    let v = run.json();
    assert_eq!(v["shape"], "summary");
    let b = &v["bridge"];
    assert_eq!(
        (
            &b["billed"],
            &b["expected"],
            &b["difference"],
            &b["rounding"]
        ),
        (
            &"0.255".into(),
            &"0.180".into(),
            &"0.075".into(),
            &"-0.005".into()
        )
    );
    let lines: Vec<(String, u64, String, String)> = b["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["bucket"].as_str().unwrap().to_string(),
                l["count"].as_u64().unwrap(),
                l["amount"].as_str().unwrap().to_string(),
                l["total"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("billed_over", 2, "0.070", "to_dispute"),
        ("provisional_confirmed", 1, "0.035", "to_dispute"),
        ("provisional", 0, "0.000", "to_check"),
        ("unreadable", 0, "0.000", "to_check"),
        ("underbilled", 1, "-0.035", "owed"),
        ("above_price", 1, "0.015", "to_dispute"),
        ("below_price", 1, "-0.005", "owed"),
    ]
    .map(|(b, c, a, t)| (b.to_string(), c, a.to_string(), t.to_string()));
    assert_eq!(lines, expected);
    assert_totals(b, (4, "0.120"), (2, "0.040"), (0, "0.000"));
    // The day left out is compared as billing nothing.
    let oct31 = v["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["period"] == "2026-10-31")
        .unwrap();
    assert_eq!((&oct31["billed"], &oct31["ours"]), (&0.into(), &1.into()));

    // The dispute file: the disputed periods, adding up to the amount to dispute.
    let mut rdr = csv::Reader::from_path(f.env.path("dispute.csv")).unwrap();
    let rows: Vec<(String, String)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[8].to_string(), r[9].to_string())
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("billed_over", "0.070"),
            ("above_price", "0.015"),
            ("provisional_confirmed", "0.035")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );

    // Our 11350 last asked inside October: fetch again before disputing.
    f.internal_last_asked_in_october();
    let run = f.env.run(&json);
    let v = run.json();
    assert_eq!(
        v["bridge"]["to_check"],
        serde_json::json!({"count": 1, "amount": "0.035"})
    );
    assert_eq!(v["bridge"]["to_dispute"]["amount"], "0.085");

    // The workbook's bridge sheet holds the same numbers.
    args.extend(["-o", "summary.xlsx"]);
    f.env.run(&args).expect(5);
    let mut book: Xlsx<_> = open_workbook(f.env.path("summary.xlsx")).unwrap();
    let range = book.worksheet_range("bridge").unwrap();
    let read = |line: &str| -> (String, Decimal) {
        let r = range
            .rows()
            .find(|r| r[0] == Data::String(line.into()))
            .unwrap_or_else(|| panic!("no {line} in the bridge sheet"));
        let a = match &r[2] {
            Data::Float(x) => Decimal::from_str(&format!("{x:.3}")).unwrap(),
            other => panic!("not a number: {other:?}"),
        };
        (r[1].to_string(), a)
    };
    for (line, count, amount) in expected_sheet() {
        assert_eq!(
            read(line),
            (count.to_string(), Decimal::from_str(amount).unwrap()),
            "{line}"
        );
    }
}

/// The workbook's bridge rows: the headline, the lines, rounding and the totals.
fn expected_sheet() -> [(&'static str, &'static str, &'static str); 12] {
    [
        ("billed", "7", "0.255"),
        ("expected", "5", "0.180"),
        ("difference", "2", "0.075"),
        ("billed_over", "2", "0.070"),
        ("provisional", "1", "0.035"),
        ("underbilled", "1", "-0.035"),
        ("above_price", "1", "0.015"),
        ("below_price", "1", "-0.005"),
        ("rounding", "", "-0.005"),
        ("to_dispute", "3", "0.085"),
        ("to_check", "1", "0.035"),
        ("owed", "2", "0.040"),
    ]
}

/// A list whose `rounding = "line"` rounds every price to 0 is said once, as billing says it:
/// in the text, in JSON (`billed_at_zero` and the note), and on stderr beside a CSV table.
#[test]
fn checks_billed_at_zero_by_rounding_are_said_in_every_format() {
    let f = fixture();
    f.env.write("summary.csv", SUMMARY);
    f.env.write(
        "prices.toml",
        PRICES
            .replace("\"total\"", "\"line\"")
            .replace("scale = 2", "scale = 0"),
    );
    let note = "5 charged checks are billed at 0: rounding = \"line\" rounds their list price to 0";
    let mut args = reconcile_args();
    args[2] = "summary.csv";
    let mut json = args.clone();
    json.extend(["--format", "json"]);
    let v = f.env.run(&json).json();
    assert_eq!(v["billed_at_zero"], 5);
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .filter(|n| n.starts_with(note))
        .collect();
    assert_eq!(notes.len(), 1, "{}", v["notes"]);
    let mut table = args.clone();
    table.extend(["--format", "table"]);
    let run = f.env.run(&table);
    assert_eq!(run.stdout.matches(note).count(), 1, "{}", run.stdout);
    let run = f.env.run(&args);
    assert!(run.stdout.starts_with("line,count,amount,total"));
    assert_eq!(run.stderr.matches(note).count(), 1, "{}", run.stderr);
    // Billing says it in the same words.
    let bill = f.env.run_line(
        "report billing --tz Asia/Singapore --from 2026-10-01 --to 2026-10-31 --prices prices.toml --format table",
    );
    bill.stdout_has(note);
}

/// A daily summary drawn in UTC days, reconciled in Singapore days: its counts differ from
/// ours by 4 checks (each check at 20:00 UTC is the next day in Singapore); the zone hint names
/// UTC, and `--statement-tz UTC` reads its days so (our checks counted per UTC day): nothing to
/// dispute, as with `--tz UTC`. Checks per UTC day: 1 on the 2nd, 2, 3, 2 on the 5th.
#[test]
fn a_summary_drawn_in_utc_days_gets_the_zone_hint_and_statement_tz_reads_it() {
    let env = crate::util::Env::plain();
    let ids = crate::reconcile::ids_with(8, &[], |c| c == 200);
    let mut csv = String::from("liveness_id,created_at\n");
    for (id, (day, hour)) in ids.iter().zip([
        (2, 20),
        (3, 20),
        (3, 21),
        (4, 20),
        (4, 21),
        (4, 22),
        (5, 20),
        (5, 21),
    ]) {
        csv.push_str(&format!("{id},2026-10-0{day}T{hour}:00:00Z\n"));
    }
    env.write("ids.csv", csv);
    env.fetch("ids.csv").unlimited().run().expect(0);
    env.write(
        "summary.csv",
        "date,checks\n2026-10-02,1\n2026-10-03,2\n2026-10-04,3\n2026-10-05,2\n",
    );
    let line = "reconcile --statement summary.csv --price 0.035 --tz Asia/Singapore --format json";
    let run = env.run_line(line);
    run.expect(5);
    let v = run.json();
    assert_eq!(
        v["zone_hint"],
        serde_json::json!({"statement_offset": "+00:00", "shift": "+08:00",
            "day_mismatches": 4, "after_shift": 0, "flag": "--statement-tz UTC"})
    );
    for (fix, zone) in [
        ("--statement-tz UTC", "UTC"),
        ("--statement-tz +00:00", "+00:00"),
    ] {
        let run = env.run_line(&format!("{line} {fix}"));
        run.expect(0);
        let v = run.json();
        assert_eq!(
            (&v["zone"], &v["net_difference"]),
            (&zone.into(), &0.into()),
            "{fix}"
        );
        assert_eq!(v["bridge"]["to_dispute"]["amount"], "0.000", "{fix}");
        assert_eq!(v["zone_hint"], serde_json::Value::Null);
    }
    let by_tz = env.json("reconcile --statement summary.csv --price 0.035 --tz UTC --format json");
    assert_eq!(by_tz["our_charged"], 8);
    // On stderr when the report goes to a pipe.
    env.run_line("reconcile --statement summary.csv --price 0.035 --tz Asia/Singapore")
        .stderr_has("zone hint: the daily counts differ from ours by 4 checks, by 0 if the statement's days are read at +00:00");
}
