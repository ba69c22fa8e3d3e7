//! Reports end to end on a database filled by the real fetch, with exact expected output.

use crate::util;

use liveaudit::mock::expected_code;
use util::Env;

fn first_with(prefix: &str, want: impl Fn(i64) -> bool) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i:06}"))
        .find(|id| want(expected_code(id)))
        .unwrap()
}

/// Ids the mock answers: two successes (a, b), a request error (c) and an unknown code (d).
fn four_ids() -> [String; 4] {
    [
        first_with("a", |c| c == 200),
        first_with("b", |c| c == 200),
        first_with("c", |c| c == 11340),
        first_with("d", |c| c == 12299),
    ]
}

/// Two successes either side of midnight in Jakarta (UTC+7), a request error and an unknown code.
fn fixture() -> (Env, [String; 4]) {
    let env = Env::plain();
    let [a, b, c, d] = four_ids();
    env.write(
        "ids.csv",
        format!(
            "liveness_id,created_at,channel\n\
             {a},2026-10-01T16:30:00Z,web\n\
             {b},2026-10-01T17:30:00Z,app\n\
             {c},2026-10-02T03:00:00Z,web\n\
             {d},2026-10-02T04:00:00Z,web\n"
        ),
    );
    env.fetch("ids.csv").unlimited().run().expect(0);
    (env, [a, b, c, d])
}

#[test]
fn billing_csv_under_a_non_utc_zone_moves_the_day_boundary() {
    let (env, _) = fixture();
    let run = env.ok("report billing --tz Asia/Jakarta --price 0.035 --format csv");
    // CSV is one tidy table per output (issue "one set of numbers" changed the old
    // several-sections file): plain numbers, shares as fractions, money at the price's scale.
    assert_eq!(
        run.stdout,
        "class,checks,share,amount\n\
         charged,2,0.5,0.070\n\
         uncharged,1,0.25,0.000\n\
         provisional,0,0,0.000\n\
         unknown_code,1,0.25,0.000\n\
         unresolved,0,0,0.000\n\
         all,4,1,0.070\n"
    );
    let table = |name: &str| {
        let run = env.ok(&format!(
            "report billing --tz Asia/Jakarta --price 0.035 --format csv --table {name}"
        ));
        run.stdout.clone()
    };
    assert_eq!(
        table("periods"),
        "period,checks,charged,uncharged,provisional,unknown_code,unresolved,amount\n\
         2026-10-01,1,1,0,0,0,0,0.035\n\
         2026-10-02,3,1,1,0,1,0,0.035\n"
    );
    assert_eq!(
        table("codes"),
        "code,message,category,charged,count,amount\n\
         200,success (live person),success,yes,2,0.070\n\
         11340,Parameter error,request_error,no,1,0.000\n\
         12299,New attack type,unknown,unknown,1,0.000\n"
    );
    // In UTC both successes fall on the first.
    let run = env.run(&["report", "billing", "--format", "json"]);
    run.expect(0);
    let v = run.json();
    assert_eq!(v["periods"][0]["period"], "2026-10-01");
    assert_eq!(v["periods"][0]["charged"], 2);
    assert_eq!(v["periods"][1]["checks"], 2);
    assert_eq!(v["basis"]["dated_by_fetch_time"], 0);
}

#[test]
fn billing_in_markdown_and_html_carries_the_same_numbers() {
    let (env, _) = fixture();
    let md = env.ok("report billing --tz Asia/Jakarta --price 0.035 --format markdown");
    md.stdout_has("| 2026-10-02 | 3 | 1 | 1 | 0 | 1 | 0 | 0.035 |");
    env.ok("report billing --tz Asia/Jakarta --price 0.035 --output bill.html");
    let page = std::fs::read_to_string(env.path("bill.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg"));
    assert!(page.contains("<td class=\"n\">0.035</td>"));
    assert!(
        !page.contains("<script") && !page.contains("<link"),
        "self-contained"
    );
}

#[test]
fn from_to_select_local_days() {
    let (env, _) = fixture();
    let v = env
        .json("report billing --tz Asia/Jakarta --from 2026-10-02 --to 2026-10-02 --format json");
    assert_eq!(v["totals"]["checks"], 3);
    assert_eq!(v["totals"]["charged"], 1);
}

