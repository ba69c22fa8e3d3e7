//! Zones made visible end to end: a statement dated in another zone is named with the offset
//! and the flag that reads it right, and `--statement-tz` then puts every line on its check's day.

use crate::reconcile::ids_with;
use crate::util::Env;

/// 24 charged checks, one an hour through 5 October 2026 in Singapore (00:10 to 23:10, +08:00).
fn hourly() -> (Env, Vec<(String, jiff::Timestamp)>) {
    let env = Env::plain();
    let ids = ids_with(24, &[], |c| c == 200);
    let start: jiff::Timestamp = "2026-10-04T16:10:00Z".parse().unwrap();
    let checks: Vec<(String, jiff::Timestamp)> = ids
        .into_iter()
        .enumerate()
        .map(|(h, id)| (id, start + jiff::SignedDuration::from_hours(h as i64)))
        .collect();
    let mut csv = String::from("liveness_id,created_at\n");
    for (id, t) in &checks {
        csv.push_str(&format!("{id},{t}\n"));
    }
    env.write("ids.csv", csv);
    env.run(&["fetch", "--backoff-max-ms", "50", "--rate", "0", "ids.csv"])
        .expect(0);
    (env, checks)
}

/// The statement of those checks with its times written, without an offset, in `zone`.
fn statement(checks: &[(String, jiff::Timestamp)], zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap();
    let mut s = String::from("billed_at,liveness_id,amount\n");
    for (id, t) in checks {
        let civil = tz.to_datetime(*t);
        s.push_str(&format!(
            "{},{id},0.035\n",
            civil.strftime("%Y-%m-%d %H:%M:%S")
        ));
    }
    s
}

fn reconcile(env: &Env, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let mut args = vec![
        "reconcile",
        "--statement",
        "statement.csv",
        "--tz",
        "Asia/Singapore",
        "--from",
        "2026-10-05",
        "--to",
        "2026-10-05",
        "--price",
        "0.035",
        "--format",
        "json",
    ];
    args.extend(extra);
    let out = env.cmd().args(&args).output().unwrap();
    // A refused run writes nothing to stdout.
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_statement_dated_in_another_zone_is_named_and_read_right_with_statement_tz() {
    let (env, checks) = hourly();
    // Written in Singapore: every line on its check's day, no hint.
    env.write("statement.csv", statement(&checks, "Asia/Singapore"));
    let (code, v, _) = reconcile(&env, &[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(
        (&v["day_mismatches"], &v["zone_hint"]),
        (&0.into(), &serde_json::Value::Null)
    );

    // A UTC-dated copy: the checks of 00:10 to 07:10 in Singapore are the day before in UTC.
    env.write("statement.csv", statement(&checks, "UTC"));
    let (code, v, stderr) = reconcile(&env, &[]);
    assert_eq!(code, Some(5));
    assert_eq!(v["day_mismatches"], 8);
    let hint = &v["zone_hint"];
    assert_eq!(
        (&hint["statement_offset"], &hint["shift"], &hint["flag"]),
        (
            &"+00:00".into(),
            &"+08:00".into(),
            &"--statement-tz UTC".into()
        ),
        "{v}"
    );
    assert_eq!(
        (&hint["day_mismatches"], &hint["after_shift"]),
        (&8.into(), &0.into())
    );
    assert_eq!(stderr.matches("zone hint").count(), 1, "{stderr}");
    assert!(stderr.contains("--statement-tz UTC"), "{stderr}");
    // The people's report opens with it.
    let md = env
        .cmd()
        .args([
            "reconcile",
            "--statement",
            "statement.csv",
            "--tz",
            "Asia/Singapore",
        ])
        .args([
            "--from",
            "2026-10-05",
            "--to",
            "2026-10-05",
            "--format",
            "markdown",
        ])
        .output()
        .unwrap();
    let (md, err) = (
        String::from_utf8_lossy(&md.stdout),
        String::from_utf8_lossy(&md.stderr),
    );
    let first_summary = md
        .lines()
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("{md}{err}"));
    assert!(
        first_summary.contains("zone hint: 8 lines fall on another day"),
        "{md}"
    );

    let (code, v, stderr) = reconcile(&env, &["--statement-tz", "UTC"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(
        (&v["day_mismatches"], &v["zone_hint"]),
        (&0.into(), &serde_json::Value::Null)
    );
    assert_eq!(
        (&v["discrepancies"], &v["statement_zone"]),
        (&0.into(), &"UTC".into())
    );
    assert!(!stderr.contains("zone hint"), "{stderr}");
}

#[test]
fn a_half_hour_zone_is_found_and_read_as_an_offset() {
    let (env, checks) = hourly();
    // India, +05:30: the checks of 00:10 to 02:10 in Singapore are the day before there.
    env.write("statement.csv", statement(&checks, "Asia/Kolkata"));
    let (_, v, _) = reconcile(&env, &[]);
    let hint = &v["zone_hint"];
    assert_eq!(
        (&hint["statement_offset"], &hint["shift"], &hint["flag"]),
        (
            &"+05:30".into(),
            &"+02:30".into(),
            &"--statement-tz +05:30".into()
        ),
        "{v}"
    );
    assert_eq!(v["day_mismatches"], 3);
    for zone in ["+05:30", "Asia/Kolkata"] {
        let (code, v, _) = reconcile(&env, &["--statement-tz", zone]);
        assert_eq!(
            (code, &v["day_mismatches"]),
            (Some(0), &0.into()),
            "{zone}: {v}"
        );
    }
    let (code, _, stderr) = reconcile(&env, &["--statement-tz", "+5:3"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("--statement-tz: \"+5:3\" is not a time zone"),
        "{stderr}"
    );
}
