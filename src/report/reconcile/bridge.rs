//! The bridge: how the statement's billed total becomes our expected total, to the last
//! decimal, and the three totals a finance person acts on.
//!
//! Policy (the identity every format shows, the rounding line always, even at 0):
//!
//! The bridge starts from what the statement bills in total (`statement`: every line of the
//! file, the account's when it names several, at the amounts read), less the lines dated
//! outside the period (not compared): `billed`. A line that could not be read is still billed:
//! its amount is in `billed` and in the line `unreadable` (to check), so the bridge ties to the
//! file's total; one whose amount cannot be read either is counted there and named in a note.
//!
//! `billed - expected` = the billed amounts of the lines we did not expect (one line per
//! bucket), less the expected amounts of our checks no line bills (one line per bucket), plus
//! the amount variance of the matched lines (above and below the price), plus `rounding`: the
//! sum of our checks' unit prices less our expected total (a price list's `rounding = "total"`
//! rounds the sum). Each bucket falls in exactly one total ([`super::BucketKind::total`]); with
//! the amounts signed as their effect on the difference, `difference = to_dispute - owed +
//! to_check + rounding`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::{BucketKind, BucketTotal, Total};

/// The bridge's lines of an itemised statement, in the order shown: lines we did not expect,
/// our checks not billed, the amount variance of matched lines.
pub(crate) const BRIDGE_ORDER: [BucketKind; 14] = [
    BucketKind::Overbilled,
    BucketKind::Duplicate,
    BucketKind::UnknownToUs,
    BucketKind::ProvisionalConfirmed,
    BucketKind::Provisional,
    BucketKind::UnknownCode,
    BucketKind::Unresolved,
    BucketKind::ShiftedIn,
    BucketKind::Credit,
    BucketKind::Unreadable,
    BucketKind::Underbilled,
    BucketKind::ShiftedOut,
    BucketKind::AbovePrice,
    BucketKind::BelowPrice,
];

/// The bridge's lines of a summary statement, in the order shown: checks billed beyond ours,
/// ours not billed, the amount variance of the periods.
pub(crate) const SUMMARY_BRIDGE_ORDER: [BucketKind; 7] = [
    BucketKind::BilledOver,
    BucketKind::ProvisionalConfirmed,
    BucketKind::Provisional,
    BucketKind::Unreadable,
    BucketKind::Underbilled,
    BucketKind::AbovePrice,
    BucketKind::BelowPrice,
];

/// One line of the bridge: a bucket's count and what it adds to `billed - expected`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct BridgeLine {
    pub bucket: BucketKind,
    pub count: u64,
    #[serde(serialize_with = "crate::money::exact")]
    pub amount: Decimal,
    pub total: Total,
}

/// One of the three totals: how many lines or checks, and the amount (positive: to dispute
/// is billed and not owed, owed is owed and not billed; to check is signed as its effect).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct TotalAmount {
    pub count: u64,
    #[serde(serialize_with = "crate::money::exact")]
    pub amount: Decimal,
}

/// The bridge from the statement's billed total to our expected total.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Bridge {
    /// Every line of the statement (read or not) and what they bill: the file's total.
    pub statement: TotalAmount,
    /// Its lines dated outside the period: not compared.
    pub outside_period: TotalAmount,
    /// `statement - outside_period`: the period's lines and the lines that could not be read.
    #[serde(serialize_with = "crate::money::exact")]
    pub billed: Decimal,
    #[serde(serialize_with = "crate::money::exact")]
    pub expected: Decimal,
    /// `billed - expected`.
    #[serde(serialize_with = "crate::money::exact")]
    pub difference: Decimal,
    pub lines: Vec<BridgeLine>,
    #[serde(serialize_with = "crate::money::exact")]
    pub rounding: Decimal,
    pub to_dispute: TotalAmount,
    pub owed: TotalAmount,
    pub to_check: TotalAmount,
}

/// `d`, with a zero shown as 0, never -0.
fn positive_zero(mut d: Decimal) -> Decimal {
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    d
}

/// What a statement bills: its lines of the period (and those that could not be read), and
/// those dated outside it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Billed {
    pub(crate) billed: TotalAmount,
    pub(crate) outside: TotalAmount,
}

