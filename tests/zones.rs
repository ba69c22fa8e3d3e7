//! Zones made visible end to end: a statement dated in another zone is named with the offset
//! and the flag that reads it right, and `--statement-tz` then puts every line on its check's day.

use crate::reconcile::ids_with;
use crate::util::{Env, words};

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
    let mut args = words(
        "reconcile --statement statement.csv --tz Asia/Singapore --from 2026-10-05 --to 2026-10-05 --price 0.035 --format json",
    );
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
        .args(words(
            "reconcile --statement statement.csv --tz Asia/Singapore --from 2026-10-05 --to 2026-10-05 --format markdown",
        ))
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

/// Charged checks in `report billing` on `day` (UTC days).
fn charged_on(env: &Env, day: &str) -> serde_json::Value {
    let run = env.run(&[
        "report", "billing", "--tz", "UTC", "--from", day, "--to", day, "--format", "json",
    ]);
    let v = run.json();
    v["totals"]["charged"].clone()
}

/// The rows `export --cursor` writes (its CSV header left out).
fn exported_since(env: &Env) -> Vec<String> {
    let run = env.run(&["export", "--cursor", "export.cursor", "--format", "csv"]);
    run.expect(0);
    run.stdout.lines().skip(1).map(str::to_string).collect()
}

fn stored(env: &Env, id: &str) -> (i64, i64) {
    env.conn()
        .query_row(
            "SELECT event_time, code FROM checks WHERE liveness_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

/// New York times without an offset, read first as UTC (the default), then again in their
/// zone: the stored times are kept with a warning and a count, until `--fix-times` takes the
/// input's, which the cursor sees and billing dates right; codes never change.
#[test]
fn a_later_read_in_another_zone_is_warned_about_and_fix_times_takes_it() {
    let env = Env::plain();
    let ids = ids_with(3, &[], |c| c == 200);
    env.write(
        "ids.csv",
        format!(
            "liveness_id,created_at\n{},2026-10-31 21:00:00\n{},2026-10-31 10:00:00\n\
             {},2026-10-30T12:00:00Z\n",
            ids[0], ids[1], ids[2]
        ),
    );
    let fetch = |extra: &[&str]| {
        let mut args = vec!["fetch", "--backoff-max-ms", "50", "--rate", "0", "ids.csv"];
        args.extend(extra);
        let run = env.run(&args);
        run.expect(0);
        run.stderr.clone()
    };
    let stderr = fetch(&[]);
    assert!(
        stderr.contains("times without an offset read in UTC (the default)"),
        "{stderr}"
    );
    let utc_read = stored(&env, &ids[0]);
    assert_eq!(utc_read.0, 1_793_480_400_000); // 2026-10-31T21:00:00Z
    assert_eq!(
        (
            charged_on(&env, "2026-10-31"),
            charged_on(&env, "2026-11-01")
        ),
        (2.into(), 0.into())
    );
    assert_eq!(exported_since(&env).len(), 3);

    // Read again in New York (from the config file): 21:00 there is 01:00 UTC on 1 November.
    env.write("liveaudit.toml", "input_tz = \"America/New_York\"\n");
    let stderr = fetch(&[]);
    assert!(
        stderr.contains(
            "times without an offset read in America/New_York (input_tz in the config file)"
        ),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("keep their stored time").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("count=2"), "{stderr}");
    assert!(
        stderr.contains("2 stored checks given another event time kept their stored one"),
        "{stderr}"
    );
    assert_eq!(stored(&env, &ids[0]), utc_read);
    let differ: (i64, i64) = env
        .conn()
        .query_row(
            "SELECT time_differs, times_fixed FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(differ, (2, 0));
    assert!(exported_since(&env).is_empty());

    let stderr = fetch(&["--input-tz", "America/New_York", "--fix-times"]);
    assert!(stderr.contains("(--input-tz)"), "{stderr}");
    assert!(stderr.contains("took the input's time"), "{stderr}");
    let fixed = stored(&env, &ids[0]);
    assert_eq!(fixed, (1_793_494_800_000, utc_read.1)); // 2026-11-01T01:00:00Z, same code
    let changes: Vec<(i64, i64)> = env
        .conn()
        .prepare("SELECT old_time, new_time FROM time_changes ORDER BY new_time")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        changes,
        [
            (1_793_440_800_000, 1_793_455_200_000),
            (utc_read.0, fixed.0)
        ]
    );
    let changed = exported_since(&env);
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(
        changed.iter().all(|row| !row.contains(&ids[2])),
        "{changed:?}"
    );
    assert_eq!(
        (
            charged_on(&env, "2026-10-31"),
            charged_on(&env, "2026-11-01")
        ),
        (1.into(), 1.into())
    );
    // Nothing differs any more.
    let stderr = fetch(&["--fix-times"]);
    assert!(!stderr.contains("another event time"), "{stderr}");
}

/// A negative offset is a zone, not a flag: `--input-tz -05:00` (without `=`) reads the
/// input's times five hours behind UTC, as every zone flag takes it.
#[test]
fn a_negative_offset_is_taken_as_a_zone_value() {
    let env = Env::plain();
    env.write("ids.csv", "liveness_id,created_at\nlv-1,2026-10-05 22:00\n");
    let run = env.run(&["fetch", "--rate", "0", "--input-tz", "-05:00", "ids.csv"]);
    run.expect(0);
    run.stderr_has("read in -05:00 (--input-tz)");
    let day = env.run(&[
        "report", "billing", "--by", "day", "--tz", "-05:00", "--format", "json",
    ]);
    day.expect(0);
    day.stdout_has("2026-10-05");
    let utc = env.run(&["report", "billing", "--by", "day", "--format", "json"]);
    utc.stdout_has("2026-10-06");
}

/// An `[accounts.NAME]` section's `input_tz` reads that account's input times, over the file's
/// top-level `input_tz` (as its `tz` does), and the fetch names where the zone came from; a
/// section's `input_tz` that is no zone is refused when the file is read, naming the section.
#[test]
fn an_account_section_reads_its_input_times_in_its_own_input_tz() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::plain();
    let key = env.write("ny.key", format!("{}\n", crate::util::KEY));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = |zone: &str| {
        format!(
            "input_tz = \"UTC\"\n[accounts.ny-app]\npartner_code = \"{}\"\n\
             partner_key_file = {key:?}\nresult_url = \"{}\"\nlicense_url = \"{}\"\n\
             input_tz = \"{zone}\"\n",
            crate::util::CODE,
            env.mock.result_url(),
            env.mock.license_url(),
        )
    };
    let path = env.write("liveaudit.toml", config("America/New_York"));
    let id = ids_with(1, &[], |c| c == 200).remove(0);
    env.write(
        "ids.csv",
        format!("liveness_id,created_at\n{id},2026-10-31 21:00:00\n"),
    );
    let fetch = || {
        env.cmd()
            .env_remove("TD_PARTNER_CODE")
            .env_remove("TD_PARTNER_KEY")
            .env_remove("TD_RESULT_URL")
            .env_remove("TD_LICENSE_URL")
            .env("LIVEAUDIT_CONFIG", &path)
            .args(["fetch", "--rate", "0", "ids.csv"])
            .output()
            .unwrap()
    };
    let out = fetch();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "times without an offset read in America/New_York (input_tz in [accounts.ny-app])"
        ),
        "{stderr}"
    );
    // 21:00 in New York on 31 October is 01:00 UTC on 1 November.
    assert_eq!(stored(&env, &id).0, 1_793_494_800_000);

    env.write("liveaudit.toml", config("Mars/Base"));
    let out = fetch();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("input_tz in [accounts.ny-app]: \"Mars/Base\" is not a time zone"),
        "{stderr}"
    );
}
