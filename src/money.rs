//! Money: one type, [`Money`], holds the currency, the scale and the rounding rule of a price
//! list or of a report, and every amount is rounded, shown and written to JSON through it.
//!
//! Policy:
//! - Amounts are exact decimals, never floats. Rounding is half-to-even at the scale.
//!   [`Rounding::Line`] rounds each check's price before anything is added (an amount is then
//!   the sum of its lines); [`Rounding::Total`] adds exact prices and rounds only the total.
//! - A report shows every amount at one scale, in every format. Under a price list that is the
//!   list's `scale` (`93.54`, never `93.5400`), each amount rounded half-to-even for display (a
//!   list rounded on the total rounds only the total: a period's exact sum may have more
//!   decimals, and the report says its rows are rounded); a unit price keeps its own decimals
//!   ([`Money::show_price`]). With a flat price (or none) it is the price's decimals and those of
//!   every amount shown, at least 2 (`0.140` beside `98.350`; [`Money::covering`]).
//! - JSON holds amounts as exact decimal strings (`"35000.105"`), so no reader rounds them
//!   through a float, padded to the report's scale ([`Money::to_json`]). Padding never rounds: an
//!   amount with more decimals than the scale keeps its own.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Serialize, Serializer};

/// Where amounts are rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Rounding {
    /// Each check's price, before adding.
    Line,
    /// The total only.
    Total,
}

impl Rounding {
    /// Where it rounds, as a report's summary says it (`on each check`, `on the total`).
    fn describe(self) -> &'static str {
        match self {
            Rounding::Line => "on each check",
            Rounding::Total => "on the total",
        }
    }
}

/// The money of a price list or a report: the currency every amount is in, the decimals
/// amounts are rounded to and shown at, and where they are rounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Money {
    /// The currency code every amount is in.
    pub(crate) currency: String,
    /// Decimals amounts are rounded to (half to even) and shown at.
    pub(crate) scale: u32,
    /// Where amounts are rounded.
    pub(crate) rounding: Rounding,
}

/// The fewest decimals a report shows amounts at.
const LEAST_SHOWN: u32 = 2;

/// Marks an amount inside a serialised document until [`Money::to_json`] writes it at the
/// document's scale (the serde field helpers below cannot see the document).
const AMOUNT_MARK: &str = "$liveaudit::money::amount";

impl Money {
    /// Money in `currency` rounded at `scale` decimals under `rounding`.
    pub(crate) fn new(currency: impl Into<String>, scale: u32, rounding: Rounding) -> Money {
        Money {
            currency: currency.into(),
            scale,
            rounding,
        }
    }

    /// Money in `currency` with no rounding of its own: a flat price's amounts, or a report's
    /// without a price list (rounding the total at a scale that covers every amount changes
    /// nothing).
    pub(crate) fn unrounded(currency: impl Into<String>) -> Money {
        Money::new(currency, 0, Rounding::Total)
    }

    /// This money shown at a scale covering the decimals of every one of `amounts`, and at
    /// least 2.
    pub(crate) fn covering<'a>(mut self, amounts: impl IntoIterator<Item = &'a Decimal>) -> Money {
        let widest = amounts
            .into_iter()
            .map(|d| d.normalize().scale())
            .max()
            .unwrap_or(0);
        self.scale = self.scale.max(widest).max(LEAST_SHOWN);
        self
    }

    /// The rule as a report's summary states it (`rounded half-to-even at 2 decimals on the
    /// total`).
    pub(crate) fn describe_rounding(&self) -> String {
        format!(
            "rounded half-to-even at {} decimals {}",
            self.scale,
            self.rounding.describe()
        )
    }

    /// `d` rounded half-to-even at the scale.
    pub(crate) fn round(&self, d: Decimal) -> Decimal {
        d.round_dp_with_strategy(self.scale, RoundingStrategy::MidpointNearestEven)
    }

    /// The price one check is charged at under the rounding rule.
    pub(crate) fn unit(&self, price: Decimal) -> Decimal {
        match self.rounding {
            Rounding::Line => self.round(price),
            Rounding::Total => price,
        }
    }

    /// The amount billed for pieces adding up to `sum`: the sum itself under `line` (already
    /// at scale), rounded under `total`.
    pub(crate) fn total(&self, sum: Decimal) -> Decimal {
        self.round(sum)
    }

    /// A unit price as the reports print it: its own decimals, at least the scale (`0.0355`
    /// and `0.04` at scale 2 -> `0.0355`, `0.04`), never rounded.
    pub(crate) fn show_price(&self, d: Decimal) -> String {
        let mut d = d.normalize();
        if d.scale() < self.scale {
            d.rescale(self.scale);
        }
        d.to_string()
    }

    /// Whether `d` has more decimals than the scale (shown rounded).
    pub(crate) fn rounds(&self, d: Decimal) -> bool {
        d.normalize().scale() > self.scale
    }

    /// `d` at the scale, as the reports print it (`0.14` -> `0.140` at scale 3).
    pub(crate) fn show(&self, d: Decimal) -> String {
        let mut d = self.round(d);
        d.rescale(self.scale);
        d.to_string()
    }

    /// `value`'s JSON form with every amount (a field written by [`exact`] or [`optional`]) as
    /// an exact decimal string at this scale.
    pub(crate) fn to_json<T: Serialize>(&self, value: &T) -> serde_json::Value {
        let mut json = serde_json::to_value(value).unwrap_or_default();
        self.pad(&mut json);
        json
    }

    /// Replaces every marked amount in `json` by its string at this scale.
    fn pad(&self, json: &mut serde_json::Value) {
        use serde_json::Value;
        match json {
            Value::Object(map) => {
                if map.len() == 1
                    && let Some(Value::String(s)) = map.get(AMOUNT_MARK)
                    && let Ok(mut d) = s.parse::<Decimal>()
                {
                    if d.scale() <= self.scale {
                        d.rescale(self.scale);
                    }
                    *json = Value::String(d.to_string());
                } else {
                    map.values_mut().for_each(|v| self.pad(v));
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.pad(v)),
            _ => {}
        }
    }
}