impl Bridge {
    /// The bridge of a reconcile whose statement bills `billed` (its lines in the period, and
    /// those that could not be read; besides, those outside it), whose charged checks
    /// are expected at `expected` (`unrounded`: the sum of their unit prices before the total
    /// is rounded), sorted into `buckets`, its lines in `order`.
    pub(crate) fn build(
        order: &[BucketKind],
        statement: &Billed,
        expected: Decimal,
        unrounded: Decimal,
        buckets: &BTreeMap<BucketKind, BucketTotal>,
    ) -> Bridge {
        let mut totals: BTreeMap<Total, TotalAmount> = BTreeMap::new();
        let lines: Vec<BridgeLine> = order
            .iter()
            .filter_map(|&bucket| {
                let total = bucket.total()?;
                let b = buckets.get(&bucket).cloned().unwrap_or_default();
                // Checks not billed take away their expected amount; lines and the variance
                // add theirs (the variance is signed already).
                let amount = positive_zero(if bucket.effect() == Some(-1) {
                    -b.amount
                } else {
                    b.amount
                });
                let t = totals.entry(total).or_default();
                t.count += b.count;
                t.amount = positive_zero(
                    t.amount
                        + if total == Total::Owed {
                            -amount
                        } else {
                            amount
                        },
                );
                Some(BridgeLine {
                    bucket,
                    count: b.count,
                    amount,
                    total,
                })
            })
            .collect();
        let mut take = |t: Total| totals.remove(&t).unwrap_or_default();
        let (billed, outside) = (statement.billed.amount, &statement.outside);
        Bridge {
            statement: TotalAmount {
                count: statement.billed.count + outside.count,
                amount: billed + outside.amount,
            },
            outside_period: outside.clone(),
            billed,
            expected,
            difference: billed - expected,
            lines,
            rounding: unrounded - expected,
            to_dispute: take(Total::ToDispute),
            owed: take(Total::Owed),
            to_check: take(Total::ToCheck),
        }
    }

    /// The right side of the identity: every line plus rounding.
    #[cfg(test)]
    pub(crate) fn explained(&self) -> Decimal {
        self.lines.iter().map(|l| l.amount).sum::<Decimal>() + self.rounding
    }

    /// Every amount the bridge shows (for the report's money scale).
    pub(crate) fn amounts(&self) -> Vec<Decimal> {
        let mut v = vec![
            self.statement.amount,
            self.outside_period.amount,
            self.billed,
            self.expected,
            self.difference,
            self.rounding,
        ];
        v.extend(self.lines.iter().map(|l| l.amount));
        v.extend([
            self.to_dispute.amount,
            self.owed.amount,
            self.to_check.amount,
        ]);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(count: u64, amount: &str) -> BucketTotal {
        BucketTotal {
            count,
            amount: amount.parse().unwrap(),
            ..BucketTotal::default()
        }
    }

    #[test]
    fn each_bucket_in_one_total_and_the_totals_add_up() {
        let buckets = BTreeMap::from([
            (BucketKind::Overbilled, bucket(2, "0.07")),
            (BucketKind::Underbilled, bucket(1, "0.035")),
            (BucketKind::BelowPrice, bucket(1, "-0.005")),
            (BucketKind::Credit, bucket(1, "-0.035")),
            (BucketKind::Matched, bucket(9, "0.315")),
        ]);
        // Billed: 9 matched (0.315 less 0.005 below the price) + 0.07 + credit -0.035.
        let billed = Billed {
            billed: TotalAmount {
                count: 12,
                amount: "0.345".parse().unwrap(),
            },
            outside: TotalAmount {
                count: 1,
                amount: "0.035".parse().unwrap(),
            },
        };
        let b = Bridge::build(
            &BRIDGE_ORDER,
            &billed,
            "0.35".parse().unwrap(),
            "0.35".parse().unwrap(),
            &buckets,
        );
        assert_eq!(b.lines.len(), BRIDGE_ORDER.len());
        assert_eq!(b.to_dispute.amount, "0.07".parse().unwrap());
        assert_eq!(b.owed.amount, "0.040".parse().unwrap());
        assert_eq!((b.owed.count, b.to_check.count), (2, 1));
        assert_eq!(b.to_check.amount, "-0.035".parse().unwrap());
        assert_eq!(
            b.difference,
            b.to_dispute.amount - b.owed.amount + b.to_check.amount + b.rounding
        );
        assert_eq!(b.rounding, Decimal::ZERO);
        assert_eq!(b.statement.amount, "0.380".parse().unwrap());
        assert_eq!(b.statement.count, 13);
    }
}
