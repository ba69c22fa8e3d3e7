//! Attack shares with their uncertainty, and "this period against the last".
//!
//! Policy: a share is judged with its 95% Wilson score interval, never as a bare ratio: 3
//! attacks in 10 checks and 300 in 1,000 are both 30%, but only the second says much. A
//! period's change against the one before is the change of its share (in percentage points);
//! the change of its attack count stands beside it as volume, since volume alone moves with
//! traffic, not with fraud. A period not yet over, or cut by `--from`/`--to`, is `partial`: its
//! count is not comparable, so it is compared on share only.

use super::*;

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The 95% Wilson score interval of `part` successes in `whole` trials (`None` when `whole`
/// is 0). Unlike the normal approximation it stays within [0, 1] and is honest for small
/// counts and for shares near 0.
pub(crate) fn wilson(part: i64, whole: i64) -> Option<(f64, f64)> {
    if whole <= 0 {
        return None;
    }
    let n = whole as f64;
    let p = part as f64 / n;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At 0 (or all) the interval ends exactly at 0 (or 1), not a rounding error away.
    let low = if part <= 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let high = if part >= whole {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    Some((low, high))
}

/// A share with its interval, for people: `19.0% (16.1-22.3%)`, or `-` with no checks.
pub(crate) fn with_interval(part: i64, whole: i64) -> String {
    match (share(part, whole), wilson(part, whole)) {
        (Some(s), Some((lo, hi))) => {
            format!("{:.1}% ({:.1}-{:.1}%)", s * 100.0, lo * 100.0, hi * 100.0)
        }
        _ => "-".into(),
    }
}

/// A change of share for people, in percentage points: `+3.1 pp`.
pub(crate) fn points(change: Option<f64>) -> String {
    change.map_or_else(|| "-".into(), |c| format!("{:+.1} pp", c * 100.0))
}

/// A relative change of a count for people: `+258%`.
pub(crate) fn volume(change: Option<f64>) -> String {
    change.map_or_else(|| "-".into(), |c| format!("{:+.0}%", c * 100.0))
}

/// `(now - before) / before`, when there was something before.
pub(crate) fn relative(now: i64, before: i64) -> Option<f64> {
    (before > 0).then(|| (now - before) as f64 / before as f64)
}

/// One family's move between the last two periods.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct FamilyMove {
    pub family: String,
    pub attacks: i64,
    pub previous_attacks: i64,
    pub share: Option<f64>,
    pub previous_share: Option<f64>,
    /// The share's change, as a fraction (0.031 = +3.1 points).
    pub share_change: Option<f64>,
    /// The attack count's change, as a fraction; `None` when the period is partial.
    pub volume_change: Option<f64>,
}

/// The last dated period against the one before it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Latest {
    pub period: String,
    /// Not over yet, or cut by the window: compared on share only.
    pub partial: bool,
    pub previous: String,
    pub resolved: i64,
    pub previous_resolved: i64,
    pub attacks: i64,
    pub previous_attacks: i64,
    pub attack_share: Option<f64>,
    pub share_low: Option<f64>,
    pub share_high: Option<f64>,
    pub previous_share: Option<f64>,
    pub share_change: Option<f64>,
    pub volume_change: Option<f64>,
    /// The families whose share moved most (by the size of the change), at most three.
    pub families: Vec<FamilyMove>,
}

/// Families listed in "moved most".
const MOVED_MOST: usize = 3;

