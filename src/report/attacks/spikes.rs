//! The spike rule: which family fires in which period against its trailing baseline.
//!
//! Policy: a spike is judged on share, never on count (a busier week has more of everything),
//! and on the share's 95% Wilson lower bound, not the bare ratio, so a small period is not
//! called a spike on a handful of checks: the period's share must be at least `factor` times
//! the baseline even at the low end of what its checks can tell. A family must also have at
//! least `min` attacks there. A partial period (not over yet) is judged the same way, on share.

use super::*;

/// Applies the spike rule (see the module doc) to every family and period.
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
            let history: Vec<usize> = (0..i)
                .rev()
                .filter(|&j| resolved_per[j] > 0 && labels[j] != UNDATED)
                .take(rule.baseline_periods)
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
