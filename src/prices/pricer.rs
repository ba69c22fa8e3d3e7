//! Pricing charged checks in time order: the running tier count of each calendar month.
//!
//! Policy (see [`super`]): one count per calendar month in the report's zone, starting at 1 on
//! its first day and kept across a price change; each check takes the period in force on its
//! own day; a per-code price is outside the tiers; a check with no period in force is unpriced.

use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::{Piece, PriceList, PriceRate};

/// Prices charged checks fed in time order (see the module doc): one running count per
/// calendar month in the zone.
#[derive(Debug)]
pub(crate) struct Pricer<'a> {
    list: &'a PriceList,
    tz: TimeZone,
    /// The month being counted (year, month) and the tiered checks counted in it so far.
    month: Option<(i16, i8)>,
    used: u64,
}

impl<'a> Pricer<'a> {
    /// Prices checks by `list`, counting tiers per calendar month in `tz`. Checks must come
    /// in time order for the tiers to count right.
    pub(crate) fn new(list: &'a PriceList, tz: TimeZone) -> Pricer<'a> {
        Pricer {
            list,
            tz,
            month: None,
            used: 0,
        }
    }

    /// The local date of an instant in the pricer's zone.
    pub(crate) fn local_date(&self, ms: i64) -> Option<Date> {
        jiff::Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned_datetime(self.tz.clone()).date())
    }

    /// Prices `count` charged checks of `code` dated at `ms` (not before any check fed so far):
    /// the pieces they are charged at, or `None` when no period is in force on their day.
    pub(crate) fn charge(&mut self, ms: i64, code: Option<i64>, count: i64) -> Option<Vec<Piece>> {
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
                rate: PriceRate::Code(price.0),
                price: price.1,
                unit: self.list.money.unit(price.1),
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
                rate: PriceRate::Tier(t),
                price: tier.price,
                unit: self.list.money.unit(tier.price),
                count: here as i64,
            });
            self.used += here;
            left -= here;
        }
        Some(pieces)
    }
}
