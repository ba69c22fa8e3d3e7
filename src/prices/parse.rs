//! Reading a price list: the TOML file into a checked [`PriceList`], and the one rule for a
//! price (`--price` and every price in a list).
//!
//! Policy: a list is refused whole, naming the file and the key and how to fix it, rather than
//! read in part; prices are quoted plain decimals (a TOML float is refused because it is
//! binary), non-negative, at most 12 decimals and at most a million per check; periods are in
//! date order, one per date; every tier but the last has an `up_to` above the previous one.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{PriceError, PriceList, PricePeriod, Tier};
use crate::money::{Money, Rounding};
use crate::setting::Setting;

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
    pub(crate) fn load(path: &Path) -> Result<PriceList, PriceError> {
        let text = crate::small_file::read_to_string(path, crate::small_file::CONFIG_MAX_BYTES)
            .map_err(|source| PriceError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        PriceList::parse(&text, path)
    }

    /// Parses `text` (read from `path`, named in errors).
    pub(crate) fn parse(text: &str, path: &Path) -> Result<PriceList, PriceError> {
        let raw: RawList = toml::from_str(text).map_err(|e| PriceError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let keyed = |b: BadKey| PriceError::Key {
            path: path.to_path_buf(),
            key: b.key,
            message: b.message,
        };
        let currency = raw
            .currency
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                bad(
                    "currency",
                    "missing; give the currency code, e.g. currency = \"USD\"",
                )
            })
            .map_err(keyed)?;
        let rounding = rounding(raw.rounding.as_deref()).map_err(keyed)?;
        let scale = scale(raw.scale).map_err(keyed)?;
        if raw.period.is_empty() {
            return Err(keyed(bad(
                "period",
                "no [[period]]; give at least one with `from` and `tiers`",
            )));
        }
        let mut periods: Vec<PricePeriod> = Vec::new();
        for (i, p) in raw.period.into_iter().enumerate() {
            let period = period(i, p, periods.last()).map_err(keyed)?;
            periods.push(period);
        }
        Ok(PriceList {
            source: path.to_path_buf(),
            money: Money::new(currency, scale, rounding),
            periods,
        })
    }
}

/// A key of the list that is wrong, and what to write instead.
struct BadKey {
    key: String,
    message: String,
}

fn bad(key: impl Into<String>, message: impl Into<String>) -> BadKey {
    BadKey {
        key: key.into(),
        message: message.into(),
    }
}

/// `rounding`: `total` (the default) or `line`.
fn rounding(raw: Option<&str>) -> Result<Rounding, BadKey> {
    match raw.map(str::trim) {
        None | Some("total") => Ok(Rounding::Total),
        Some("line") => Ok(Rounding::Line),
        Some(other) => Err(bad(
            "rounding",
            format!("{other:?} is not a rounding; use \"total\" or \"line\""),
        )),
    }
}

/// `scale`: decimals of the amounts, 0 to 10 (2 by default).
fn scale(raw: Option<i64>) -> Result<u32, BadKey> {
    match raw {
        None => Ok(2),
        Some(s @ 0..=10) => Ok(s as u32),
        Some(s) => Err(bad(
            "scale",
            format!("{s} is not a number of decimals from 0 to 10"),
        )),
    }
}

/// The `i`th `[[period]]`, after `previous`: its first day (after the previous period's), its
/// tiers and its prices per code.
fn period(i: usize, p: RawPeriod, previous: Option<&PricePeriod>) -> Result<PricePeriod, BadKey> {
    let at = |k: &str| format!("period[{i}].{k}");
    let from = period_from(p.from.as_ref()).map_err(|m| bad(at("from"), m))?;
    if let Some(prev) = previous
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
             \"0.035\" } ]",
        ));
    }
    let mut tiers = Vec::with_capacity(p.tiers.len());
    let last = p.tiers.len() - 1;
    for (j, t) in p.tiers.into_iter().enumerate() {
        let key = |k: &str| format!("period[{i}].tiers[{j}].{k}");
        let price = money(t.price.as_ref()).map_err(|m| bad(key("price"), m))?;
        let floor = tiers.last().and_then(|t: &Tier| t.up_to).unwrap_or(0);
        let up_to = tier_up_to(t.up_to, j == last, floor).map_err(|m| bad(key("up_to"), m))?;
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
    Ok(PricePeriod { from, tiers, codes })
}

/// A period's `from`: a date, quoted or as a TOML local date.
fn period_from(raw: Option<&toml::Value>) -> Result<Date, String> {
    match raw {
        Some(toml::Value::String(s)) => s.trim().parse::<Date>().ok(),
        Some(toml::Value::Datetime(d)) if d.time.is_none() && d.offset.is_none() => {
            d.to_string().parse::<Date>().ok()
        }
        _ => None,
    }
    .ok_or_else(|| match raw {
        None => "missing; give the first day of the period, e.g. from = \"2026-01-01\"".into(),
        Some(v) => format!("{v} is not a date; use \"YYYY-MM-DD\""),
    })
}

/// A tier's `up_to`: required above `floor` (the previous tier's) on every tier but the last,
/// absent on the last (it holds the rest of the month).
fn tier_up_to(raw: Option<i64>, last: bool, floor: u64) -> Result<Option<u64>, String> {
    match (raw, last) {
        (None, true) => Ok(None),
        (None, false) => Err(
            "missing; every tier but the last needs up_to (the last holds \
                              the rest of the month)"
                .into(),
        ),
        (Some(_), true) => Err("the last tier has no up_to: it holds the rest of the month".into()),
        (Some(n), false) if n <= 0 || (n as u64) <= floor => Err(format!(
            "{n} must be above the previous tier's up_to ({floor}); tiers go up in volume"
        )),
        (Some(n), false) => Ok(Some(n as u64)),
    }
}

/// A `--price` that is not a price (see [`parse_price`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "{price_flag} {0:?} is not a price; use a plain decimal such as 0.035 (at most 12 decimals, at \
     most 1000000 per check)",
    price_flag = Setting::Price
)]
pub(crate) struct BadPrice(String);

/// The largest price per check accepted: anything above is a typo, and amounts of up to a
/// trillion checks stay exact.
const MAX_PRICE: i64 = 1_000_000;

/// Parses a price: a non-negative plain decimal (digits and at most one `.`, at most 12
/// decimals), at most a million per check.
pub(crate) fn parse_price(text: &str) -> Result<Decimal, BadPrice> {
    let t = text.trim();
    let plain = !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && t.matches('.').count() <= 1
        && t.split_once('.').is_none_or(|(_, f)| f.len() <= 12);
    let d: Decimal = t
        .parse()
        .ok()
        .filter(|_| plain)
        .ok_or_else(|| BadPrice(text.to_string()))?;
    if d > Decimal::from(MAX_PRICE) {
        return Err(BadPrice(text.to_string()));
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
