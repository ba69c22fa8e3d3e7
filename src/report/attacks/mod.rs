//! The attack report for fraud teams: codes and families over time, spikes, a breakdown by any
//! input column, repeated faces and score distributions.
//!
//! Policy:
//! - Shares are of resolved checks (those with a vendor code) and of attacks; a period with no
//!   resolved checks shows `-`, never 0%.
//! - Shares carry their 95% Wilson interval, and periods are compared on share (the count's
//!   change stands beside it as volume); see `shares`.
//! - The spike rule is explicit and printed with the report: in a period, a family fires when
//!   its count is at least `min` AND the Wilson lower bound of its share of resolved checks is
//!   at least `factor` times its baseline, the mean share over the `baseline` periods before
//!   it that had resolved checks, before `--from` too (see `spikes`; at least one such period is
//!   needed). A family absent from the whole baseline fires on its count alone. Minimum counts
//!   and the lower bound stop 1 attack in 3 checks from being a "spike".
//! - Repeated faces: one image digest on different ids is listed with the ids and times.
//! - Codes the table does not list are shown per code, flagged "attack or not unknown", and
//!   never folded into a family: the newest attack types are the ones a release lacks.

use std::collections::{BTreeMap, HashMap};

use rusqlite::params;
use serde::Serialize;

use super::render::{Chart, Document, Section, ShareLine, fraction, sparkline};
use super::{
    QUARTER_HOUR_MS, QuarterHour, ReportError, UNDATED, Window, dated_within, percent,
    period_labels, quarter_hour_label,
};
use crate::check::{Class, Status, classify};
use crate::codes::{Category, CodeTable};
use crate::setting::Setting;

mod scan;
pub(crate) use super::attrs::attribute;
pub(crate) use crate::check::attack_family;
use scan::*;
mod faces;
use faces::repeated_faces;
pub(crate) use faces::{RepeatedFace, attach_images, codes_text};
mod drill;
pub(crate) use drill::attach_commands;
mod spikes;
pub(crate) use spikes::*;
mod layout;
pub(crate) use layout::*;
mod accounts;
pub(crate) use accounts::{AccountAttacks, compute_over, document_by_account};
mod dimension;
use dimension::dimension_rows;
pub(crate) use dimension::missing_dimension;
mod shares;
pub(crate) use shares::*;
#[cfg(test)]
mod tests;

/// The dimension value of checks without the column (absent or null): counted by the scan,
/// listed by `liveaudit checks --no-attr COLUMN`.
const NO_VALUE: &str = "(none)";

/// Periods shown in a family's trend sparkline (the most recent ones).
const SPARK_PERIODS: usize = 40;

/// Families in display order (plus "other" for attack codes with no family).
const FAMILIES: &[&str] = &["presentation", "injection", "challenge"];
const COLOURS: &[&str] = &["#c0392b", "#8e44ad", "#e67e22", "#7f8c8d"];

/// The spike rule's parameters.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub(crate) struct SpikeRule {
    pub factor: f64,
    pub min_count: u64,
    pub baseline_periods: usize,
}

