//! The attack report for fraud teams: codes and families over time, spikes, a breakdown by any
//! input column, repeated faces and score distributions.
//!
//! Policy:
//! - Shares are of resolved checks (those with a vendor code) and of attacks; a period with no
//!   resolved checks shows `-`, never 0%.
//! - The spike rule is explicit and printed with the report: in a period, a family fires when
//!   its count is at least `min` AND its share of resolved checks is at least `factor` times its
//!   baseline, the mean share over up to `baseline` preceding periods that had resolved checks
//!   (at least one such period is needed). A family absent from the whole baseline fires on its
//!   count alone. Minimum counts stop 1 attack in 3 checks from being a "spike".
//! - Repeated faces: one image digest on different ids is listed with the ids and times.
//! - Codes the table does not list are shown per code, flagged "attack or not unknown", and
//!   never folded into a family: the newest attack types are the ones a release lacks.

use std::collections::{BTreeMap, HashMap};

use rusqlite::params;
use serde::Serialize;

use super::render::{Chart, Document, Section, fraction, sparkline};
use super::{
    BUCKET_MS, Bucket, ReportError, UNDATED, Window, bucket_label, dated_within, percent,
    period_labels,
};
use crate::check::{Class, Status, classify};
use crate::td::codes::{Category, CodeTable};
use crate::timestamp::format_utc;

/// Periods shown in a family's trend sparkline (the most recent ones).
const SPARK_PERIODS: usize = 40;

/// Families in display order (plus "other" for attack codes with no family).
const FAMILIES: &[&str] = &["presentation", "injection", "challenge"];
const COLOURS: &[&str] = &["#c0392b", "#8e44ad", "#e67e22", "#7f8c8d"];

/// The spike rule's parameters.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct SpikeRule {
    pub factor: f64,
    pub min_count: u64,
    pub baseline_periods: usize,
}

