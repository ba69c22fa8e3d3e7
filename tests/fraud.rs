//! The fraud analyst's questions end to end: shares with their intervals rather than raw counts,
//! reused faces with their context, and from any row of the attack report to its checks.

use crate::util;

use liveaudit::codes::CodeTable;
use liveaudit::mock::expected_code;
use util::Env;

/// Ids `PREFIX-N` whose mock code satisfies `want`, the first `n` of them.
fn ids_with(prefix: &str, n: usize, want: impl Fn(i64) -> bool) -> Vec<String> {
    (0..)
        .map(|i| format!("{prefix}-{i:06}"))
        .filter(|id| want(expected_code(id)))
        .take(n)
        .collect()
}

fn injection(code: i64) -> bool {
    CodeTable::shipped().family(code) == Some("injection")
}

/// Five ISO weeks of checks (W41-W45 of 2026, in UTC): 100 checks with 10 injection attacks a
/// week, except W44 where volume triples at the same share (300 checks, 30 attacks) and W45
/// where the share triples at normal volume (100 checks, 30 attacks).
fn weeks_fixture() -> Env {
    let env = Env::plain();
    let weeks = [
        ("2026-10-06", 100, 10),
        ("2026-10-13", 100, 10),
        ("2026-10-20", 100, 10),
        ("2026-10-27", 300, 30),
        ("2026-11-03", 100, 30),
    ];
    let total_ok: usize = weeks.iter().map(|w| w.1 - w.2).sum();
    let total_attacks: usize = weeks.iter().map(|w| w.2).sum();
    let mut ok = ids_with("ok", total_ok, |c| c == 200).into_iter();
    let mut attacks = ids_with("inj", total_attacks, injection).into_iter();
    let mut csv = String::from("liveness_id,created_at,channel\n");
    for (day, checks, injections) in weeks {
        for i in 0..checks {
            let id = if i < injections {
                attacks.next()
            } else {
                ok.next()
            };
            let channel = ["web", "ios"][i % 2];
            csv.push_str(&format!(
                "{},{day}T{:02}:00:00Z,{channel}\n",
                id.unwrap(),
                i % 24
            ));
        }
    }
    env.write("weeks.csv", csv);
    env.fetch("weeks.csv").quick().run().expect(0);
    env
}

