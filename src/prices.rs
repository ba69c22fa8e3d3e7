//! Price lists: what a contract charges per charged check, by date, monthly volume tier and code.
//!
//! A price list is a TOML file (`--prices FILE`, or `prices = "..."` in the config file):
//!
//! ```toml
//! currency = "USD"
//! rounding = "total"          # or "line"
//! scale = 2
//! [[period]]
//! from = "2026-01-01"
//! tiers = [ { up_to = 500, price = "0.035" }, { price = "0.030" } ]
//! codes = { 12250 = "0.010" }
//! ```
//!
//! Policy (the one pricing rule every report uses):
//! - Only checks [`crate::check::classify`] calls charged are priced; the list never decides
//!   what is billed.
//! - A period is in force from its `from` date (00:00 in the report's zone) until the next
//!   period's `from`. A check dated before the first period has no price: it is counted as
//!   unpriced, never given a guessed one, and does not count toward a tier. So is a check
//!   without a date (it has no month).
//! - Tiers count charged checks per calendar month in the report's zone, in time order (the
//!   time the report dates checks by; checks in the same instant in liveness-id order). The count
//!   starts at 1 on the month's first day and runs through the whole month, across a price
//!   change: a month spanning two periods keeps one running count, and each check is priced by
//!   the tiers of the period in force on its own day, at the tier its place in the month falls in.
//!   Tier `up_to = N` holds the month's checks number `previous up_to + 1` to `N`; the last tier
//!   has no `up_to` and holds the rest.
//! - A charged check whose code has a price under `codes` (of the period in force) is priced at
//!   that price and is outside the tiers: it neither takes a tier price nor counts toward one.
//! - Amounts are exact decimals. `rounding = "line"` rounds each check's price half-to-even at
//!   `scale` decimals before anything is added (the amount is then the sum of its lines);
//!   `rounding = "total"` adds exact prices and rounds only the report's total, half-to-even at
//!   `scale` (per-period and per-tier amounts stay exact).
//! - Prices are quoted decimal strings (`"0.035"`): a TOML float is refused because it is binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// A price list that cannot be used: the file and the key, and how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceError {
    #[error("cannot read the price list {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("price list {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("price list {path}: `{key}`: {message}")]
    Key {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// Where amounts are rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rounding {
    /// Each check's price, before adding.
    Line,
    /// The total only.
    Total,
}

/// One volume tier of a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    /// The last place in the month this tier holds; `None` for the last tier.
    pub up_to: Option<u64>,
    pub price: Decimal,
}

/// Prices in force from `from` until the next period.
#[derive(Debug, Clone, PartialEq)]
pub struct PricePeriod {
    pub from: Date,
    pub tiers: Vec<Tier>,
    /// Per-code prices, outside the tiers.
    pub codes: BTreeMap<i64, Decimal>,
}

/// A whole price list.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceList {
    pub source: PathBuf,
    pub currency: String,
    pub rounding: Rounding,
    pub scale: u32,
    /// In `from` order, no two on the same date.
    pub periods: Vec<PricePeriod>,
}

/// Which price of a period a piece was charged at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rate {
    /// The tier at this index.
    Tier(usize),
    /// The per-code price of this code.
    Code(i64),
}

/// Checks charged at one price: the period (index), the rate and the unit price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece {
    pub period: usize,
    pub rate: Rate,
    /// The unit price as the list gives it.
    pub price: Decimal,
    /// The unit price each check is charged at (rounded under `rounding = "line"`).
    pub unit: Decimal,
    pub count: i64,
}