/// The last dated period against the one before it (`None` with fewer than two).
pub(crate) fn this_against_last(periods: &[PeriodRow]) -> Option<Latest> {
    let dated: Vec<&PeriodRow> = periods.iter().filter(|p| p.period != UNDATED).collect();
    let [.., before, now] = dated.as_slice() else {
        return None;
    };
    let comparable = |n: i64, b: i64| relative(n, b).filter(|_| !now.partial);
    let mut families: Vec<FamilyMove> = now
        .by_family
        .iter()
        .map(|(family, &n)| {
            let b = before.by_family.get(family).copied().unwrap_or(0);
            let (s, sb) = (share(n, now.resolved), share(b, before.resolved));
            FamilyMove {
                family: family.clone(),
                attacks: n,
                previous_attacks: b,
                share: s,
                previous_share: sb,
                share_change: s.zip(sb).map(|(s, sb)| s - sb),
                volume_change: comparable(n, b),
            }
        })
        .collect();
    families.sort_by(|a, b| {
        let size = |m: &FamilyMove| m.share_change.map_or(0.0, f64::abs);
        size(b).total_cmp(&size(a)).then(a.family.cmp(&b.family))
    });
    families.truncate(MOVED_MOST);
    let interval = wilson(now.attacks, now.resolved);
    Some(Latest {
        period: now.period.clone(),
        partial: now.partial,
        previous: before.period.clone(),
        resolved: now.resolved,
        previous_resolved: before.resolved,
        attacks: now.attacks,
        previous_attacks: before.attacks,
        attack_share: now.attack_share,
        share_low: interval.map(|i| i.0),
        share_high: interval.map(|i| i.1),
        previous_share: before.attack_share,
        share_change: now.share_change,
        volume_change: now.volume_change,
        families,
    })
}

impl Latest {
    /// The lines at the top of the report.
    pub(crate) fn lines(&self) -> Vec<String> {
        let partial = if self.partial {
            " (partial: not over or cut by the window, compared on share only)"
        } else {
            ""
        };
        let mut lines = vec![format!(
            "this period {}{partial} against {}: {} checks (was {}), attack share {} (was {}), {}; \
             attacks {} (was {}), volume {}",
            self.period,
            self.previous,
            self.resolved,
            self.previous_resolved,
            with_interval(self.attacks, self.resolved),
            pct(self.previous_share),
            points(self.share_change),
            self.attacks,
            self.previous_attacks,
            volume(self.volume_change),
        )];
        if !self.families.is_empty() {
            let moves: Vec<String> = self
                .families
                .iter()
                .map(|m| {
                    format!(
                        "{} {} ({} attacks, was {}; volume {})",
                        m.family,
                        points(m.share_change),
                        m.attacks,
                        m.previous_attacks,
                        volume(m.volume_change)
                    )
                })
                .collect();
            lines.push(format!("families that moved most: {}", moves.join("; ")));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_the_textbook_values() {
        // 30 in 100: the interval published for the Wilson score method, 0.219-0.396.
        let (lo, hi) = wilson(30, 100).unwrap();
        assert!(
            (lo - 0.2189).abs() < 5e-4 && (hi - 0.3958).abs() < 5e-4,
            "{lo} {hi}"
        );
        // None in 10: starts at 0, not below.
        let (lo, hi) = wilson(0, 10).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 5e-4, "{hi}");
        assert_eq!(wilson(1, 0), None);
        // The same share is known more closely from more checks.
        let small = wilson(3, 10).unwrap();
        let large = wilson(300, 1000).unwrap();
        assert!(large.1 - large.0 < small.1 - small.0);
    }

    fn period(label: &str, resolved: i64, injection: i64, partial: bool) -> PeriodRow {
        PeriodRow {
            period: label.into(),
            partial,
            resolved,
            attacks: injection,
            attack_share: share(injection, resolved),
            share_low: None,
            share_high: None,
            share_change: None,
            volume_change: None,
            by_family: BTreeMap::from([("injection".to_string(), injection)]),
        }
    }

    #[test]
    fn the_last_period_is_compared_with_the_one_before_on_share() {
        let periods = vec![
            period("2024-W01", 1000, 100, false),
            period("2024-W02", 3000, 300, false),
        ];
        let latest = this_against_last(&periods).unwrap();
        assert_eq!(
            (latest.period.as_str(), latest.previous.as_str()),
            ("2024-W02", "2024-W01")
        );
        let moved = &latest.families[0];
        assert!(
            moved.share_change.unwrap().abs() < 1e-12,
            "volume tripled, share did not"
        );
        assert!((moved.volume_change.unwrap() - 2.0).abs() < 1e-12);
        // A partial period is compared on share only.
        let periods = vec![
            period("2024-W01", 1000, 100, false),
            period("2024-W02", 100, 30, true),
        ];
        let latest = this_against_last(&periods).unwrap();
        assert!(latest.partial);
        assert_eq!(latest.families[0].volume_change, None);
        assert!((latest.families[0].share_change.unwrap() - 0.2).abs() < 1e-12);
        assert!(
            latest.lines()[0].contains("partial"),
            "{:?}",
            latest.lines()
        );
    }
}