impl SpikeRule {
    pub fn describe(&self) -> String {
        format!(
            "spike rule: a family fires in a period when it has at least {} attacks there and \
             its share of resolved checks is at least {}x its baseline (mean share over up to {} \
             preceding periods with resolved checks); a family absent from the baseline fires on \
             the count alone",
            self.min_count, self.factor, self.baseline_periods
        )
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FamilyRow {
    pub family: String,
    pub attacks: i64,
    pub share_of_checks: Option<f64>,
    pub share_of_attacks: Option<f64>,
    /// Attacks per period, in `periods` order.
    pub per_period: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CodeRow {
    pub code: i64,
    pub message: String,
    pub family: String,
    pub count: i64,
    pub share_of_checks: Option<f64>,
    pub share_of_attacks: Option<f64>,
}

/// The flag of a code the table does not list.
pub const UNKNOWN_NOTE: &str =
    "not in the code table: attack or not unknown - add it with --codes-file";

/// A resolved code the code table does not list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnknownCodeRow {
    pub code: i64,
    /// The vendor's own message for it.
    pub message: String,
    pub count: i64,
    pub share_of_checks: Option<f64>,
    pub note: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PeriodRow {
    pub period: String,
    pub resolved: i64,
    pub attacks: i64,
    pub attack_share: Option<f64>,
    /// Change of attacks against the previous period, in percent (`None` with no previous).
    pub change: Option<f64>,
    pub by_family: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Spike {
    pub period: String,
    pub family: String,
    pub attacks: i64,
    pub share: f64,
    /// `None` when the family was absent from the baseline.
    pub baseline_share: Option<f64>,
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DimensionRow {
    pub value: String,
    pub resolved: i64,
    pub attacks: i64,
    pub attack_share: Option<f64>,
    pub by_family: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RepeatedFace {
    pub image_sha256: String,
    pub uses: i64,
    /// Up to 20 (id, event or fetch time, code).
    pub checks: Vec<(String, Option<String>, Option<i64>)>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScoreRow {
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
pub struct Attacks {
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    pub by_dimension: Vec<DimensionRow>,
    pub repeated_faces: Vec<RepeatedFace>,
    pub scores: Vec<ScoreRow>,
}

fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn family_of(codes: &CodeTable, code: i64) -> String {
    codes.family(code).unwrap_or("other").to_string()
}

/// Options of the attack report beyond the window.
#[derive(Debug, Clone)]
pub struct AttackOptions {
    pub dimension: Option<String>,
    pub top: usize,
    pub rule: SpikeRule,
}

/// The maps counted per row of the scan: a million lookups, so a fast hash rather than the
/// DoS-resistant default (the keys are our own database's values).
type FastMap<K, V> = foldhash::HashMap<K, V>;

/// What one pass over the checks in the window yields.
struct Scan {
    buckets: Vec<Bucket>,
    scores: Vec<ScoreRow>,
    /// Dimension value -> code -> resolved checks (empty without `--dimension`).
    dimension: FastMap<String, FastMap<i64, i64>>,
}

/// Reads every check in the window once, for the periods, the scores and the dimension.
///
/// Policy: one plain scan of the table, counted here. The report needs the score and the
/// input's attributes of every check, which no index holds, so walking the bucket index as
/// well (as billing does) would read the data twice; and SQLite's GROUP BY sorts every row,
/// where a hash map of a few thousand buckets does not. A large table is split into rowid
/// ranges scanned side by side on their own read-only connections, one per core (up to four).
fn scan(
    conn: &rusqlite::Connection,
    window: &Window,
    codes: &CodeTable,
    dimension: Option<&str>,
) -> Result<Scan, ReportError> {
    /// Below this many rows one thread is quicker than starting more.
    const SPLIT_FROM: i64 = 200_000;
    scan_split(conn, window, codes, dimension, SPLIT_FROM)
}

fn scan_split(
    conn: &rusqlite::Connection,
    window: &Window,
    codes: &CodeTable,
    dimension: Option<&str>,
    split_from: i64,
) -> Result<Scan, ReportError> {
    // Two subqueries: SQLite answers a bare min() or max() of the rowid from the b-tree's ends,
    // but `min(id), max(id)` in one select (or wrapped in coalesce) reads the whole table.
    let (first, last): (i64, i64) = conn.query_row(
        "SELECT coalesce((SELECT min(id) FROM checks), 0), coalesce((SELECT max(id) FROM checks), 0)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4)) as i64;
    let path = conn.path().filter(|p| !p.is_empty()).map(str::to_owned);
    let mut total = match path {
        Some(path) if threads > 1 && last - first >= split_from => {
            let step = (last - first) / threads + 1;
            let parts: Vec<Result<Partial, ReportError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|i| {
                        let range = (first + i * step, first + (i + 1) * step - 1);
                        let path = path.as_str();
                        scope.spawn(move || {
                            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                                | rusqlite::OpenFlags::SQLITE_OPEN_URI;
                            let conn = rusqlite::Connection::open_with_flags(path, flags)?;
                            conn.busy_timeout(std::time::Duration::from_secs(10))?;
                            scan_range(&conn, window, codes, dimension, range)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(ReportError::Store(crate::store::StoreError::Thread(
                                "report scan".into(),
                            )))
                        })
                    })
                    .collect()
            });
            let mut total = Partial::default();
            for part in parts {
                total.merge(part?);
            }
            total
        }
        _ => scan_range(conn, window, codes, dimension, (first, last))?,
    };
    let score_row = |name: &str, values: &mut Vec<f64>, missing: i64| {
        values.sort_by(f64::total_cmp);
        ScoreRow {
            category: name.to_string(),
            with_score: values.len(),
            without_score: missing,
            p05: quantile(values, 0.05),
            p25: quantile(values, 0.25),
            p50: quantile(values, 0.50),
            p75: quantile(values, 0.75),
            p95: quantile(values, 0.95),
        }
    };
    Ok(Scan {
        scores: vec![
            score_row("success", &mut total.success, total.success_missing),
            score_row("attack", &mut total.attack, total.attack_missing),
        ],
        buckets: total
            .buckets
            .into_iter()
            .map(|((q, status, code), count)| Bucket {
                start_ms: q.map(|q| q * BUCKET_MS),
                fallback: false,
                status: Status::ALL[usize::from(status)],
                code,
                count,
            })
            .collect(),
        dimension: total.by_value,
    })
}

/// The counts of one rowid range of the scan.
#[derive(Default)]
struct Partial {
    /// (15-minute bucket, status 0 pending / 1 done / 2 failed, code) -> checks.
    buckets: FastMap<(Option<i64>, u8, Option<i64>), i64>,
    success: Vec<f64>,
    attack: Vec<f64>,
    success_missing: i64,
    attack_missing: i64,
    by_value: FastMap<String, FastMap<i64, i64>>,
}

impl Partial {
    fn merge(&mut self, other: Partial) {
        for (key, n) in other.buckets {
            *self.buckets.entry(key).or_default() += n;
        }
        self.success.extend(other.success);
        self.attack.extend(other.attack);
        self.success_missing += other.success_missing;
        self.attack_missing += other.attack_missing;
        for (value, per_code) in other.by_value {
            let mine = self.by_value.entry(value).or_default();
            for (code, n) in per_code {
                *mine.entry(code).or_default() += n;
            }
        }
    }
}

/// Counts the checks in the window whose rowid lies in `range` (both ends included).
fn scan_range(
    conn: &rusqlite::Connection,
    window: &Window,
    codes: &CodeTable,
    dimension: Option<&str>,
    (low, high): (i64, i64),
) -> Result<Partial, ReportError> {
    use rusqlite::types::ValueRef;
    let bounds = window.bounds_ms();
    // The window is checked here rather than in SQL: the time is read once per row either way,
    // and SQLite would compute it a second (and third) time for the WHERE clause. The
    // attributes are selected only when a dimension is asked for.
    let sql = format!(
        "SELECT {}, status, code, score{}
         FROM checks NOT INDEXED WHERE id BETWEEN ?1 AND ?2",
        window.date_by.time_sql(),
        if dimension.is_some() { ", attrs" } else { "" }
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params![low, high])?;
    let mut part = Partial::default();
    while let Some(row) = rows.next()? {
        let time: Option<i64> = row.get(0)?;
        if !dated_within(bounds, time) {
            continue;
        }
        // The index of the status in `Status::ALL`.
        let status: u8 = match row.get_ref(1)? {
            ValueRef::Text(t) => Status::from_db(t) as u8,
            _ => Status::Pending as u8,
        };
        let code: Option<i64> = row.get(2)?;
        *part
            .buckets
            .entry((time.map(|t| t / BUCKET_MS), status, code))
            .or_default() += 1;
        let (Some(code), Status::Done) = (code, Status::ALL[usize::from(status)]) else {
            continue;
        };
        let (values, missing) = match codes.category(code) {
            Category::Success => (&mut part.success, &mut part.success_missing),
            Category::Attack => (&mut part.attack, &mut part.attack_missing),
            _ => (&mut Vec::new(), &mut 0),
        };
        match row.get::<_, Option<f64>>(3)? {
            Some(s) if s.is_finite() => values.push(s),
            _ => *missing += 1,
        }
        let Some(column) = dimension else {
            continue;
        };
        let found = match row.get_ref(4)? {
            ValueRef::Text(attrs) => attribute(attrs, column),
            _ => None,
        };
        let value: &str = found.as_deref().unwrap_or("(none)");
        // A value's text is allocated once, when first seen.
        let per_code = match part.by_value.get_mut(value) {
            Some(per_code) => per_code,
            None => part.by_value.entry(value.to_owned()).or_default(),
        };
        *per_code.entry(code).or_default() += 1;
    }
    Ok(part)
}

/// The value of one column in a check's attributes (the JSON object of the input's other
/// columns), read without building the object: serde skips the other keys, and a string value
/// comes back borrowed. About three times cheaper than SQLite's `json_extract` per row.
/// Attributes that are not a JSON object read as having no such column.
fn attribute<'a>(attrs: &'a [u8], column: &str) -> Option<std::borrow::Cow<'a, str>> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
    use std::borrow::Cow;

    /// A value as the report shows it: a string as it is, a number or boolean as written,
    /// null as absent, an array or object as "(nested)".
    struct Text<'a>(Option<Cow<'a, str>>);
    impl<'de> serde::Deserialize<'de> for Text<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(TextVisitor)
        }
    }
    struct TextVisitor;
    impl<'de> Visitor<'de> for TextVisitor {
        type Value = Text<'de>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Borrowed(v))))
        }
        fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Owned(v.to_owned()))))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Owned(v.to_string()))))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Owned(v.to_string()))))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Owned(v.to_string()))))
        }
        fn visit_bool<E>(self, v: bool) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Owned(v.to_string()))))
        }
        fn visit_unit<E>(self) -> Result<Text<'de>, E> {
            Ok(Text(None))
        }
        fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut s: S) -> Result<Text<'de>, S::Error> {
            while s.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Text(Some(Cow::Borrowed("(nested)"))))
        }
        fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Text<'de>, M::Error> {
            while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Text(Some(Cow::Borrowed("(nested)"))))
        }
    }
    struct Find<'c>(&'c str);
    impl<'de> DeserializeSeed<'de> for Find<'_> {
        type Value = Option<Cow<'de, str>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Find<'_> {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            let mut found = None;
            // Keys come back borrowed (serde's own `Cow` would allocate every one).
            while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                if key.as_deref() == Some(self.0) {
                    // The last of repeated keys wins, as when the object was written.
                    found = map.next_value::<Text<'de>>()?.0;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    // From the bytes: the strings serde reads are checked as UTF-8 on the way, not the whole text.
    Find(column)
        .deserialize(&mut serde_json::Deserializer::from_slice(attrs))
        .ok()
        .flatten()
}

/// Computes the report from one scan of the window plus the repeated-faces lookup.
pub fn compute(
    conn: &rusqlite::Connection,
    codes: &CodeTable,
    window: &Window,
    opts: &AttackOptions,
) -> Result<Attacks, ReportError> {
    let Scan {
        buckets,
        scores,
        dimension,
    } = scan(conn, window, codes, opts.dimension.as_deref())?;
    let buckets = &buckets;
    let labels = period_labels(window, buckets);
    let index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut resolved_per = vec![0i64; labels.len()];
    let mut family_per: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut by_code: BTreeMap<i64, i64> = BTreeMap::new();
    let mut unknown: BTreeMap<i64, i64> = BTreeMap::new();
    for b in buckets {
        let (Some(code), Status::Done) = (b.code, b.status) else {
            continue;
        };
        let Some(&i) = index.get(bucket_label(window, b).as_str()) else {
            continue;
        };
        resolved_per[i] += b.count;
        if classify(b.status, b.code, codes) == Class::UnknownCode {
            *unknown.entry(code).or_default() += b.count;
        } else if codes.category(code) == Category::Attack {
            family_per
                .entry(family_of(codes, code))
                .or_insert_with(|| vec![0; labels.len()])[i] += b.count;
            *by_code.entry(code).or_default() += b.count;
        }
    }
    let resolved: i64 = resolved_per.iter().sum();
    let attacks: i64 = by_code.values().sum();
    let attacks_per: Vec<i64> = (0..labels.len())
        .map(|i| family_per.values().map(|v| v[i]).sum())
        .collect();

    let mut family_names: Vec<String> = FAMILIES.iter().map(|f| (*f).to_string()).collect();
    for f in family_per.keys() {
        if !family_names.contains(f) {
            family_names.push(f.clone());
        }
    }
    let families = family_names
        .iter()
        .map(|f| {
            let per = family_per
                .get(f)
                .cloned()
                .unwrap_or_else(|| vec![0; labels.len()]);
            let n: i64 = per.iter().sum();
            FamilyRow {
                family: f.clone(),
                attacks: n,
                share_of_checks: share(n, resolved),
                share_of_attacks: share(n, attacks),
                per_period: per,
            }
        })
        .collect::<Vec<_>>();
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
    let mut unknown_codes: Vec<UnknownCodeRow> = unknown
        .iter()
        .map(|(&code, &n)| UnknownCodeRow {
            code,
            message: String::new(),
            count: n,
            share_of_checks: share(n, resolved),
            note: UNKNOWN_NOTE,
        })
        .collect();
    unknown_codes.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));

    let periods = labels
        .iter()
        .enumerate()
        .map(|(i, label)| PeriodRow {
            period: label.clone(),
            resolved: resolved_per[i],
            attacks: attacks_per[i],
            attack_share: share(attacks_per[i], resolved_per[i]),
            // No change is computed into or out of the undated period: it follows no period.
            change: (i > 0 && attacks_per[i - 1] > 0 && *label != UNDATED).then(|| {
                (attacks_per[i] - attacks_per[i - 1]) as f64 * 100.0 / attacks_per[i - 1] as f64
            }),
            by_family: family_per.iter().map(|(f, v)| (f.clone(), v[i])).collect(),
        })
        .collect();

    let spikes = find_spikes(&labels, &resolved_per, &family_per, &opts.rule);
    // Empty without --dimension: the scan counted nothing.
    let by_dimension = dimension_rows(dimension, codes, opts.top);
    Ok(Attacks {
        report: "attacks",
        zone: window.tz_name.clone(),
        by: format!("{:?}", window.by).to_lowercase(),
        resolved,
        attacks,
        periods,
        families,
        codes: code_rows,
        unknown_codes,
        rule: opts.rule,
        spikes,
        dimension: opts.dimension.clone(),
        by_dimension,
        repeated_faces: repeated_faces(conn, window)?,
        scores,
    })
}

