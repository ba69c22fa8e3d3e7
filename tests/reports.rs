//! Reports end to end on a database filled by the real fetch, with exact expected output.

mod util;

use liveaudit::mock::expected_code;
use util::Env;

fn first_with(prefix: &str, want: impl Fn(i64) -> bool) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i:06}"))
        .find(|id| want(expected_code(id)))
        .unwrap()
}

/// Two successes either side of midnight in Jakarta (UTC+7), a request error and an unknown code.
fn fixture() -> (Env, [String; 4]) {
    let env = Env::plain();
    let a = first_with("a", |c| c == 200);
    let b = first_with("b", |c| c == 200);
    let c = first_with("c", |c| c == 11340);
    let d = first_with("d", |c| c == 12299);
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
    env.run(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    (env, [a, b, c, d])
}

#[test]
fn billing_csv_under_a_non_utc_zone_moves_the_day_boundary() {
    let (env, _) = fixture();
    let run = env.run(&[
        "report",
        "billing",
        "--tz",
        "Asia/Jakarta",
        "--price",
        "0.035",
        "--format",
        "csv",
    ]);
    run.expect(0);
    assert_eq!(
        run.stdout,
        "section,,checks,share\n\
         Totals,charged,2,50.0%\n\
         Totals,uncharged,1,25.0%\n\
         Totals,unknown code (charge not known),1,25.0%\n\
         Totals,unresolved (no final answer yet),0,0.0%\n\
         Totals,all checks,4,100.0%\n\
         Totals,amount,0.07 USD,\n\
         \n\
         section,period,checks,charged,uncharged,unknown,unresolved,amount\n\
         Per period,2026-10-01,1,1,0,0,0,0.035\n\
         Per period,2026-10-02,3,1,1,1,0,0.035\n\
         \n\
         section,code,message,category,charged,count,amount\n\
         Per code,200,success (live person),success,yes,2,0.07\n\
         Per code,11340,{parameter} error,request_error,no,1,0\n\
         Per code,12299,New attack type,unknown,unknown,1,0\n"
    );
    // In UTC both successes fall on the first.
    let run = env.run(&["report", "billing", "--format", "json"]);
    run.expect(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["periods"][0]["period"], "2026-10-01");
    assert_eq!(v["periods"][0]["charged"], 2);
    assert_eq!(v["periods"][1]["checks"], 2);
    assert_eq!(v["basis"]["dated_by_fetch_time"], 0);
}

#[test]
fn billing_in_markdown_and_html_carries_the_same_numbers() {
    let (env, _) = fixture();
    let md = env.run(&[
        "report",
        "billing",
        "--tz",
        "Asia/Jakarta",
        "--price",
        "0.035",
        "--format",
        "markdown",
    ]);
    md.expect(0);
    assert!(
        md.stdout
            .contains("| 2026-10-02 | 3 | 1 | 1 | 1 | 0 | 0.035 |"),
        "{}",
        md.stdout
    );
    let html = env.run(&[
        "report",
        "billing",
        "--tz",
        "Asia/Jakarta",
        "--price",
        "0.035",
        "--output",
        "bill.html",
    ]);
    html.expect(0);
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
    let run = env.run(&[
        "report",
        "billing",
        "--tz",
        "Asia/Jakarta",
        "--from",
        "2026-10-02",
        "--to",
        "2026-10-02",
        "--format",
        "json",
    ]);
    run.expect(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["totals"]["checks"], 3);
    assert_eq!(v["totals"]["charged"], 1);
}

#[test]
fn attacks_by_dimension_counts_the_input_column() {
    let (env, _) = fixture();
    let run = env.run(&[
        "report",
        "attacks",
        "--dimension",
        "channel",
        "--format",
        "json",
    ]);
    run.expect(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
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
