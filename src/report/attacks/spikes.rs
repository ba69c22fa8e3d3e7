//! The spike rule: which family fires in which period against its trailing baseline.
//!
//! Policy: a spike is judged on share, never on count (a busier week has more of everything),
//! and on the share's 95% Wilson lower bound, not the bare ratio, so a small period is not
//! called a spike on a handful of checks: the period's share must be at least `factor` times
//! the baseline even at the low end of what its checks can tell. A family must also have at
//! least `min` attacks there. A partial period (not over yet) is judged the same way, on share.
//!
//! The baseline of a period is the `baseline` periods before it on the calendar (days, ISO weeks
//! or months; those without resolved checks are left out of the mean; none left: no baseline,
//! nothing fires), read from the database whether or not they fall within `--from`/`--to`: the
//! window chooses which periods are judged, never what they are judged against. So a one-day
//! report (the nightly's) flags the same spike as a month's report on that day.

use super::*;

/// The spikes of the window's periods, each judged against its baseline (module doc): the
/// window's own quarter hours, plus the periods before `--from` the baseline reaches, read
/// through the quarter-hour index.
pub(crate) fn window_spikes(
    conn: &rusqlite::Connection,
    codes: &CodeTable,
    window: &Window,
    quarter_hours: &[QuarterHour],
    rule: &SpikeRule,
) -> Result<Vec<Spike>, ReportError> {
    let Some(before) = window.periods_before(rule.baseline_periods) else {
        let c = Counts::of(quarter_hours, window, codes);
        return Ok(find_spikes(&c.labels, &c.resolved_per, &c.family_per, rule));
    };
    // Checks without a time under the window's dating are in no baseline.
    let mut all: Vec<QuarterHour> = super::super::load_quarter_hours(conn, &before)?
        .into_iter()
        .filter(|q| q.start_ms.is_some())
        .collect();
    let judged: std::collections::HashSet<String> = quarter_hours
        .iter()
        .map(|q| quarter_hour_label(window, q))
        .collect();
    all.extend_from_slice(quarter_hours);
    let reach = Window {
        from: before.from,
        ..window.clone()
    };
    let c = Counts::of(&all, &reach, codes);
    let mut spikes = find_spikes(&c.labels, &c.resolved_per, &c.family_per, rule);
    spikes.retain(|s| judged.contains(&s.period));
    Ok(spikes)
}

/// Applies the spike rule (see the module doc) to every family and period of `labels` (every
/// period from the first to the last, gaps included, as [`period_labels`] lays them out).
pub(crate) fn find_spikes(
    labels: &[String],
    resolved_per: &[i64],
    family_per: &BTreeMap<String, Vec<i64>>,
    rule: &SpikeRule,
) -> Vec<Spike> {
    let mut spikes = Vec::new();
    for (family, counts) in family_per {
        for i in 0..labels.len() {
            if labels[i] == UNDATED || resolved_per[i] == 0 || (counts[i] as u64) < rule.min_count {
                continue;
            }
            // `labels` runs over every period, gaps included: the `baseline` before `i`.
            let history: Vec<usize> = (i.saturating_sub(rule.baseline_periods)..i)
                .filter(|&j| resolved_per[j] > 0 && labels[j] != UNDATED)
                .collect();
            if history.is_empty() {
                continue;
            }
            let baseline = history
                .iter()
                .map(|&j| counts[j] as f64 / resolved_per[j] as f64)
                .sum::<f64>()
                / history.len() as f64;
            let now = counts[i] as f64 / resolved_per[i] as f64;
            let (low, high) = wilson(counts[i], resolved_per[i]).unwrap_or((now, now));
            let fires = if baseline > 0.0 {
                low >= rule.factor * baseline
            } else {
                true
            };
            if fires {
                spikes.push(Spike {
                    period: labels[i].clone(),
                    family: family.clone(),
                    attacks: counts[i],
                    resolved: resolved_per[i],
                    share: now,
                    share_low: low,
                    share_high: high,
                    baseline_share: (baseline > 0.0).then_some(baseline),
                    ratio: (baseline > 0.0).then(|| now / baseline),
                    checks_command: None,
                });
            }
        }
    }
    spikes.sort_by(|a, b| a.period.cmp(&b.period).then(a.family.cmp(&b.family)));
    spikes
}
