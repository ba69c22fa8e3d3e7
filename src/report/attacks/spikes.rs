//! The spike rule: which family fires in which period against its trailing baseline.

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
            let fires = if baseline > 0.0 {
                now >= rule.factor * baseline
            } else {
                true
            };
            if fires {
                spikes.push(Spike {
                    period: labels[i].clone(),
                    family: family.clone(),
                    attacks: counts[i],
                    share: now,
                    baseline_share: (baseline > 0.0).then_some(baseline),
                    ratio: (baseline > 0.0).then(|| now / baseline),
                });
            }
        }
    }
    spikes.sort_by(|a, b| a.period.cmp(&b.period).then(a.family.cmp(&b.family)));
    spikes
}