fn json(env: &Env, args: &[&str]) -> serde_json::Value {
    let run = env.run(args);
    run.expect(0);
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn tripled_volume_at_the_same_share_is_no_spike_and_a_tripled_share_is() {
    let env = weeks_fixture();
    let v = json(
        &env,
        &["report", "attacks", "--by", "week", "--format", "json"],
    );
    let periods = v["periods"].as_array().unwrap();
    let labels: Vec<&str> = periods
        .iter()
        .map(|p| p["period"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["2026-W41", "2026-W42", "2026-W43", "2026-W44", "2026-W45"]
    );
    // W44: volume +200%, share unchanged; W45: share +20 points, the count back to 30.
    let w44 = &periods[3];
    assert_eq!(
        (w44["resolved"].as_i64(), w44["attacks"].as_i64()),
        (Some(300), Some(30))
    );
    assert!(w44["share_change"].as_f64().unwrap().abs() < 1e-12, "{w44}");
    assert!(
        (w44["volume_change"].as_f64().unwrap() - 2.0).abs() < 1e-12,
        "{w44}"
    );
    let w45 = &periods[4];
    assert!(
        (w45["share_change"].as_f64().unwrap() - 0.2).abs() < 1e-12,
        "{w45}"
    );
    assert!(
        w45["volume_change"].as_f64().unwrap().abs() < 1e-12,
        "{w45}"
    );
    // Each share carries its 95% Wilson interval: 30 of 100 is 21.9%-39.6%.
    assert!(
        (w45["share_low"].as_f64().unwrap() - 0.2189).abs() < 5e-4,
        "{w45}"
    );
    assert!(
        (w45["share_high"].as_f64().unwrap() - 0.3958).abs() < 5e-4,
        "{w45}"
    );
    assert_eq!(w45["partial"], false, "a week long past is whole");
    // The spike is W45's, not W44's.
    let spikes: Vec<(&str, &str)> = v["spikes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["period"].as_str().unwrap(), s["family"].as_str().unwrap()))
        .collect();
    assert_eq!(spikes, [("2026-W45", "injection")]);
    // This period against the last, at the top.
    assert_eq!(v["latest"]["period"], "2026-W45");
    assert_eq!(v["latest"]["previous"], "2026-W44");
    assert_eq!(v["latest"]["families"][0]["family"], "injection");
    let table = env.run(&["report", "attacks", "--by", "week", "--format", "table"]);
    table.expect(0);
    table.stdout_has(
        "this period 2026-W45 against 2026-W44: 100 checks (was 300), attack share 30.0% \
             (21.9-39.6%) (was 10.0%), +20.0 pp; attacks 30 (was 30), volume +0%",
    );
}

#[test]
fn the_html_chart_draws_the_share_as_a_line_with_its_interval_over_the_bars() {
    let env = weeks_fixture();
    let run = env.run(&["report", "attacks", "--by", "week", "--format", "html"]);
    run.expect(0);
    let html = &run.stdout;
    // One point per week on the line, in order, and a band around it.
    let line = html
        .split("<polyline class=\"share\" points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no share line:\n{html}"));
    let ys: Vec<f64> = line
        .split(' ')
        .map(|p| p.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(ys.len(), 5, "{line}");
    // Equal shares sit at one height; the tripled share is higher (SVG y grows downwards).
    assert!(ys[..4].iter().all(|y| (y - ys[0]).abs() < 0.11), "{line}");
    assert!(ys[4] < ys[0] - 50.0, "{line}");
    assert!(
        html.contains("<polygon class=\"share-band\""),
        "no interval band"
    );
    let shares: Vec<&str> = html
        .split("data-share=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert_eq!(shares, ["0.1", "0.1", "0.1", "0.1", "0.3"]);
}

/// One face planted on 32 users over 4 channels (3 of its checks passed as 200, 29 attacks),
/// dated around midnight in Singapore, beside ordinary checks.
fn planted_face_fixture(save_images: bool) -> Env {
    let env = Env::plain();
    let passes = ids_with("face-p1-ok", 3, |c| c == 200);
    let attacks = ids_with("face-p1-at", 29, injection);
    let mut csv = String::from("liveness_id,created_at,user_id,channel\n");
    for (i, id) in passes.iter().chain(&attacks).enumerate() {
        // 2025-12-31T16:00Z is 2026-01-01 00:00 in Singapore (UTC+8): the first use is on the
        // 1st there, on the 31st in UTC.
        csv.push_str(&format!(
            "{id},2025-12-31T{:02}:{:02}:00Z,u{i:03},{}\n",
            16 + i / 60,
            i % 60,
            ["web", "ios", "android", "kiosk"][i % 4]
        ));
    }
    for (i, id) in ids_with("plain", 20, |c| c == 200).iter().enumerate() {
        csv.push_str(&format!("{id},2026-01-02T08:{i:02}:00Z,v{i},web\n"));
    }
    env.write("faces.csv", csv);
    let fetch = env.fetch("faces.csv").quick();
    if save_images {
        std::fs::create_dir(env.path("faces")).unwrap();
        fetch.flag("--save-images", "faces").run().expect(0);
    } else {
        fetch.run().expect(0);
    }
    env
}

#[test]
fn a_reused_face_lists_uses_passes_users_channels_and_when_in_the_zone() {
    let env = planted_face_fixture(false);
    let v = json(
        &env,
        &[
            "report",
            "attacks",
            "--tz",
            "Asia/Singapore",
            "--format",
            "json",
        ],
    );
    let faces = v["repeated_faces"].as_array().unwrap();
    let face = &faces[0];
    assert_eq!(face["uses"], 32, "{face}");
    assert_eq!(face["passes"], 3, "{face}");
    assert_eq!(face["distinct"]["user_id"], 32, "{face}");
    assert_eq!(face["distinct"]["channel"], 4, "{face}");
    assert_eq!(face["accounts"], serde_json::json!([util::CODE]));
    assert_eq!(face["codes"]["200"], 3, "{face}");
    assert_eq!(face["first_seen"], "2026-01-01T00:00:00+08:00", "{face}");
    assert_eq!(face["last_seen"], "2026-01-01T00:31:00+08:00", "{face}");
    // Only the planted face is used more than once.
    assert_eq!(faces.len(), 1, "{faces:?}");
    // --face-columns chooses the columns; CSV carries them as distinct_NAME.
    let run = env
        .ok("report attacks --tz Asia/Singapore --face-columns channel --format csv --table faces");
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        "image_sha256,uses,passes,codes,distinct_channel,accounts,first_seen,last_seen,\
         liveness_ids,checks_command"
    );
    let row: Vec<String> = csv::Reader::from_reader(run.stdout.as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(row[1..3], ["32", "3"]);
    assert!(
        row[3].starts_with("200:3 ") || row[3].contains(" 200:3"),
        "{row:?}"
    );
    assert_eq!(row[4], "4");
    assert_eq!(row[6], "2026-01-01T00:00:00+08:00");
}

/// Runs a printed `liveaudit checks ...` line against `env`'s database and counts its checks.
fn checks_listed(env: &Env, command: &str) -> usize {
    let words = shlex::split(command).unwrap();
    assert_eq!(words[..2], ["liveaudit", "checks"], "{command}");
    let mut args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    args.extend(["--format", "json"]);
    let v = json(env, &args);
    let listed = v["checks"].as_array().unwrap().len();
    assert_eq!(v["matched"].as_u64(), Some(listed as u64), "{command}");
    listed
}

#[test]
fn every_row_of_spikes_families_dimension_and_faces_names_a_command_listing_its_count() {
    let env = weeks_fixture();
    // The planted face's checks, dated in the weeks too.
    let passes = ids_with("face-w-ok", 2, |c| c == 200);
    let mut csv = String::from("liveness_id,created_at,channel\n");
    for (i, id) in passes.iter().enumerate() {
        csv.push_str(&format!("{id},2026-10-2{i}T23:30:00Z,kiosk\n"));
    }
    env.write("more.csv", csv);
    env.fetch("more.csv").quick().run().expect(0);
    for tz in ["UTC", "Asia/Singapore"] {
        let v = json(
            &env,
            &[
                "report",
                "attacks",
                "--by",
                "week",
                "--tz",
                tz,
                "--from",
                "2026-10-08",
                "--dimension",
                "channel",
                "--top",
                "2",
                "--format",
                "json",
            ],
        );
        let mut rows = 0;
        for (table, count) in [
            ("spikes", "attacks"),
            ("families", "attacks"),
            ("by_dimension", "attacks"),
            ("repeated_faces", "uses"),
        ] {
            for row in v[table].as_array().unwrap() {
                let Some(command) = row["checks_command"].as_str() else {
                    // Only the folded row stands for no one set.
                    let value = row["value"].as_str().unwrap_or_default();
                    assert!(value.starts_with("other ("), "{row}");
                    continue;
                };
                assert_eq!(
                    checks_listed(&env, command) as i64,
                    row[count].as_i64().unwrap(),
                    "{table} {row}"
                );
                rows += 1;
            }
        }
        // Spikes (1), families (3), channel values (2 of 3: kiosk folds), and the faces: the
        // planted one and any of the mock's replayed photos.
        let faces = v["repeated_faces"].as_array().unwrap().len();
        assert!(faces >= 1, "{v}");
        assert_eq!(rows, 6 + faces, "{tz}: {v}");
    }
    // The CSV tables end with the same command; HTML carries it as the row's title.
    let run = env.run(&[
        "report", "attacks", "--by", "week", "--format", "csv", "--table", "spikes",
    ]);
    run.expect(0);
    assert!(
        run.stdout
            .lines()
            .next()
            .unwrap()
            .ends_with(",checks_command")
    );
    run.stdout_has(
        "liveaudit checks --tz UTC --from 2026-11-02 --to 2026-11-08 --family injection",
    );
    let html = env.run(&["report", "attacks", "--by", "week", "--format", "html"]);
    html.expect(0);
    html.stdout_has("<tr title=\"liveaudit checks --tz UTC --family injection\">");
}

#[test]
fn checks_filters_by_class_code_attr_undated_and_refuses_bad_values() {
    let env = weeks_fixture();
    let count = |args: &[&str]| {
        let mut all = vec!["checks", "--format", "json"];
        all.extend(args);
        json(&env, &all)["matched"].as_u64().unwrap()
    };
    assert_eq!(count(&[]), 700);
    assert_eq!(count(&["--class", "charged"]), 700);
    assert_eq!(count(&["--category", "attack"]), 90);
    assert_eq!(
        count(&["--category", "attack", "--attr", "channel=web"]),
        45
    );
    assert_eq!(count(&["--code", "200"]), 610);
    assert_eq!(count(&["--undated"]), 0);
    assert_eq!(count(&["--from", "2026-10-27", "--to", "2026-11-02"]), 300);
    let limited = json(&env, &["checks", "--limit", "5", "--format", "json"]);
    assert_eq!(limited["checks"].as_array().unwrap().len(), 5);
    assert_eq!(limited["matched"], 700);
    for (args, says) in [
        (vec!["checks", "--attr", "channel"], "is not NAME=VALUE"),
        (vec!["checks", "--face", "xyz"], "hex digits"),
        (vec!["checks", "--category", "nope"], "not a category"),
        (
            vec!["checks", "--undated", "--from", "2026-10-01"],
            "cannot be used with",
        ),
    ] {
        let run = env.run(&args);
        run.expect(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn face_images_are_shown_only_when_asked_and_saved() {
    let env = planted_face_fixture(true);
    let html = |extra: &[&str]| {
        let mut args = vec!["report", "attacks", "--format", "html"];
        args.extend(extra);
        let run = env.run(&args);
        run.expect(0);
        run.stdout.clone()
    };
    let off = html(&[]);
    assert!(!off.contains("<img"), "images are off by default");
    assert!(
        off.contains("add --with-images DIR"),
        "says how to get them"
    );
    let on = html(&["--with-images", "faces"]);
    assert_eq!(
        on.matches("<img src=\"data:image/jpeg;base64,").count(),
        1,
        "once per face"
    );
    let empty = env.path("none");
    std::fs::create_dir(&empty).unwrap();
    let none = html(&["--with-images", empty.to_str().unwrap()]);
    assert!(
        !none.contains("<img") && none.contains("No saved image"),
        "{none}"
    );
}

/// The dimension's "(none)" row (checks without the column: here a file without it) names
/// `checks --no-attr COLUMN`, which lists exactly its attacks, none of those with a channel.
#[test]
fn the_none_row_of_a_dimension_names_the_checks_without_the_column() {
    let env = Env::plain();
    let with = ids_with("chan", 12, injection);
    let without = ids_with("bare", 7, injection);
    let mut csv = String::from("liveness_id,channel\n");
    for (i, id) in with.iter().enumerate() {
        csv.push_str(&format!("{id},{}\n", ["web", "ios"][i % 2]));
    }
    env.write("with.csv", csv);
    env.write(
        "without.csv",
        format!("liveness_id\n{}\n", without.join("\n")),
    );
    for file in ["with.csv", "without.csv"] {
        env.fetch(file).quick().run().expect(0);
    }
    let v = json(
        &env,
        &[
            "report",
            "attacks",
            "--dimension",
            "channel",
            "--format",
            "json",
        ],
    );
    let rows = v["by_dimension"].as_array().unwrap();
    let none = rows.iter().find(|r| r["value"] == "(none)").unwrap();
    assert_eq!(none["attacks"], 7, "{v}");
    let command = none["checks_command"].as_str().unwrap();
    assert_eq!(
        command,
        "liveaudit checks --tz UTC --category attack --no-attr channel"
    );
    assert_eq!(checks_listed(&env, command), 7);
    let listed = env.json("checks --no-attr channel --format json");
    let ids: std::collections::BTreeSet<&str> = listed["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["liveness_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, without.iter().map(String::as_str).collect());
    // Every row names its command, and the rows' attacks add up to the report's.
    let sum: i64 = rows.iter().map(|r| r["attacks"].as_i64().unwrap()).sum();
    assert_eq!(sum, v["attacks"].as_i64().unwrap());
    assert!(rows.iter().all(|r| r["checks_command"].is_string()), "{v}");
    env.run(&["checks", "--no-attr", ""]).expect(2);
}