#[test]
fn attacks_by_dimension_counts_the_input_column() {
    let (env, _) = fixture();
    let v = env.json("report attacks --dimension channel --format json");
    let rows = v["by_dimension"].as_array().unwrap();
    let web = rows.iter().find(|r| r["value"] == "web").unwrap();
    let app = rows.iter().find(|r| r["value"] == "app").unwrap();
    assert_eq!(
        (web["resolved"].as_i64(), app["resolved"].as_i64()),
        (Some(3), Some(1))
    );
    assert_eq!(v["attacks"], 0);
    assert_eq!(v["rule"]["min_count"], 10);
}

/// Repeated faces as a full recount of the database finds them: digest -> checks carrying it.
fn recount_repeated_faces(env: &Env) -> Vec<(String, i64)> {
    let conn = env.conn();
    let mut stmt = conn
        .prepare(
            "SELECT image_sha256, count(*) FROM checks WHERE image_sha256 IS NOT NULL
             GROUP BY image_sha256 HAVING count(*) > 1 ORDER BY image_sha256",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn reported_repeated_faces(env: &Env) -> Vec<(String, i64)> {
    let run = env.run(&["report", "attacks", "--format", "json"]);
    run.expect(0);
    let v = run.json();
    let mut faces: Vec<(String, i64)> = v["repeated_faces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["image_sha256"].as_str().unwrap().to_string(),
                f["uses"].as_i64().unwrap(),
            )
        })
        .collect();
    faces.sort();
    faces
}

#[test]
fn repeated_faces_are_found_across_runs_and_forgotten_by_purge() {
    let env = Env::plain();
    // Two inputs fetched by two runs: a face replayed in the second run must be matched with
    // its first use in the first run, not only within one write batch.
    let ids = |prefix: &str| {
        let mut csv = String::from("liveness_id,created_at\n");
        for i in 0..300 {
            csv.push_str(&format!(
                "{prefix}-{i:04},2026-10-0{}T10:00:00Z\n",
                1 + i % 5
            ));
        }
        csv
    };
    env.write("one.csv", ids("one"));
    env.write("two.csv", ids("two"));
    let fetch = |file| {
        let args = [
            "fetch",
            "--rate",
            "0",
            "--backoff-min-ms",
            "1",
            "--backoff-max-ms",
            "2",
        ];
        env.run(&[&args[..], &[file]].concat()).expect(0);
    };
    fetch("one.csv");
    fetch("two.csv");

    let truth = recount_repeated_faces(&env);
    assert!(
        !truth.is_empty(),
        "the mock replays a few faces among 600 ids"
    );
    assert_eq!(reported_repeated_faces(&env), truth);

    // A report of a window lists only the checks it counts, and only of its account.
    let conn = env.conn();
    conn.execute_batch(
        "UPDATE checks SET partner_code = 'other' WHERE liveness_id LIKE 'two-%';
         -- One face on ten checks of each input, two on each of the five days.
         UPDATE checks SET image_sha256 = 'f00d' WHERE liveness_id IN
             (SELECT liveness_id FROM checks WHERE liveness_id LIKE 'one-%' ORDER BY id LIMIT 10)
          OR liveness_id IN
             (SELECT liveness_id FROM checks WHERE liveness_id LIKE 'two-%' ORDER BY id LIMIT 10);
         INSERT OR IGNORE INTO repeated_faces VALUES ('f00d');",
    )
    .unwrap();
    let args = [
        "report",
        "attacks",
        "--from",
        "2026-10-02",
        "--to",
        "2026-10-03",
        "--account",
        "test-partner",
        "--format",
        "json",
    ];
    let v: serde_json::Value = serde_json::from_str(&env.run(&args).stdout).unwrap();
    let faces = v["repeated_faces"].as_array().unwrap();
    let planted = faces.iter().find(|f| f["image_sha256"] == "f00d");
    assert_eq!(
        planted.map(|f| f["uses"].as_u64()),
        Some(Some(4)),
        "{faces:?}"
    );
    for face in faces {
        let listed = face["checks"].as_array().unwrap();
        let uses = face["uses"].as_u64().unwrap() as usize;
        assert_eq!(listed.len(), uses.min(20), "{face}");
        for check in listed {
            let id = check[0].as_str().unwrap();
            let (day, code): (i64, String) = conn
                .query_row(
                    "SELECT strftime('%d', event_time / 1000, 'unixepoch'), partner_code
                     FROM checks WHERE liveness_id = ?1",
                    [id],
                    |r| Ok((r.get::<_, String>(0)?.parse().unwrap(), r.get(1)?)),
                )
                .unwrap();
            assert!(
                (2..=3).contains(&day) && code == "test-partner",
                "{id}: {face}"
            );
        }
    }
    conn.execute_batch(
        "UPDATE checks SET partner_code = 'test-partner' WHERE partner_code = 'other';
         UPDATE checks SET image_sha256 = NULL WHERE image_sha256 = 'f00d';
         DELETE FROM repeated_faces WHERE image_sha256 = 'f00d';",
    )
    .unwrap();

    // A purge of the first three days lowers the uses; what stays repeated is recounted.
    env.run(&["purge", "--before", "2026-10-04"]).expect(0);
    let after = recount_repeated_faces(&env);
    let uses = |faces: &[(String, i64)]| faces.iter().map(|f| f.1).sum::<i64>();
    assert!(uses(&after) < uses(&truth));
    assert_eq!(reported_repeated_faces(&env), after);

    // Purging everything leaves no digest, in the report or in the table behind it.
    env.run(&["purge", "--before", "2026-10-06"]).expect(0);
    assert_eq!(recount_repeated_faces(&env), vec![]);
    assert_eq!(reported_repeated_faces(&env), vec![]);
    let kept: i64 = env.one("SELECT count(*) FROM repeated_faces");
    assert_eq!(kept, 0, "purge forgets digests no longer repeated");
}