impl SpikeRule {
    pub(crate) fn describe(&self) -> String {
        format!(
            "spike rule: a family fires in a period when it has at least {} attacks there and \
             the lower end of the 95% interval (Wilson) of its share of resolved checks is at \
             least {}x its baseline (mean share over the {} periods before it, those with \
             resolved checks, before --from too); a family absent from the baseline fires on the \
             count alone",
            self.min_count, self.factor, self.baseline_periods
        )
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct FamilyRow {
    pub family: String,
    pub attacks: i64,
    pub share_of_checks: Option<f64>,
    /// The 95% Wilson interval of `share_of_checks`.
    pub share_low: Option<f64>,
    pub share_high: Option<f64>,
    pub share_of_attacks: Option<f64>,
    /// Attacks per period, in `periods` order.
    pub per_period: Vec<i64>,
    /// The `liveaudit checks` line listing its attacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks_command: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct CodeRow {
    pub code: i64,
    pub message: String,
    pub family: String,
    pub count: i64,
    pub share_of_checks: Option<f64>,
    pub share_of_attacks: Option<f64>,
}

/// The note on a code the table does not list.
fn unknown_note() -> String {
    format!(
        "not in the code table: attack or not unknown - add it with {}",
        Setting::CodesFile
    )
}

/// A resolved code the code table does not list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct UnknownCodeRow {
    pub code: i64,
    /// The vendor's own message for it.
    pub message: String,
    pub count: i64,
    pub share_of_checks: Option<f64>,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct PeriodRow {
    pub period: String,
    /// Not over yet, or cut by `--from`/`--to`: its count is not comparable, only its share.
    pub partial: bool,
    pub resolved: i64,
    pub attacks: i64,
    pub attack_share: Option<f64>,
    /// The 95% Wilson interval of `attack_share`.
    pub share_low: Option<f64>,
    pub share_high: Option<f64>,
    /// The attack share's change against the previous period, as a fraction (0.031 = +3.1
    /// points); `None` with no previous period or no checks in either.
    pub share_change: Option<f64>,
    /// The attack count's change against the previous period, as a fraction (volume); `None`
    /// with no previous attacks, or when either period is partial.
    pub volume_change: Option<f64>,
    pub by_family: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Spike {
    pub period: String,
    pub family: String,
    pub attacks: i64,
    /// Resolved checks in the period.
    pub resolved: i64,
    pub share: f64,
    /// The 95% Wilson interval of `share`: its lower end is what the rule compares.
    pub share_low: f64,
    pub share_high: f64,
    /// `None` when the family was absent from the baseline.
    pub baseline_share: Option<f64>,
    pub ratio: Option<f64>,
    /// The `liveaudit checks` line listing its attacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks_command: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct DimensionRow {
    pub value: String,
    pub resolved: i64,
    pub attacks: i64,
    pub attack_share: Option<f64>,
    pub by_family: BTreeMap<String, i64>,
    /// The row folding the values beyond `--top` ("other (N values)"): no one value.
    #[serde(skip)]
    pub folded: bool,
    /// The `liveaudit checks` line listing its attacks (not for the folded "other" row).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks_command: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct ScoreRow {
    pub category: String,
    pub with_score: usize,
    pub without_score: i64,
    pub p05: Option<f64>,
    pub p25: Option<f64>,
    pub p50: Option<f64>,
    pub p75: Option<f64>,
    pub p95: Option<f64>,
}

/// The whole attack report; its JSON form is the documented `--format json` output.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Attacks {
    pub report: &'static str,
    pub zone: String,
    pub by: String,
    pub resolved: i64,
    pub attacks: i64,
    pub periods: Vec<PeriodRow>,
    pub families: Vec<FamilyRow>,
    pub codes: Vec<CodeRow>,
    /// Codes not in the code table, most frequent first: never folded into a family.
    pub unknown_codes: Vec<UnknownCodeRow>,
    pub rule: SpikeRule,
    pub spikes: Vec<Spike>,
    /// The last dated period against the one before it.
    pub latest: Option<Latest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    pub by_dimension: Vec<DimensionRow>,
    pub repeated_faces: Vec<RepeatedFace>,
    pub scores: Vec<ScoreRow>,
    /// The account `--account` narrowed the report to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<crate::report::accounts::AccountKey>,
    /// Each account's own report (`--by-account`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<AccountAttacks>>,
}

fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn family_of(codes: &CodeTable, code: i64) -> String {
    codes.family(code).unwrap_or("other").to_string()
}

/// Options of the attack report beyond the window.
#[derive(Debug, Clone)]
pub(crate) struct AttackOptions {
    pub dimension: Option<String>,
    pub top: usize,
    pub rule: SpikeRule,
    /// The input columns whose distinct values each reused face lists (`None`: every one).
    pub face_columns: Option<Vec<String>>,
}

/// The maps counted per row of the scan: a million lookups, so a fast hash rather than the
/// DoS-resistant default (the keys are our own database's values).
type FastMap<K, V> = foldhash::HashMap<K, V>;

/// Resolved checks and attacks counted per period (by label index), family and code.
struct Counts {
    labels: Vec<String>,
    resolved_per: Vec<i64>,
    family_per: BTreeMap<String, Vec<i64>>,
    by_code: BTreeMap<i64, i64>,
    unknown: BTreeMap<i64, i64>,
}

impl Counts {
    /// Counts the done checks of the quarter hours, in the window's periods.
    fn of(quarter_hours: &[QuarterHour], window: &Window, codes: &CodeTable) -> Counts {
        let labels = period_labels(window, quarter_hours);
        let index: HashMap<&str, usize> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let mut resolved_per = vec![0i64; labels.len()];
        let mut family_per: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut by_code: BTreeMap<i64, i64> = BTreeMap::new();
        let mut unknown: BTreeMap<i64, i64> = BTreeMap::new();
        for b in quarter_hours {
            let (Some(code), Status::Done) = (b.code, b.status) else {
                continue;
            };
            let Some(&i) = index.get(quarter_hour_label(window, b).as_str()) else {
                continue;
            };
            resolved_per[i] += b.count;
            if classify(b.status, b.code, codes) == Class::UnknownCode {
                *unknown.entry(code).or_default() += b.count;
            } else if let Some(family) = attack_family(b.status, b.code, codes) {
                family_per
                    .entry(family)
                    .or_insert_with(|| vec![0; labels.len()])[i] += b.count;
                *by_code.entry(code).or_default() += b.count;
            }
        }
        Counts {
            labels,
            resolved_per,
            family_per,
            by_code,
            unknown,
        }
    }
}

/// Computes the report from one scan of the window plus the repeated-faces lookup.
pub(crate) fn compute(
    conn: &rusqlite::Connection,
    codes: &CodeTable,
    window: &Window,
    opts: &AttackOptions,
) -> Result<Attacks, ReportError> {
    let Scan {
        quarter_hours,
        scores,
        dimension,
    } = scan(conn, window, codes, opts.dimension.as_deref())?;
    super::check_period_count(window, &quarter_hours)?;
    let Counts {
        labels,
        resolved_per,
        family_per,
        by_code,
        unknown,
    } = Counts::of(&quarter_hours, window, codes);
    let resolved: i64 = resolved_per.iter().sum();
    let attacks: i64 = by_code.values().sum();
    let attacks_per: Vec<i64> = (0..labels.len())
        .map(|i| family_per.values().map(|v| v[i]).sum())
        .collect();
    let families = family_rows(&family_per, labels.len(), resolved, attacks);
    let code_rows = code_rows(&by_code, codes, resolved, attacks);
    let unknown_codes = unknown_rows(&unknown, resolved);
    let partial: Vec<bool> = labels.iter().map(|l| window.partial(l)).collect();
    let periods = period_rows(&labels, &partial, &resolved_per, &attacks_per, &family_per);
    let latest = this_against_last(&periods);
    let spikes = window_spikes(conn, codes, window, &quarter_hours, &opts.rule)?;
    // Empty without --dimension: the scan counted nothing.
    let by_dimension = dimension_rows(dimension, codes, opts.top);
    Ok(Attacks {
        report: "attacks",
        zone: window.zone.name.clone(),
        by: format!("{:?}", window.by).to_lowercase(),
        resolved,
        attacks,
        periods,
        families,
        codes: code_rows,
        unknown_codes,
        rule: opts.rule,
        spikes,
        latest,
        dimension: opts.dimension.clone(),
        by_dimension,
        repeated_faces: repeated_faces(conn, codes, window, opts.face_columns.as_deref())?,
        scores,
        account: None,
        accounts: None,
    })
}

/// One row per attack family: the known families always, then any other the table names.
fn family_rows(
    family_per: &BTreeMap<String, Vec<i64>>,
    periods: usize,
    resolved: i64,
    attacks: i64,
) -> Vec<FamilyRow> {
    let mut family_names: Vec<String> = FAMILIES.iter().map(|f| (*f).to_string()).collect();
    for f in family_per.keys() {
        if !family_names.contains(f) {
            family_names.push(f.clone());
        }
    }
    family_names
        .iter()
        .map(|f| {
            let per = family_per
                .get(f)
                .cloned()
                .unwrap_or_else(|| vec![0; periods]);
            let n: i64 = per.iter().sum();
            let interval = wilson(n, resolved);
            FamilyRow {
                family: f.clone(),
                attacks: n,
                share_of_checks: share(n, resolved),
                share_low: interval.map(|i| i.0),
                share_high: interval.map(|i| i.1),
                share_of_attacks: share(n, attacks),
                per_period: per,
                checks_command: None,
            }
        })
        .collect()
}

/// One row per attack code, most frequent first.
fn code_rows(
    by_code: &BTreeMap<i64, i64>,
    codes: &CodeTable,
    resolved: i64,
    attacks: i64,
) -> Vec<CodeRow> {
    let mut code_rows: Vec<CodeRow> = by_code
        .iter()
        .map(|(&code, &n)| CodeRow {
            code,
            message: codes
                .get(code)
                .map_or_else(String::new, |c| c.message.clone()),
            family: family_of(codes, code),
            count: n,
            share_of_checks: share(n, resolved),
            share_of_attacks: share(n, attacks),
        })
        .collect();
    code_rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    code_rows
}

/// One row per code the table does not know, most frequent first.
fn unknown_rows(unknown: &BTreeMap<i64, i64>, resolved: i64) -> Vec<UnknownCodeRow> {
    let mut unknown_codes: Vec<UnknownCodeRow> = unknown
        .iter()
        .map(|(&code, &n)| UnknownCodeRow {
            code,
            message: String::new(),
            count: n,
            share_of_checks: share(n, resolved),
            note: unknown_note(),
        })
        .collect();
    unknown_codes.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    unknown_codes
}

/// One row per period, with its share's interval and its change from the period before: the
/// share's change, and the attack count's (volume) unless either period is partial.
fn period_rows(
    labels: &[String],
    partial: &[bool],
    resolved_per: &[i64],
    attacks_per: &[i64],
    family_per: &BTreeMap<String, Vec<i64>>,
) -> Vec<PeriodRow> {
    let shares: Vec<Option<f64>> = (0..labels.len())
        .map(|i| share(attacks_per[i], resolved_per[i]))
        .collect();
    labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            // No change is computed into or out of the undated period: it follows no period.
            let previous = (i > 0 && *label != UNDATED).then(|| i - 1);
            let interval = wilson(attacks_per[i], resolved_per[i]);
            PeriodRow {
                period: label.clone(),
                partial: partial[i],
                resolved: resolved_per[i],
                attacks: attacks_per[i],
                attack_share: shares[i],
                share_low: interval.map(|i| i.0),
                share_high: interval.map(|i| i.1),
                share_change: previous
                    .and_then(|j| shares[i].zip(shares[j]))
                    .map(|(now, before)| now - before),
                volume_change: previous
                    .filter(|&j| !partial[i] && !partial[j])
                    .and_then(|j| relative(attacks_per[i], attacks_per[j])),
                by_family: family_per.iter().map(|(f, v)| (f.clone(), v[i])).collect(),
            }
        })
        .collect()
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest-rank on the sorted values.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}