impl Piece {
    pub fn amount(&self) -> Decimal {
        self.unit * Decimal::from(self.count)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    currency: Option<String>,
    rounding: Option<String>,
    scale: Option<i64>,
    #[serde(default)]
    period: Vec<RawPeriod>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeriod {
    from: Option<toml::Value>,
    #[serde(default)]
    tiers: Vec<RawTier>,
    #[serde(default)]
    codes: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    up_to: Option<i64>,
    price: Option<toml::Value>,
}

impl PriceList {
    /// Reads and checks the price list at `path`.
    pub fn load(path: &Path) -> Result<PriceList, PriceError> {
        let text = std::fs::read_to_string(path).map_err(|source| PriceError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        PriceList::parse(&text, path)
    }

    /// Parses `text` (read from `path`, named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<PriceList, PriceError> {
        let raw: RawList = toml::from_str(text).map_err(|e| PriceError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let bad = |key: String, message: String| PriceError::Key {
            path: path.to_path_buf(),
            key,
            message,
        };
        let currency = raw
            .currency
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                bad(
                    "currency".into(),
                    "missing; give the currency code, e.g. currency = \"USD\"".into(),
                )
            })?;
        let rounding = match raw.rounding.as_deref().map(str::trim) {
            None | Some("total") => Rounding::Total,
            Some("line") => Rounding::Line,
            Some(other) => {
                return Err(bad(
                    "rounding".into(),
                    format!("{other:?} is not a rounding; use \"total\" or \"line\""),
                ));
            }
        };
        let scale = match raw.scale {
            None => 2,
            Some(s @ 0..=10) => s as u32,
            Some(s) => {
                return Err(bad(
                    "scale".into(),
                    format!("{s} is not a number of decimals from 0 to 10"),
                ));
            }
        };
        if raw.period.is_empty() {
            return Err(bad(
                "period".into(),
                "no [[period]]; give at least one with `from` and `tiers`".into(),
            ));
        }
        let mut periods: Vec<PricePeriod> = Vec::new();
        for (i, p) in raw.period.into_iter().enumerate() {
            let at = |k: &str| format!("period[{i}].{k}");
            let from = match &p.from {
                Some(toml::Value::String(s)) => s.trim().parse::<Date>().ok(),
                Some(toml::Value::Datetime(d)) if d.time.is_none() && d.offset.is_none() => {
                    d.to_string().parse::<Date>().ok()
                }
                _ => None,
            }
            .ok_or_else(|| {
                bad(
                    at("from"),
                    match &p.from {
                        None => "missing; give the first day of the period, e.g. \
                                 from = \"2026-01-01\""
                            .into(),
                        Some(v) => format!("{v} is not a date; use \"YYYY-MM-DD\""),
                    },
                )
            })?;
            if let Some(prev) = periods.last()
                && prev.from >= from
            {
                return Err(bad(
                    at("from"),
                    format!(
                        "{from} is not after the previous period's {}; list periods in date \
                         order, one per date",
                        prev.from
                    ),
                ));
            }
            if p.tiers.is_empty() {
                return Err(bad(
                    at("tiers"),
                    "missing or empty; give at least one tier, e.g. tiers = [ { price = \
                     \"0.035\" } ]"
                        .into(),
                ));
            }
            let mut tiers = Vec::with_capacity(p.tiers.len());
            let last = p.tiers.len() - 1;
            for (j, t) in p.tiers.into_iter().enumerate() {
                let key = |k: &str| format!("period[{i}].tiers[{j}].{k}");
                let price = money(t.price.as_ref()).map_err(|m| bad(key("price"), m))?;
                let up_to = match (t.up_to, j == last) {
                    (None, true) => None,
                    (None, false) => {
                        return Err(bad(
                            key("up_to"),
                            "missing; every tier but the last needs up_to (the last holds \
                             the rest of the month)"
                                .into(),
                        ));
                    }
                    (Some(_), true) => {
                        return Err(bad(
                            key("up_to"),
                            "the last tier has no up_to: it holds the rest of the month".into(),
                        ));
                    }
                    (Some(n), false) => {
                        let floor = tiers.last().and_then(|t: &Tier| t.up_to).unwrap_or(0);
                        if n <= 0 || (n as u64) <= floor {
                            return Err(bad(
                                key("up_to"),
                                format!(
                                    "{n} must be above the previous tier's up_to ({floor}); \
                                     tiers go up in volume"
                                ),
                            ));
                        }
                        Some(n as u64)
                    }
                };
                tiers.push(Tier { up_to, price });
            }
            let mut codes = BTreeMap::new();
            for (code, v) in &p.codes {
                let key = format!("period[{i}].codes.{code}");
                let c: i64 = code.trim().parse().map_err(|_| {
                    bad(
                        key.clone(),
                        format!("{code:?} is not a result code; use the number, e.g. 12250"),
                    )
                })?;
                codes.insert(c, money(Some(v)).map_err(|m| bad(key, m))?);
            }
            periods.push(PricePeriod { from, tiers, codes });
        }
        Ok(PriceList {
            source: path.to_path_buf(),
            currency,
            rounding,
            scale,
            periods,
        })
    }

    /// The index of the period in force on `date`, if any.
    pub fn period_on(&self, date: Date) -> Option<usize> {
        self.periods.iter().rposition(|p| p.from <= date)
    }

    /// The price one check is charged at under the rounding rule.
    pub fn unit(&self, price: Decimal) -> Decimal {
        match self.rounding {
            Rounding::Line => self.round(price),
            Rounding::Total => price,
        }
    }

    /// `d` rounded half-to-even at the list's scale.
    pub fn round(&self, d: Decimal) -> Decimal {
        d.round_dp_with_strategy(self.scale, RoundingStrategy::MidpointNearestEven)
    }

    /// The amount billed for pieces adding up to `sum`: the sum itself under `line` (already
    /// at scale), rounded under `total`.
    pub fn total(&self, sum: Decimal) -> Decimal {
        self.round(sum)
    }

    /// A label of a rate of period `period` (`1: up to 500`, `2: 501 and over`, `code 12250`).
    pub fn rate_label(&self, period: usize, rate: Rate) -> String {
        match rate {
            Rate::Code(c) => format!("code {c}"),
            Rate::Tier(t) => {
                let tiers = &self.periods[period].tiers;
                let floor = t.checked_sub(1).and_then(|p| tiers[p].up_to).unwrap_or(0) + 1;
                match tiers[t].up_to {
                    Some(n) => format!("{}: {floor} to {n}", t + 1),
                    None => format!("{}: {floor} and over", t + 1),
                }
            }
        }
    }
}

/// The largest price per check accepted: anything above is a typo, and amounts of up to a
/// trillion checks stay exact.
const MAX_PRICE: i64 = 1_000_000;

/// Parses a price: a non-negative plain decimal (digits and at most one `.`, at most 12
/// decimals), at most a million per check.
pub fn parse_price(text: &str) -> Result<Decimal, crate::report::ReportError> {
    let t = text.trim();
    let plain = !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && t.matches('.').count() <= 1
        && t.split_once('.').is_none_or(|(_, f)| f.len() <= 12);
    let d: Decimal = t
        .parse()
        .ok()
        .filter(|_| plain)
        .ok_or_else(|| crate::report::ReportError::Price(text.to_string()))?;
    if d > Decimal::from(MAX_PRICE) {
        return Err(crate::report::ReportError::Price(text.to_string()));
    }
    Ok(d)
}

/// A price: a quoted plain decimal, by the same rule as `--price`.
fn money(v: Option<&toml::Value>) -> Result<Decimal, String> {
    match v {
        None => Err("missing; give the price as a quoted decimal, e.g. \"0.035\"".into()),
        Some(toml::Value::String(s)) => parse_price(s).map_err(|_| {
            format!(
                "{s:?} is not a price; use a plain decimal such as \"0.035\" (at most 12 \
                 decimals, at most 1000000 per check)"
            )
        }),
        Some(toml::Value::Float(f)) => Err(format!(
            "{f} is a binary float; quote the price so it stays exact, e.g. \"{f}\""
        )),
        Some(toml::Value::Integer(n)) => Err(format!(
            "{n} is not quoted; quote the price so it stays exact, e.g. \"{n}\""
        )),
        Some(other) => Err(format!("{other} is not a price; use e.g. \"0.035\"")),
    }
}

/// Prices charged checks fed in time order (see the module doc): one running count per
/// calendar month in the zone.
#[derive(Debug)]
pub struct Pricer<'a> {
    list: &'a PriceList,
    tz: TimeZone,
    /// The month being counted (year, month) and the tiered checks counted in it so far.
    month: Option<(i16, i8)>,
    used: u64,
}