/// Applies the spike rule (see the module doc) to every family and period.
pub fn find_spikes(
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

/// The dimension's rows, most attacked first, the tail beyond `top` folded into "other".
fn dimension_rows(
    counts: FastMap<String, FastMap<i64, i64>>,
    codes: &CodeTable,
    top: usize,
) -> Vec<DimensionRow> {
    let mut rows: Vec<DimensionRow> = counts
        .into_iter()
        .map(|(value, per_code)| {
            let mut row = DimensionRow {
                value,
                resolved: 0,
                attacks: 0,
                attack_share: None,
                by_family: BTreeMap::new(),
            };
            for (code, n) in per_code {
                row.resolved += n;
                if codes.category(code) == Category::Attack {
                    row.attacks += n;
                    *row.by_family.entry(family_of(codes, code)).or_default() += n;
                }
            }
            row
        })
        .collect();
    rows.sort_by(|a, b| {
        b.attacks
            .cmp(&a.attacks)
            .then(b.resolved.cmp(&a.resolved))
            .then(a.value.cmp(&b.value))
    });
    if rows.len() > top {
        let rest = rows.split_off(top);
        let mut other = DimensionRow {
            value: match rest.len() {
                1 => "other (1 value)".to_string(),
                n => format!("other ({n} values)"),
            },
            resolved: 0,
            attacks: 0,
            attack_share: None,
            by_family: BTreeMap::new(),
        };
        for r in rest {
            other.resolved += r.resolved;
            other.attacks += r.attacks;
            for (f, n) in r.by_family {
                *other.by_family.entry(f).or_default() += n;
            }
        }
        rows.push(other);
    }
    for r in &mut rows {
        r.attack_share = share(r.attacks, r.resolved);
    }
    rows
}

fn repeated_faces(
    conn: &rusqlite::Connection,
    window: &Window,
) -> Result<Vec<RepeatedFace>, ReportError> {
    let (from, to) = window.bounds_ms();
    let sql = format!(
        // Only digests the writer saw twice (migration 0004) are looked up, each through the
        // digest index: CROSS JOIN keeps that order, the small table outside.
        "SELECT r.image_sha256, count(*) FROM repeated_faces AS r
             CROSS JOIN checks ON checks.image_sha256 = r.image_sha256
         WHERE {} GROUP BY r.image_sha256 HAVING count(*) > 1
         ORDER BY count(*) DESC, r.image_sha256 LIMIT 50",
        window.sql()
    );
    let mut stmt = conn.prepare(&sql)?;
    let groups: Vec<(String, i64)> = stmt
        .query_map(params![from, to], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut ids = conn.prepare(
        "SELECT liveness_id, coalesce(event_time, fetched_at), code FROM checks
         WHERE image_sha256 = ?1 ORDER BY coalesce(event_time, fetched_at), liveness_id LIMIT 20",
    )?;
    let mut faces = Vec::new();
    for (sha, uses) in groups {
        let checks = ids
            .query_map(params![sha], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?.map(format_utc),
                    r.get::<_, Option<i64>>(2)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        faces.push(RepeatedFace {
            image_sha256: sha,
            uses,
            checks,
        });
    }
    Ok(faces)
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest-rank on the sorted values.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

/// Lays the report out for people.
pub fn document(a: &Attacks, window: &Window) -> Document {
    let summary = vec![
        window.describe(),
        format!(
            "{} resolved checks, {} attacks ({}), {} with codes not in the code table",
            a.resolved,
            a.attacks,
            percent(a.attacks, a.resolved),
            a.unknown_codes.iter().map(|u| u.count).sum::<i64>()
        ),
        super::billing::CLASSES_DOC.into(),
    ];
    let dated: Vec<usize> = a
        .periods
        .iter()
        .enumerate()
        .filter(|(_, p)| p.period != UNDATED)
        .map(|(i, _)| i)
        .collect();

    let mut families = Section::new(
        "By family",
        &[
            "family",
            "attacks",
            "of checks",
            "of attacks",
            "trend (last 40 periods)",
        ],
    )
    .keyed("families");
    // The trend shows the last SPARK_PERIODS periods, so it stays on one line.
    let recent = &dated[dated.len().saturating_sub(SPARK_PERIODS)..];
    for f in &a.families {
        let trend: Vec<f64> = recent.iter().map(|&i| f.per_period[i] as f64).collect();
        families.row(vec![
            f.family.clone(),
            f.attacks.to_string(),
            pct(f.share_of_checks),
            pct(f.share_of_attacks),
            sparkline(&trend),
        ]);
        families.tidy_row(
            &["family", "attacks", "share_of_checks", "share_of_attacks"],
            vec![
                f.family.clone(),
                f.attacks.to_string(),
                fraction(f.share_of_checks),
                fraction(f.share_of_attacks),
            ],
        );
    }

    let mut codes = Section::new(
        "By code",
        &[
            "code",
            "message",
            "family",
            "count",
            "of checks",
            "of attacks",
        ],
    )
    .keyed("codes");
    for c in &a.codes {
        codes.row(vec![
            c.code.to_string(),
            c.message.clone(),
            c.family.clone(),
            c.count.to_string(),
            pct(c.share_of_checks),
            pct(c.share_of_attacks),
        ]);
        codes.tidy_row(
            &[
                "code",
                "message",
                "family",
                "count",
                "share_of_checks",
                "share_of_attacks",
            ],
            vec![
                c.code.to_string(),
                c.message.clone(),
                c.family.clone(),
                c.count.to_string(),
                fraction(c.share_of_checks),
                fraction(c.share_of_attacks),
            ],
        );
    }
    let mut unknown = Section::new(
        "Unknown codes (not in the code table)",
        &["code", "vendor message", "count", "of checks", "note"],
    )
    .keyed("unknown_codes");
    for u in &a.unknown_codes {
        unknown.row(vec![
            u.code.to_string(),
            u.message.clone(),
            u.count.to_string(),
            pct(u.share_of_checks),
            u.note.to_string(),
        ]);
        unknown.tidy_row(
            &["code", "message", "count", "share_of_checks", "note"],
            vec![
                u.code.to_string(),
                u.message.clone(),
                u.count.to_string(),
                fraction(u.share_of_checks),
                u.note.to_string(),
            ],
        );
    }
    if !a.unknown_codes.is_empty() {
        unknown.notes.push(
            "Counted in no family and in no attack total until the code table says what they are."
                .into(),
        );
    }

    let family_names: Vec<&str> = a.families.iter().map(|f| f.family.as_str()).collect();
    let mut headers = vec!["period", "resolved", "attacks", "share", "change"];
    headers.extend(family_names.iter().copied());
    let mut periods = Section::new("Per period", &headers).keyed("periods");
    let mut tidy_headers = vec!["period", "resolved", "attacks", "share", "change"];
    tidy_headers.extend(family_names.iter().copied());
    for p in &a.periods {
        let mut tidy = vec![
            p.period.clone(),
            p.resolved.to_string(),
            p.attacks.to_string(),
            fraction(p.attack_share),
            fraction(p.change.map(|c| c / 100.0)),
        ];
        for f in &family_names {
            tidy.push(p.by_family.get(*f).copied().unwrap_or(0).to_string());
        }
        periods.tidy_row(&tidy_headers, tidy);
        let mut row = vec![
            p.period.clone(),
            p.resolved.to_string(),
            p.attacks.to_string(),
            pct(p.attack_share),
            p.change.map_or_else(|| "-".into(), |c| format!("{c:+.1}%")),
        ];
        for f in &family_names {
            row.push(p.by_family.get(*f).copied().unwrap_or(0).to_string());
        }
        periods.row(row);
    }

    let mut spikes = Section::new(
        "Spikes",
        &["period", "family", "attacks", "share", "baseline", "ratio"],
    )
    .keyed("spikes");
    for s in &a.spikes {
        spikes.tidy_row(
            &["period", "family", "attacks", "share", "baseline", "ratio"],
            vec![
                s.period.clone(),
                s.family.clone(),
                s.attacks.to_string(),
                fraction(Some(s.share)),
                fraction(s.baseline_share),
                fraction(s.ratio),
            ],
        );
        spikes.row(vec![
            s.period.clone(),
            s.family.clone(),
            s.attacks.to_string(),
            pct(Some(s.share)),
            s.baseline_share
                .map_or_else(|| "absent".into(), |b| pct(Some(b))),
            s.ratio.map_or_else(|| "new".into(), |r| format!("{r:.1}x")),
        ]);
    }
    spikes.notes.push(a.rule.describe());

    let mut sections = vec![families, codes, unknown, periods, spikes];
    if let Some(dim) = &a.dimension {
        let mut headers = vec![dim.as_str(), "resolved", "attacks", "share"];
        headers.extend(family_names.iter().copied());
        let mut s = Section::new(format!("By {dim}"), &headers).keyed("dimension");
        let mut tidy_headers = vec!["value", "resolved", "attacks", "share"];
        tidy_headers.extend(family_names.iter().copied());
        for r in &a.by_dimension {
            let mut tidy = vec![
                r.value.clone(),
                r.resolved.to_string(),
                r.attacks.to_string(),
                fraction(r.attack_share),
            ];
            for f in &family_names {
                tidy.push(r.by_family.get(*f).copied().unwrap_or(0).to_string());
            }
            s.tidy_row(&tidy_headers, tidy);
            let mut row = vec![
                r.value.clone(),
                r.resolved.to_string(),
                r.attacks.to_string(),
                pct(r.attack_share),
            ];
            for f in &family_names {
                row.push(r.by_family.get(*f).copied().unwrap_or(0).to_string());
            }
            s.row(row);
        }
        sections.push(s);
    }

    let mut faces = Section::new(
        "Repeated faces",
        &["image sha256", "uses", "ids (first 5)", "first seen"],
    )
    .keyed("faces");
    for f in &a.repeated_faces {
        faces.row(vec![
            f.image_sha256.chars().take(16).collect(),
            f.uses.to_string(),
            f.checks
                .iter()
                .take(5)
                .map(|c| c.0.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            f.checks
                .first()
                .and_then(|c| c.1.clone())
                .unwrap_or_default(),
        ]);
    }
    faces.notes.push(
        "One photo on different liveness ids is a strong sign of a replayed or injected image."
            .into(),
    );
    sections.push(faces);

    let mut scores = Section::new(
        "Scores",
        &[
            "category",
            "with score",
            "without",
            "p05",
            "p25",
            "p50",
            "p75",
            "p95",
        ],
    )
    .keyed("scores");
    for s in &a.scores {
        scores.row(vec![
            s.category.clone(),
            s.with_score.to_string(),
            s.without_score.to_string(),
            num(s.p05),
            num(s.p25),
            num(s.p50),
            num(s.p75),
            num(s.p95),
        ]);
    }
    sections.push(scores);

    let chart = Chart {
        title: "Attacks per period by family".into(),
        labels: dated.iter().map(|&i| a.periods[i].period.clone()).collect(),
        series: a
            .families
            .iter()
            .enumerate()
            .map(|(k, f)| {
                (
                    f.family.clone(),
                    dated.iter().map(|&i| f.per_period[i] as f64).collect(),
                    COLOURS[k.min(COLOURS.len() - 1)],
                )
            })
            .collect(),
    };
    Document {
        title: "liveaudit attack report".into(),
        summary,
        sections,
        charts: vec![chart],
        json: serde_json::to_value(a).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2,000 checks of every status, some without a time, score or attributes.
    fn sample_store(dir: &std::path::Path) -> crate::store::Store {
        let store = crate::store::Store::open(&dir.join("t.db"), crate::store::OpenMode::ReadWrite)
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
            s.buckets
                .sort_by_key(|b| (b.start_ms, b.status, b.code, b.count));
            s
        };
        let one =
            sorted(scan_split(&store.conn, &window, &codes, Some("channel"), i64::MAX).unwrap());
        let split = sorted(scan_split(&store.conn, &window, &codes, Some("channel"), 0).unwrap());
        assert_eq!(one.buckets, split.buckets);
        assert_eq!(one.scores, split.scores);
        assert_eq!(one.dimension, split.dimension);
        assert_eq!(one.buckets.iter().map(|b| b.count).sum::<i64>(), 2_000);
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
                            "SELECT count(*) FROM checks WHERE status = ?3 AND {}",
                            window.sql()
                        ),
                        params![lo, hi, status],
                        |r| r.get(0),
                    )
                    .unwrap()
            };
            for split_from in [i64::MAX, 0] {
                let scan = scan_split(&store.conn, &window, &codes, None, split_from).unwrap();
                for status in ["pending", "done", "failed"] {
                    let counted: i64 = scan
                        .buckets
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
        let inside: i64 = scan.buckets.iter().map(|b| b.count).sum();
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
        fam.insert("injection".to_string(), vec![10, 12, 8, 25]);
        let spikes = find_spikes(&labels(4), &resolved, &fam, &rule());
        assert_eq!(spikes.len(), 1);
        assert_eq!(spikes[0].period, "2024-05-04");
        assert_eq!(spikes[0].attacks, 25);
        assert!((spikes[0].baseline_share.unwrap() - 0.010).abs() < 1e-12);
        assert!((spikes[0].ratio.unwrap() - 2.5).abs() < 1e-9);
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
}