#[test]
fn dimension_top_n_folds_the_rest_into_other_and_counts_attacks_by_family() {
    use liveaudit::codes::{Category, CodeTable};
    let codes = CodeTable::shipped();
    let is_attack = |c| codes.category(c) == Category::Attack;
    let env = Env::plain();
    // channel -> (successes, attacks); with --top 2 the last two fold into "other".
    let plan = [
        ("web", 3, 3),
        ("ios", 4, 1),
        ("android", 2, 0),
        ("tv", 1, 0),
    ];
    let mut csv = String::from("liveness_id,created_at,channel\n");
    let mut attack_families: Vec<String> = Vec::new();
    for (channel, ok, attacks) in plan {
        for i in 0..ok {
            let id = first_with(&format!("{channel}-ok{i}"), |c| c == 200);
            csv.push_str(&format!("{id},2026-10-01T10:00:00Z,{channel}\n"));
        }
        for i in 0..attacks {
            let id = first_with(&format!("{channel}-at{i}"), is_attack);
            if channel == "web" {
                let family = codes.family(expected_code(&id)).unwrap();
                attack_families.push(family.to_string());
            }
            csv.push_str(&format!("{id},2026-10-01T10:00:00Z,{channel}\n"));
        }
    }
    env.write("ids.csv", csv);
    env.run(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    let v = env.json("report attacks --dimension channel --top 2 --format json");
    let rows = v["by_dimension"].as_array().unwrap();
    let got: Vec<(&str, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["value"].as_str().unwrap(),
                r["resolved"].as_i64().unwrap(),
                r["attacks"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("web", 6, 3), ("ios", 5, 1), ("other (2 values)", 3, 0)]
    );
    let web_families: i64 = rows[0]["by_family"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(web_families, 3);
    for family in &attack_families {
        assert!(
            rows[0]["by_family"][family].as_i64().unwrap() >= 1,
            "{family}"
        );
    }
    assert_eq!(v["attacks"], 4);
}

/// The fixture plus two checks without an event time and one attack.
fn fixture_with_undated() -> (Env, [String; 4]) {
    let (env, ids) = fixture();
    let e = first_with("e", |c| c == 200);
    let f = first_with("f", |c| c == 11340);
    let g = first_with("g", |c| c == 12222);
    env.write(
        "more.csv",
        format!(
            "liveness_id,created_at,channel\n{e},,web\n{f},,web\n{g},2026-10-02T05:00:00Z,web\n"
        ),
    );
    env.run(&["fetch", "--rate", "0", "more.csv"]).expect(0);
    (env, ids)
}

fn json(env: &Env, args: &[&str]) -> serde_json::Value {
    let run = env.run(args);
    run.expect(0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// The labels of a report's periods, in its order.
fn period_labels(report: &serde_json::Value) -> Vec<&str> {
    report["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["period"].as_str().unwrap())
        .collect()
}

/// Guards that checks without an event time are the period `undated` (never dated by their
/// fetch time unless `--date-by` asks), so no period is stretched up to today.
#[test]
fn undated_checks_are_a_period_of_their_own_and_never_dated_silently() {
    let (env, _) = fixture_with_undated();
    let v = json(&env, &["report", "billing", "--format", "json"]);
    let labels = period_labels(&v);
    assert_eq!(
        labels,
        ["2026-10-01", "2026-10-02", "undated"],
        "no period invented"
    );
    assert_eq!(v["periods"][2]["checks"], 2);
    assert_eq!(
        v["totals"]["checks"], 7,
        "undated checks are counted in the totals"
    );
    assert_eq!(v["basis"]["undated"], 2);
    assert_eq!(v["basis"]["dated_by"], "event");

    // A bounded bill says what it leaves out.
    let args = [
        "report",
        "billing",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
    ];
    let mut j = args.to_vec();
    j.extend(["--format", "json"]);
    let v = json(&env, &j);
    assert_eq!(v["totals"]["checks"], 5);
    assert_eq!(v["basis"]["undated_outside_window"], 2);
    let mut t = args.to_vec();
    t.extend(["--format", "table"]);
    let run = env.run(&t);
    run.stdout_has("2 of them are outside --from/--to and not counted");

    // Dated by fetch time when the user asks for it: no undated period remains.
    let v = json(
        &env,
        &[
            "report",
            "billing",
            "--date-by",
            "event-or-fetch",
            "--format",
            "json",
        ],
    );
    assert_eq!(v["basis"]["dated_by_fetch_time"], 2);
    assert!(
        v["periods"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["period"] != "undated")
    );
    assert_eq!(v["totals"]["checks"], 7);

    // The attack report's periods (and so its sparklines) cover the periods with data only.
    let v = json(&env, &["report", "attacks", "--format", "json"]);
    let labels = period_labels(&v);
    assert_eq!(labels, ["2026-10-01", "2026-10-02", "undated"]);
}

/// Guards that the attack report lists codes the table does not know, outside any family.
#[test]
fn unknown_codes_are_listed_in_the_attack_report_and_never_folded_into_a_family() {
    let (env, [_, _, _, d]) = fixture_with_undated();
    let v = json(&env, &["report", "attacks", "--format", "json"]);
    let unknown = v["unknown_codes"].as_array().unwrap();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0]["code"], 12299);
    assert_eq!(unknown[0]["count"], 1);
    assert_eq!(unknown[0]["message"], "New attack type");
    assert!(
        unknown[0]["note"]
            .as_str()
            .unwrap()
            .contains("--codes-file")
    );
    assert_eq!(v["attacks"], 1, "only the known attack");
    let in_families: i64 = v["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["attacks"].as_i64().unwrap())
        .sum();
    assert_eq!(in_families, 1);
    let run = env.run(&["report", "attacks", "--format", "table"]);
    run.stdout_has("not in the code table");

    // Once the table says what it is, it counts where it belongs.
    env.write(
        "codes.csv",
        "code,message,charged,category,family\n12299,New attack type,yes,attack,injection\n",
    );
    let v = json(
        &env,
        &[
            "--codes-file",
            "codes.csv",
            "report",
            "attacks",
            "--format",
            "json",
        ],
    );
    assert!(v["unknown_codes"].as_array().unwrap().is_empty());
    assert_eq!(v["attacks"], 2);
    let export = env.run(&["--codes-file", "codes.csv", "export"]);
    let row = export.stdout.lines().find(|l| l.starts_with(&d)).unwrap();
    assert!(row.contains(",attack,true,"), "{row}");
}

/// Guards that every amount of a report is at one scale, and that each CSV table loads as a
/// table.
#[test]
fn money_has_one_scale_and_csv_tables_load() {
    let (env, _) = fixture_with_undated();
    let md = env.run(&[
        "report", "billing", "--price", "0.035", "--format", "markdown",
    ]);
    md.expect(0);
    assert!(
        md.stdout.contains("| 0.070 |") && md.stdout.contains("| 0.000 |"),
        "{}",
        md.stdout
    );
    assert!(
        !md.stdout.contains("| 0.07 |") && !md.stdout.contains("| 0 |\n"),
        "{}",
        md.stdout
    );
    let whole = env.run(&["report", "billing", "--price", "2", "--format", "table"]);
    assert!(
        whole.stdout.contains("8.00 USD"),
        "at least two decimals: {}",
        whole.stdout
    );

    let dir = env.path("tables");
    let run = env.run(&[
        "report",
        "billing",
        "--price",
        "0.035",
        "--output",
        &format!("{}/", dir.display()),
    ]);
    run.expect(0);
    let read = |name: &str| -> Vec<csv::StringRecord> {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(!text.contains('%') && !text.contains('▁'), "{name}: {text}");
        csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(Result::unwrap)
            .collect()
    };
    let totals = read("totals.csv");
    let periods = read("periods.csv");
    let codes = read("codes.csv");
    let total = |class: &str, col: usize| -> String {
        totals.iter().find(|r| &r[0] == class).unwrap()[col].to_string()
    };
    let sum = |rows: &[csv::StringRecord], col: usize| -> rust_decimal::Decimal {
        rows.iter()
            .map(|r| r[col].parse::<rust_decimal::Decimal>().unwrap())
            .sum()
    };
    assert_eq!(sum(&periods, 2).to_string(), total("charged", 1));
    assert_eq!(sum(&periods, 1).to_string(), total("all", 1));
    assert_eq!(sum(&periods, 7), total("all", 3).parse().unwrap());
    assert_eq!(sum(&codes, 5), total("charged", 3).parse().unwrap());
    let shares: f64 = totals
        .iter()
        .filter(|r| !matches!(&r[0], "all" | "provisional"))
        .map(|r| r[2].parse::<f64>().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9, "{shares}");

    // One table by name; an unknown name is a usage error that lists the names.
    let run = env.run(&[
        "report", "attacks", "--format", "csv", "--table", "families",
    ]);
    run.expect(0);
    assert!(
        run.stdout.starts_with(
            "family,attacks,share_of_checks,share_of_attacks,share_low,share_high,checks_command\n"
        ),
        "{}",
        run.stdout
    );
    let run = env.run(&["report", "billing", "--format", "csv", "--table", "nope"]);
    run.expect(2);
    run.stderr_has("totals, periods, codes");
}

/// Outside text (input columns, vendor messages) in every CSV table, HTML and the dimension.
fn hostile_fixture() -> Env {
    let env = Env::plain();
    let [a, b, _, d] = four_ids();
    env.write(
        "ids.csv",
        format!(
            "liveness_id,created_at,channel\n\
             {a},2026-10-01T16:30:00Z,\"=HYPERLINK(\"\"x\"\")\"\n\
             {b},2026-10-01T17:30:00Z,@SUM(A1)\n\
             {d},2026-10-02T04:00:00Z,web\n"
        ),
    );
    env.fetch("ids.csv").unlimited().run().expect(0);
    env.conn()
        .execute(
            "UPDATE checks SET message = ?1 WHERE code = 12299",
            ["=cmd|' /C calc'!A0\u{1b}[2J\u{7}"],
        )
        .unwrap();
    env
}

fn csv_cells(text: &str) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    r.records()
        .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[test]
fn machine_tables_neutralise_formulas_and_leave_a_lone_dash() {
    let env = hostile_fixture();
    let table = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "report",
            "attacks",
            "--dimension",
            "channel",
            "--format",
            "csv",
            "--table",
            name,
        ];
        args.extend_from_slice(extra);
        let run = env.run(&args);
        run.expect(0);
        run.stdout.clone()
    };
    let unknown = csv_cells(&table("unknown_codes", &[]));
    assert!(
        unknown.iter().any(|c| c.starts_with("'=cmd|")),
        "{unknown:?}"
    );
    let dim = csv_cells(&table("dimension", &[]));
    assert!(dim.contains(&"'=HYPERLINK(\"x\")".to_string()), "{dim:?}");
    assert!(dim.contains(&"'@SUM(A1)".to_string()), "{dim:?}");
    let raw = csv_cells(&table("dimension", &["--raw-cells"]));
    assert!(raw.contains(&"@SUM(A1)".to_string()), "{raw:?}");

    // Every table written to a directory: no formula, and no placeholder turned into text.
    env.run_line("report attacks --dimension channel --output out/")
        .expect(0);
    for path in util::files_under(&env.path("out")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let header = text.lines().next().unwrap_or_default();
        assert!(
            header.split(',').all(|h| !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')),
            "{}: machine headers are snake_case: {header}",
            path.display()
        );
        for cell in csv_cells(&text) {
            assert!(
                !cell.starts_with(['=', '@']) && cell != "'-",
                "{}: {cell:?}",
                path.display()
            );
        }
    }
}

#[test]
fn html_shows_control_characters_escaped() {
    let env = hostile_fixture();
    let run = env.run(&["report", "attacks", "--format", "html"]);
    run.expect(0);
    assert!(!run.stdout.contains(['\u{1b}', '\u{7}']));
    run.stdout_has("\\x1b[2J\\x07");
}

#[test]
fn a_dimension_no_check_has_is_a_usage_error_naming_the_columns() {
    let (env, _) = fixture();
    let run = env.run(&["report", "attacks", "--dimension", "nope"]);
    run.expect(2);
    run.stderr_has("\"nope\"");
    run.stderr_has("channel");
    assert!(run.stdout.is_empty());
}
