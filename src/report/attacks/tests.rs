//! Unit tests of the attack report: the scan against SQL, the spike rule, quantiles.

use super::*;

/// 2,000 checks of every status, some without a time, score or attributes.
fn sample_store(dir: &std::path::Path) -> crate::store::Store {
    let store =
        crate::store::Store::open(&dir.join("t.db"), crate::store::OpenMode::CreateOrMigrate)
            .unwrap();
    let all: Vec<i64> = vec![200, 200, 200, 12205, 12222, 12202, 12250, 11350, 12299];
    for i in 0..2_000i64 {
        let code = all[(i * 7 % all.len() as i64) as usize];
        let status = ["done", "done", "done", "failed", "pending"][(i % 5) as usize];
        store
            .conn
            .execute(
                "INSERT INTO checks (liveness_id, status, code, score, event_time, attrs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    format!("id-{i}"),
                    status,
                    (status == "done").then_some(code),
                    (i % 3 != 0).then_some((i % 100) as f64 / 100.0),
                    (i % 11 != 0).then_some(1_790_000_000_000 + i * 3_600_000),
                    (i % 4 != 0).then(|| format!(r#"{{"channel":"c{}"}}"#, i % 6)),
                ],
            )
            .unwrap();
    }
    store
}

#[test]
fn a_scan_split_over_threads_counts_what_one_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    let codes = CodeTable::shipped();
    let window = Window::new("Asia/Jakarta", crate::check::Period::Day, None, None).unwrap();
    let sorted = |mut s: Scan| {
        s.quarter_hours
            .sort_by_key(|b| (b.start_ms, b.status, b.code, b.count));
        s
    };
    let one = sorted(scan_split(&store.conn, &window, &codes, Some("channel"), i64::MAX).unwrap());
    let split = sorted(scan_split(&store.conn, &window, &codes, Some("channel"), 0).unwrap());
    assert_eq!(one.quarter_hours, split.quarter_hours);
    assert_eq!(one.scores, split.scores);
    assert_eq!(one.dimension, split.dimension);
    assert_eq!(
        one.quarter_hours.iter().map(|b| b.count).sum::<i64>(),
        2_000
    );
    assert!(one.dimension.contains_key("(none)") && one.dimension.len() == 7);
}

#[test]
fn a_scan_counts_exactly_the_checks_sql_puts_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    let codes = CodeTable::shipped();
    // Times on the hour, so checks fall exactly on the window's edges; some checks are dated
    // only by their fetch.
    store
        .conn
        .execute_batch(
            "UPDATE checks SET event_time = 1789999200000 + id * 3600000
                 WHERE event_time IS NOT NULL;
             UPDATE checks SET fetched_at = 1789999200000 + id * 1800000 WHERE id % 7 = 0;",
        )
        .unwrap();
    let windows = [
        (None, None),
        (Some("2026-09-20"), None),
        (None, Some("2026-09-30")),
        (Some("2026-09-25"), Some("2026-10-10")),
    ];
    for (from, to) in windows {
        let window = Window::new("Asia/Jakarta", crate::check::Period::Day, from, to).unwrap();
        let (lo, hi) = window.bounds_ms();
        let by_status = |status: &str| -> i64 {
            store
                .conn
                .query_row(
                    &format!(
                        "SELECT count(*) FROM checks WHERE status = ?4 AND {}",
                        window.sql()
                    ),
                    params![lo, hi, None::<String>, status],
                    |r| r.get(0),
                )
                .unwrap()
        };
        for split_from in [i64::MAX, 0] {
            let scan = scan_split(&store.conn, &window, &codes, None, split_from).unwrap();
            for status in ["pending", "done", "failed"] {
                let counted: i64 = scan
                    .quarter_hours
                    .iter()
                    .filter(|b| b.status.as_str() == status)
                    .map(|b| b.count)
                    .sum();
                assert_eq!(counted, by_status(status), "{status} in {from:?}..{to:?}");
            }
        }
    }
    // The bounded windows do cut: fewer checks than all of them.
    let window = Window::new(
        "UTC",
        crate::check::Period::Day,
        Some("2026-09-25"),
        Some("2026-10-10"),
    )
    .unwrap();
    let scan = scan_split(&store.conn, &window, &codes, None, i64::MAX).unwrap();
    let inside: i64 = scan.quarter_hours.iter().map(|b| b.count).sum();
    assert!(inside > 0 && inside < 2_000, "{inside}");
}

