//! Money in JSON: exact decimal strings (`"35000.105"`), so no reader rounds them through a
//! float, and every amount of one document at the report's [`MoneyScale`] (`"0.000"` beside
//! `"98.350"`, as the other formats print them) when it is serialised by [`to_json`].
//! Padding to the scale never rounds: an amount with more decimals than the scale (none, since
//! the scale covers every price and statement amount) keeps its own.

use std::cell::Cell;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use super::MoneyScale;

thread_local! {
    /// The scale of the document being serialised on this thread, if any.
    static SCALE: Cell<Option<u32>> = const { Cell::new(None) };
}

/// `value`'s JSON form with its amounts at `scale`.
pub(crate) fn to_json<T: Serialize>(value: &T, scale: MoneyScale) -> serde_json::Value {
    /// Restores the previous scale however serialisation ends.
    struct Restore(Option<u32>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SCALE.set(self.0);
        }
    }
    let _restore = Restore(SCALE.replace(Some(scale.0)));
    serde_json::to_value(value).unwrap_or_default()
}

pub(crate) fn exact<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    let mut d = d.normalize();
    if let Some(scale) = SCALE.get().filter(|&scale| d.scale() <= scale) {
        d.rescale(scale);
    }
    s.serialize_str(&d.to_string())
}

pub(crate) fn optional<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => exact(d, s),
        None => s.serialize_none(),
    }
}