impl<'a> Pricer<'a> {
    pub fn new(list: &'a PriceList, tz: TimeZone) -> Pricer<'a> {
        Pricer {
            list,
            tz,
            month: None,
            used: 0,
        }
    }

    /// The local date of an instant in the pricer's zone.
    pub fn local_date(&self, ms: i64) -> Option<Date> {
        jiff::Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned_datetime(self.tz.clone()).date())
    }

    /// Prices `count` charged checks of `code` dated at `ms` (not before any check fed so far):
    /// the pieces they are charged at, or `None` when no period is in force on their day.
    pub fn charge(&mut self, ms: i64, code: Option<i64>, count: i64) -> Option<Vec<Piece>> {
        let date = self.local_date(ms)?;
        let month = (date.year(), date.month());
        if self.month != Some(month) {
            self.month = Some(month);
            self.used = 0;
        }
        let period = self.list.period_on(date)?;
        let p = &self.list.periods[period];
        if let Some(price) = code.and_then(|c| p.codes.get(&c).map(|pr| (c, *pr))) {
            return Some(vec![Piece {
                period,
                rate: Rate::Code(price.0),
                price: price.1,
                unit: self.list.unit(price.1),
                count,
            }]);
        }
        let mut pieces = Vec::new();
        let mut left = count.max(0) as u64;
        for (t, tier) in p.tiers.iter().enumerate() {
            if left == 0 {
                break;
            }
            let room = match tier.up_to {
                Some(n) => n.saturating_sub(self.used),
                None => u64::MAX,
            };
            let here = room.min(left);
            if here == 0 {
                continue;
            }
            pieces.push(Piece {
                period,
                rate: Rate::Tier(t),
                price: tier.price,
                unit: self.list.unit(tier.price),
                count: here as i64,
            });
            self.used += here;
            left -= here;
        }
        Some(pieces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIST: &str = r#"
currency = "USD"
rounding = "total"
scale = 2
[[period]]
from = "2026-01-01"
tiers = [ { up_to = 3, price = "0.035" }, { up_to = 5, price = "0.030" }, { price = "0.025" } ]
codes = { 12250 = "0.010" }
[[period]]
from = "2026-02-15"
tiers = [ { up_to = 4, price = "0.020" }, { price = "0.015" } ]
"#;

    fn list(text: &str) -> PriceList {
        PriceList::parse(text, Path::new("p.toml")).unwrap()
    }

    fn ms(date: &str, hour: i8) -> i64 {
        let d: Date = date.parse().unwrap();
        d.at(hour, 0, 0, 0)
            .to_zoned_datetime(TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    fn total(pieces: &[Piece]) -> Decimal {
        pieces.iter().map(Piece::amount).sum()
    }

    #[test]
    fn tier_edges_split_a_month() {
        let l = list(LIST);
        let mut p = Pricer::new(&l, TimeZone::UTC);
        // 2 checks: places 1-2 in tier 1.
        let a = p.charge(ms("2026-01-05", 1), Some(200), 2).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].rate, Rate::Tier(0));
        // 4 more: place 3 in tier 1, 4-5 in tier 2, 6 in tier 3.
        let b = p.charge(ms("2026-01-06", 1), Some(200), 4).unwrap();
        let counts: Vec<(Rate, i64)> = b.iter().map(|x| (x.rate, x.count)).collect();
        assert_eq!(
            counts,
            [(Rate::Tier(0), 1), (Rate::Tier(1), 2), (Rate::Tier(2), 1)]
        );
        // 0.035 + 2 x 0.030 + 0.025 = 0.120
        assert_eq!(total(&b), "0.120".parse().unwrap());
        // A per-code check is outside the tiers: it does not move the count.
        let c = p.charge(ms("2026-01-07", 1), Some(12250), 5).unwrap();
        assert_eq!(c[0].rate, Rate::Code(12250));
        assert_eq!(total(&c), "0.050".parse().unwrap());
        let d = p.charge(ms("2026-01-08", 1), Some(200), 1).unwrap();
        assert_eq!(d[0].rate, Rate::Tier(2));
        // A new month starts counting again at 1.
        let e = p.charge(ms("2026-02-01", 1), Some(200), 1).unwrap();
        assert_eq!(e[0].rate, Rate::Tier(0));
        assert_eq!(l.rate_label(0, Rate::Tier(1)), "2: 4 to 5");
        assert_eq!(l.rate_label(0, Rate::Tier(2)), "3: 6 and over");
    }

    #[test]
    fn a_month_crossing_a_price_change_keeps_one_count() {
        let l = list(LIST);
        let mut p = Pricer::new(&l, TimeZone::UTC);
        // February: 3 checks under period 0 (places 1-3, tier 1 at 0.035).
        let a = p.charge(ms("2026-02-14", 23), Some(200), 3).unwrap();
        assert_eq!((a[0].period, a[0].rate, a[0].count), (0, Rate::Tier(0), 3));
        // From the 15th period 1 is in force: places 4-6 take its tiers (up_to 4, then rest).
        let b = p.charge(ms("2026-02-15", 0), Some(200), 3).unwrap();
        let got: Vec<(usize, Rate, i64)> = b.iter().map(|x| (x.period, x.rate, x.count)).collect();
        assert_eq!(got, [(1, Rate::Tier(0), 1), (1, Rate::Tier(1), 2)]);
        // 0.020 + 2 x 0.015 = 0.050
        assert_eq!(total(&b), "0.050".parse().unwrap());
        // Period 1 has no per-code price: 12250 is tiered there.
        let c = p.charge(ms("2026-02-16", 0), Some(12250), 1).unwrap();
        assert_eq!((c[0].period, c[0].rate), (1, Rate::Tier(1)));
        // Before the first period: no price.
        let mut q = Pricer::new(&l, TimeZone::UTC);
        assert!(q.charge(ms("2025-12-31", 23), Some(200), 1).is_none());
    }

    #[test]
    fn the_month_and_the_period_follow_the_zone() {
        let l = list(LIST);
        let jakarta = TimeZone::get("Asia/Jakarta").unwrap();
        let mut p = Pricer::new(&l, jakarta);
        // 2026-02-14T18:00Z is the 15th in Jakarta (+07): period 1.
        let a = p.charge(ms("2026-02-14", 18), Some(200), 1).unwrap();
        assert_eq!(a[0].period, 1);
        // 2025-12-31T18:00Z is already 2026-01-01 there: priced.
        let mut q = Pricer::new(&l, TimeZone::get("Asia/Jakarta").unwrap());
        assert!(q.charge(ms("2025-12-31", 18), Some(200), 1).is_some());
    }

    #[test]
    fn line_rounding_rounds_each_price_half_even() {
        let l = list(&LIST.replace("\"total\"", "\"line\""));
        let mut p = Pricer::new(&l, TimeZone::UTC);
        let a = p.charge(ms("2026-01-05", 1), Some(200), 3).unwrap();
        // 0.035 -> 0.04 (half to even), 3 x 0.04
        assert_eq!(a[0].unit.to_string(), "0.04");
        assert_eq!(total(&a), "0.12".parse().unwrap());
        // 0.025 -> 0.02 (half to even)
        assert_eq!(l.unit("0.025".parse().unwrap()).to_string(), "0.02");
        assert_eq!(l.total("0.125".parse().unwrap()).to_string(), "0.12");
    }

    #[test]
    fn malformed_lists_name_the_key() {
        let err = |text: &str| {
            PriceList::parse(text, Path::new("p.toml"))
                .unwrap_err()
                .to_string()
        };
        let base = "currency = \"USD\"\n[[period]]\nfrom = \"2026-01-01\"\n";
        let e = err(&format!("{base}tiers = [ {{ price = 0.035 }} ]"));
        assert!(
            e.contains("p.toml") && e.contains("period[0].tiers[0].price"),
            "{e}"
        );
        assert!(e.contains("quote"), "{e}");
        let e = err(&format!(
            "{base}tiers = [ {{ up_to = 5, price = \"1\" }}, {{ up_to = 5, price = \"1\" }}, {{ price = \"1\" }} ]"
        ));
        assert!(e.contains("period[0].tiers[1].up_to"), "{e}");
        let e = err(&format!("{base}tiers = [ {{ up_to = 5, price = \"1\" }} ]"));
        assert!(e.contains("period[0].tiers[0].up_to"), "{e}");
        let e = err(&format!("{base}tiers = [ {{ price = \"-1\" }} ]"));
        assert!(e.contains("price"), "{e}");
        let e = err(&format!(
            "{base}tiers = [ {{ price = \"1\" }} ]\ncodes = {{ abc = \"1\" }}"
        ));
        assert!(e.contains("period[0].codes.abc"), "{e}");
        let e =
            err("currency = \"USD\"\n[[period]]\nfrom = \"Jan 1\"\ntiers = [ { price = \"1\" } ]");
        assert!(e.contains("period[0].from"), "{e}");
        let e = err(&format!(
            "rounding = \"up\"\n{base}tiers = [ {{ price = \"1\" }} ]"
        ));
        assert!(e.contains("`rounding`"), "{e}");
        let e =
            err(&format!("{base}tiers = [ {{ price = \"1\" }} ]")
                .replace("currency = \"USD\"\n", ""));
        assert!(e.contains("`currency`"), "{e}");
        let e = err("currency = \"USD\"\n");
        assert!(e.contains("`period`"), "{e}");
        let e = err(&format!("{base}tiers = [ {{ price = \"1\" }} ]\nextra = 1"));
        assert!(e.contains("extra"), "{e}");
        let two = format!("{base}tiers = [ {{ price = \"1\" }} ]\n{}", &base[17..]);
        let e = err(&format!("{two}tiers = [ {{ price = \"1\" }} ]"));
        assert!(e.contains("period[1].from"), "{e}");
        // A TOML date literal is a date too.
        let l = list(
            "currency = \"EUR\"\n[[period]]\nfrom = 2026-01-01\ntiers = [ { price = \"1\" } ]",
        );
        assert_eq!(l.periods[0].from.to_string(), "2026-01-01");
        assert_eq!(l.rounding, Rounding::Total);
    }

    proptest! {
        /// Under `rounding = "line"` the amount is the sum of the per-check amounts: pricing
        /// checks in batches gives what pricing them one by one (each rounded) gives.
        #[test]
        fn line_amount_is_the_sum_of_its_lines(
            batches in proptest::collection::vec((0i64..90, 0u8..3, 1i64..40), 1..30),
            p1 in 0u32..100_000, p2 in 0u32..100_000, p3 in 0u32..100_000, up in 1u64..60,
        ) {
            let price = |n: u32| Decimal::new(n.into(), 4);
            let text = format!(
                "currency = \"USD\"\nrounding = \"line\"\nscale = 2\n[[period]]\nfrom = \"2026-01-01\"\n\
                 tiers = [ {{ up_to = {up}, price = \"{}\" }}, {{ price = \"{}\" }} ]\n\
                 codes = {{ 12250 = \"{}\" }}\n[[period]]\nfrom = \"2026-02-10\"\n\
                 tiers = [ {{ up_to = {}, price = \"{}\" }}, {{ price = \"{}\" }} ]\n",
                price(p1), price(p2), price(p3), up + 3, price(p2), price(p1)
            );
            let l = list(&text);
            let mut batches = batches;
            batches.sort();
            let start = ms("2026-01-01", 0);
            let code = |c: u8| [200, 12250, 200][c as usize];
            let mut whole = Pricer::new(&l, TimeZone::UTC);
            let mut single = Pricer::new(&l, TimeZone::UTC);
            let (mut amount, mut lines) = (Decimal::ZERO, Decimal::ZERO);
            for (day, c, n) in batches {
                let t = start + day * 86_400_000;
                amount += total(&whole.charge(t, Some(code(c)), n).unwrap());
                for _ in 0..n {
                    let one = single.charge(t, Some(code(c)), 1).unwrap();
                    prop_assert_eq!(one.len(), 1);
                    let line = l.round(one[0].price);
                    prop_assert_eq!(line, one[0].unit);
                    lines += line;
                }
            }
            prop_assert_eq!(amount, lines);
            prop_assert_eq!(l.total(amount), amount);
        }
    }
}