#[test]
fn attribute_reads_one_column_of_the_json_object() {
    let get =
        |attrs: &str, column: &str| attribute(attrs.as_bytes(), column).map(|v| v.into_owned());
    let attrs = r#"{"app":"ios","channel":"web","country":"ID"}"#;
    assert_eq!(get(attrs, "channel").as_deref(), Some("web"));
    assert_eq!(get(attrs, "country").as_deref(), Some("ID"));
    assert_eq!(get(attrs, "missing"), None);
    // Escapes in keys and values, non-ASCII, a quote in the column name.
    let attrs = r#"{"ch\"an":"a\"b","\u00e9t\u00e9":"caf\u00e9","x":"\\"}"#;
    assert_eq!(get(attrs, "ch\"an").as_deref(), Some("a\"b"));
    assert_eq!(get(attrs, "été").as_deref(), Some("café"));
    assert_eq!(get(attrs, "x").as_deref(), Some("\\"));
    // Not strings: as written; null is absent; nested values are not spelled out.
    let attrs = r#"{"n":12,"f":1.5,"b":true,"z":null,"o":{"channel":"web"},"a":[1,"x"]}"#;
    assert_eq!(get(attrs, "n").as_deref(), Some("12"));
    assert_eq!(get(attrs, "f").as_deref(), Some("1.5"));
    assert_eq!(get(attrs, "b").as_deref(), Some("true"));
    assert_eq!(get(attrs, "z"), None);
    assert_eq!(get(attrs, "o").as_deref(), Some("(nested)"));
    assert_eq!(get(attrs, "a").as_deref(), Some("(nested)"));
    assert_eq!(get(attrs, "channel"), None, "only top-level keys count");
    // The last of repeated keys wins; anything but an object has no columns.
    assert_eq!(get(r#"{"k":"1","k":"2"}"#, "k").as_deref(), Some("2"));
    for bad in ["", "not json", "[1,2]", "\"web\"", r#"{"channel":"web""#] {
        assert_eq!(get(bad, "channel"), None, "{bad:?}");
    }
}

fn rule() -> SpikeRule {
    SpikeRule {
        factor: 2.0,
        min_count: 10,
        baseline_periods: 3,
    }
}

fn labels(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("2024-05-{:02}", i + 1)).collect()
}

#[test]
fn spike_fires_when_share_doubles_with_enough_attacks() {
    let resolved = vec![1000, 1000, 1000, 1000];
    let mut fam = BTreeMap::new();
    fam.insert("injection".to_string(), vec![10, 12, 8, 40]);
    let spikes = find_spikes(&labels(4), &resolved, &fam, &rule());
    assert_eq!(spikes.len(), 1);
    assert_eq!(spikes[0].period, "2024-05-04");
    assert_eq!(spikes[0].attacks, 40);
    assert!((spikes[0].baseline_share.unwrap() - 0.010).abs() < 1e-12);
    assert!((spikes[0].ratio.unwrap() - 4.0).abs() < 1e-9);
    // The rule reads the interval's lower end: 4.0% of 1000 is at least 2.9%.
    assert!(spikes[0].share_low >= 0.02 && spikes[0].share_low < 0.04);
}

#[test]
fn spike_is_judged_on_the_lower_bound_so_volume_alone_never_fires() {
    // 25 of 1000 is 2.5x a 1% baseline, but its interval reaches down to 1.7%: not at least
    // 2x for sure.
    let mut fam = BTreeMap::new();
    fam.insert("injection".to_string(), vec![10, 10, 10, 25]);
    assert!(find_spikes(&labels(4), &[1000; 4], &fam, &rule()).is_empty());
    // Volume tripling at the same share is not a spike...
    let mut fam = BTreeMap::new();
    fam.insert("injection".to_string(), vec![20, 20, 20, 60]);
    assert!(find_spikes(&labels(4), &[1000, 1000, 1000, 3000], &fam, &rule()).is_empty());
    // ... the share tripling at the same volume is.
    let mut fam = BTreeMap::new();
    fam.insert("injection".to_string(), vec![20, 20, 20, 60]);
    assert_eq!(find_spikes(&labels(4), &[1000; 4], &fam, &rule()).len(), 1);
}

#[test]
fn spike_does_not_fire_below_the_factor_or_the_minimum() {
    let resolved = vec![1000, 1000, 1000, 3];
    let mut fam = BTreeMap::new();
    // 1 of 3 is a 33% share but only one attack: below the minimum count.
    fam.insert("challenge".to_string(), vec![10, 10, 10, 1]);
    fam.insert("injection".to_string(), vec![10, 10, 10, 0]);
    assert!(find_spikes(&labels(4), &resolved, &fam, &rule()).is_empty());
    // 19 where the baseline is 10 per 1000: 1.9x, under 2x.
    let mut fam = BTreeMap::new();
    fam.insert("presentation".to_string(), vec![10, 10, 10, 19]);
    assert!(find_spikes(&labels(4), &[1000; 4], &fam, &rule()).is_empty());
}

#[test]
fn the_baseline_is_the_periods_just_before_on_the_calendar() {
    // Days 2-4 have no checks: day 5's three days before hold none, so it has no baseline and
    // nothing fires there, however high its share; day 1 is four days back, out of reach.
    let mut fam = BTreeMap::new();
    fam.insert("injection".to_string(), vec![10, 0, 0, 0, 40]);
    let resolved = [1000, 0, 0, 0, 1000];
    assert!(find_spikes(&labels(5), &resolved, &fam, &rule()).is_empty());
    // A gap shorter than the baseline: the days with checks within reach make it.
    let mut fam = BTreeMap::new();
    fam.insert("injection".to_string(), vec![10, 0, 10, 40]);
    let spikes = find_spikes(&labels(4), &[1000, 0, 1000, 1000], &fam, &rule());
    assert_eq!(spikes.len(), 1);
    assert!((spikes[0].baseline_share.unwrap() - 0.010).abs() < 1e-12);
}

#[test]
fn a_family_new_to_the_baseline_fires_on_count() {
    let mut fam = BTreeMap::new();
    fam.insert("injection".to_string(), vec![0, 0, 12]);
    let spikes = find_spikes(&labels(3), &[500; 3], &fam, &rule());
    assert_eq!(spikes.len(), 1);
    assert_eq!(spikes[0].baseline_share, None);
}

#[test]
fn nearest_rank_quantiles() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(quantile(&v, 0.05), Some(5.0));
    assert_eq!(quantile(&v, 0.5), Some(50.0));
    assert_eq!(quantile(&v, 0.95), Some(95.0));
    assert_eq!(quantile(&[], 0.5), None);
}
