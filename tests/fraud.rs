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
    assert!(
        table.stdout.contains(
            "this period 2026-W45 against 2026-W44: 100 checks (was 300), attack share 30.0% \
             (21.9-39.6%) (was 10.0%), +20.0 pp; attacks 30 (was 30), volume +0%"
        ),
        "{}",
        table.stdout
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
