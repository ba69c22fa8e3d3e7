//! The dispute file end to end: one row per disputed line of the planted statement, with its
//! evidence, adding up to the bridge's "to dispute" amount in CSV and read back from the
//! workbook; and a reconcile workbook's bridge read back equal to the JSON bridge.

use std::str::FromStr;

use calamine::{Data, Reader, Xlsx, open_workbook};
use rust_decimal::Decimal;

use crate::finance::{PRICES, planted, reconcile_args};
use crate::reconcile::{Fixture, fixture};

/// Runs the planted reconcile with `extra`; returns its JSON bridge.
fn bridge(f: &Fixture, extra: &[&str]) -> serde_json::Value {
    let mut args = reconcile_args();
    args.extend(["--format", "json"]);
    args.extend(extra);
    let run = f.env.run(&args);
    run.expect(5);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    v["bridge"].clone()
}

fn sheet(path: &std::path::Path, name: &str) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> = open_workbook(path).unwrap();
    let range = book.worksheet_range(name).unwrap();
    range.rows().map(<[Data]>::to_vec).collect()
}

/// A number cell as an amount at the report's 3 decimals.
fn amount(cell: &Data) -> Decimal {
    match cell {
        Data::Float(x) => Decimal::from_str(&format!("{x:.3}")).unwrap(),
        other => panic!("not a number: {other:?}"),
    }
}

#[test]
fn the_dispute_file_lists_every_disputed_line_and_adds_up_to_the_bridge() {
    let f = fixture();
    let mut statement = planted(&f);
    // A formula for an id: unknown to us, disputed, and never a live formula in the CSV.
    statement.push_str("2026-10-12T10:00:00Z,\"=HYPERLINK(\"\"x\"\")\",,0.035\n");
    f.env.write("statement.csv", statement);
    f.env.write("prices.toml", PRICES);
    let b = bridge(&f, &["--dispute", "dispute.csv"]);
    let to_dispute = &b["to_dispute"];
    assert_eq!(
        to_dispute,
        &serde_json::json!({"count": 6, "amount": "0.190"})
    );

    let text = std::fs::read_to_string(f.env.path("dispute.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "liveness_id",
            "statement_line",
            "statement_amount",
            "our_code",
            "message",
            "sequence_id",
            "fetched_at",
            "attempts",
            "bucket",
            "disputed_amount",
            "note"
        ]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6, "{text}");
    let total: Decimal = rows.iter().map(|r| Decimal::from_str(&r[9]).unwrap()).sum();
    assert_eq!(total.to_string(), "0.190");
    // The duplicate: the second line of the first check, with its evidence from our records.
    let dup = rows.iter().find(|r| &r[8] == "duplicate").unwrap();
    let (seq, attempts): (String, i64) = f
        .env
        .conn()
        .query_row(
            "SELECT sequence_id, attempts FROM checks WHERE liveness_id = ?1",
            [&f.charged[0]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (&dup[0], &dup[1], &dup[2], &dup[3], &dup[5], &dup[9]),
        (
            f.charged[0].as_str(),
            "3",
            "0.035",
            "200",
            seq.as_str(),
            "0.035"
        )
    );
    assert_eq!(dup[7].parse::<i64>().unwrap(), attempts);
    assert!(dup[6].ends_with('Z') && !dup[4].is_empty(), "{text}");
    // Above the price: the difference is disputed, not the line.
    let above = rows.iter().find(|r| &r[8] == "above_price").unwrap();
    assert_eq!((&above[2], &above[9]), ("0.050", "0.015"));
    assert!(rows.iter().any(|r| &r[0] == "'=HYPERLINK(\"x\")"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with('=')), "{text}");

    // The workbook: the same rows as numbers, the bridge and the period.
    bridge(&f, &["--dispute", "dispute.xlsx"]);
    let path = f.env.path("dispute.xlsx");
    let disputes = sheet(&path, "disputes");
    assert_eq!(disputes.len(), 7);
    let total: Decimal = disputes[1..].iter().map(|r| amount(&r[9])).sum();
    assert_eq!(total.to_string(), "0.190");
    let bridge_rows = sheet(&path, "bridge");
    let row = bridge_rows
        .iter()
        .find(|r| r[0] == Data::String("to_dispute".into()))
        .unwrap();
    assert_eq!(amount(&row[2]).to_string(), "0.190");
    let period = sheet(&path, "period");
    let value = |item: &str| {
        period
            .iter()
            .find(|r| r[0] == Data::String(item.into()))
            .map(|r| r[1].to_string())
    };
    assert_eq!(
        value("zone").as_deref(),
        Some("Asia/Singapore"),
        "{period:?}"
    );
    assert_eq!(value("currency").as_deref(), Some("USD"), "{period:?}");
    assert!(
        value("from").is_some() && value("to").is_some(),
        "{period:?}"
    );

    // Any other kind is refused before anything is read, naming the two kinds.
    let mut args = reconcile_args();
    args.extend(["--dispute", "dispute.ods"]);
    let run = f.env.run(&args);
    run.expect(2);
    run.stderr_has("name it FILE.csv or FILE.xlsx");
    assert!(!f.env.path("dispute.ods").exists());
}

#[test]
fn the_reconcile_workbook_bridge_reads_back_as_the_json_bridge() {
    let f = fixture();
    f.env.write("statement.csv", planted(&f));
    f.env.write("prices.toml", PRICES);
    let b = bridge(&f, &[]);
    let mut args = reconcile_args();
    args.extend(["-o", "reconcile.xlsx"]);
    f.env.run(&args).expect(5);
    let rows = sheet(&f.env.path("reconcile.xlsx"), "bridge");
    let read = |line: &str| -> (String, Decimal) {
        let r = rows
            .iter()
            .find(|r| r[0] == Data::String(line.into()))
            .unwrap_or_else(|| panic!("no {line} in {rows:?}"));
        (r[1].to_string(), amount(&r[2]))
    };
    let json_amount = |v: &serde_json::Value| Decimal::from_str(v.as_str().unwrap()).unwrap();
    for (line, json) in [
        ("statement", &b["statement"]["amount"]),
        ("outside_period", &b["outside_period"]["amount"]),
        ("billed", &b["billed"]),
        ("expected", &b["expected"]),
        ("difference", &b["difference"]),
        ("rounding", &b["rounding"]),
    ] {
        assert_eq!(read(line).1, json_amount(json), "{line}");
    }
    for l in b["lines"].as_array().unwrap() {
        let bucket = l["bucket"].as_str().unwrap();
        assert_eq!(
            read(bucket),
            (l["count"].to_string(), json_amount(&l["amount"])),
            "{bucket}"
        );
    }
    for total in ["to_dispute", "owed", "to_check"] {
        assert_eq!(
            read(total),
            (
                b[total]["count"].to_string(),
                json_amount(&b[total]["amount"])
            ),
            "{total}"
        );
    }
}