/// Serialises an amount for [`Money::to_json`] (`#[serde(serialize_with = "crate::money::exact")]`).
pub(crate) fn exact<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry(AMOUNT_MARK, &d.normalize().to_string())?;
    map.end()
}

/// [`exact`] for an amount that may be absent (`null`).
pub(crate) fn optional<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => exact(d, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[derive(Serialize)]
    struct Doc {
        #[serde(serialize_with = "exact")]
        a: Decimal,
        #[serde(serialize_with = "optional")]
        b: Option<Decimal>,
        #[serde(serialize_with = "optional")]
        c: Option<Decimal>,
        rows: Vec<Row>,
    }

    #[derive(Serialize)]
    struct Row {
        #[serde(serialize_with = "exact")]
        amount: Decimal,
        label: String,
    }

    /// Every amount of a document, nested or not, is an exact string at the document's scale;
    /// one with more decimals keeps them (padding never rounds); other fields are untouched.
    #[test]
    fn json_amounts_are_strings_at_the_documents_scale() {
        let doc = Doc {
            a: d("98.35"),
            b: Some(d("0.00000")),
            c: None,
            rows: vec![Row {
                amount: d("0.1234"),
                label: "0.5".into(),
            }],
        };
        let m = Money::unrounded("USD").covering([&d("0.035")]);
        assert_eq!(m.scale, 3);
        let json = m.to_json(&doc);
        assert_eq!(
            json,
            serde_json::json!({"a": "98.350", "b": "0.000", "c": null,
                "rows": [{"amount": "0.1234", "label": "0.5"}]})
        );
    }

    /// A report's scale covers every price's decimals, at least 2, and never goes below the
    /// list's own scale.
    #[test]
    fn shown_scale_covers_every_amount() {
        let list = Money::new("USD", 4, Rounding::Line);
        assert_eq!(list.clone().covering([&d("0.035")]).scale, 4);
        assert_eq!(Money::unrounded("USD").covering([]).scale, 2);
        let m = Money::unrounded("USD").covering([&d("0.0350"), &d("1.5")]);
        assert_eq!(m.show(d("0.14")), "0.140");
        assert_eq!(m.show(d("0.1235")), "0.124", "half to even");
    }

    /// A list's amounts are shown at its scale (rounded), its prices at their own decimals.
    #[test]
    fn a_lists_amounts_at_its_scale_and_prices_at_their_own() {
        let list = Money::new("USD", 2, Rounding::Total);
        assert_eq!(list.show(d("93.54")), "93.54");
        assert_eq!(list.show(d("3.3728")), "3.37");
        assert!(list.rounds(d("3.3728")) && !list.rounds(d("3.5200")));
        assert_eq!(list.show_price(d("0.0355")), "0.0355");
        assert_eq!(list.show_price(d("0.5")), "0.50");
    }

    /// `line` rounds each check's price; `total` leaves prices exact and rounds the sum.
    #[test]
    fn rounding_rules() {
        let line = Money::new("USD", 2, Rounding::Line);
        let total = Money::new("USD", 2, Rounding::Total);
        assert_eq!(line.unit(d("0.025")), d("0.02"));
        assert_eq!(total.unit(d("0.025")), d("0.025"));
        assert_eq!(total.total(d("0.125")), d("0.12"));
        assert_eq!(
            line.describe_rounding(),
            "rounded half-to-even at 2 decimals on each check"
        );
    }
}
