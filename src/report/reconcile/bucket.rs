//! The buckets a reconcile sorts statement lines and our checks into, what each adds to the
//! count difference, and which of the three totals a finance person acts on each feeds.
//!
//! Policy: every bucket of the bridge falls in exactly one total ([`BucketKind::total`]):
//! - **to dispute** (billed, not owed): `overbilled`, `duplicate`, `unknown_to_us`,
//!   `provisional_confirmed` (11350, and a fetch after the statement's period confirmed it),
//!   `above_price` (a matched line, or a summary period, billed above its expected price),
//!   `billed_over` (a summary period billing more checks than we charged there);
//! - **owed** (owed, not billed): `underbilled`, `below_price`;
//! - **to check** (not decided yet): `provisional` (11350 not asked again since the statement's
//!   period: fetch again before disputing), `unknown_code`, `unresolved`, `shifted_in`,
//!   `shifted_out` (time zones), `credit` (a line in accounting notation, `(0.035)`),
//!   `unreadable` (the lines that could not be read, at the amounts they bill: the bridge
//!   starts from the statement's total, so no line's money drops out of it).
//!
//! `matched` and `outside_period` are in no total (nothing to act on); `unreadable` adds
//! nothing to the count difference (its lines' ids and dates are unknown); `amount_variance`,
//! `code_differs` and `period_difference` are flags and summary periods, outside the bridge.
//! A summary statement's buckets count checks (`billed_over`, `provisional`,
//! `provisional_confirmed`, `underbilled`) or periods (the rest).

use serde::Serialize;

/// The kinds of lines a reconcile sorts into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BucketKind {
    Matched,
    Overbilled,
    Provisional,
    ProvisionalConfirmed,
    UnknownToUs,
    Unresolved,
    UnknownCode,
    Duplicate,
    BilledOver,
    ShiftedIn,
    Credit,
    Unreadable,
    Underbilled,
    ShiftedOut,
    OutsidePeriod,
    AbovePrice,
    BelowPrice,
    AmountVariance,
    CodeDiffers,
    PeriodDifference,
}

/// The three totals of a reconcile's bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Total {
    ToDispute,
    Owed,
    ToCheck,
}

impl Total {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Total::ToDispute => "to_dispute",
            Total::Owed => "owed",
            Total::ToCheck => "to_check",
        }
    }
}

impl BucketKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BucketKind::Matched => "matched",
            BucketKind::Overbilled => "overbilled",
            BucketKind::Provisional => "provisional",
            BucketKind::ProvisionalConfirmed => "provisional_confirmed",
            BucketKind::ShiftedIn => "shifted_in",
            BucketKind::ShiftedOut => "shifted_out",
            BucketKind::OutsidePeriod => "outside_period",
            BucketKind::UnknownToUs => "unknown_to_us",
            BucketKind::Unresolved => "unresolved",
            BucketKind::UnknownCode => "unknown_code",
            BucketKind::Duplicate => "duplicate",
            BucketKind::BilledOver => "billed_over",
            BucketKind::Credit => "credit",
            BucketKind::Unreadable => "unreadable",
            BucketKind::Underbilled => "underbilled",
            BucketKind::AbovePrice => "above_price",
            BucketKind::BelowPrice => "below_price",
            BucketKind::AmountVariance => "amount_variance",
            BucketKind::CodeDiffers => "code_differs",
            BucketKind::PeriodDifference => "period_difference",
        }
    }

    /// What one item of the bucket adds to `net_difference` (`None`: a flag on top of another
    /// bucket, or a summary statement's period).
    pub(crate) fn effect(self) -> Option<i64> {
        match self {
            // A line that could not be read is not compared, as one outside the period.
            BucketKind::Matched | BucketKind::OutsidePeriod | BucketKind::Unreadable => Some(0),
            BucketKind::Overbilled
            | BucketKind::Provisional
            | BucketKind::ProvisionalConfirmed
            | BucketKind::UnknownToUs
            | BucketKind::Unresolved
            | BucketKind::UnknownCode
            | BucketKind::Duplicate
            | BucketKind::BilledOver
            | BucketKind::ShiftedIn
            | BucketKind::Credit => Some(1),
            BucketKind::Underbilled | BucketKind::ShiftedOut => Some(-1),
            BucketKind::AbovePrice
            | BucketKind::BelowPrice
            | BucketKind::AmountVariance
            | BucketKind::CodeDiffers
            | BucketKind::PeriodDifference => None,
        }
    }

    /// A flag on top of another bucket (its count overlaps the exclusive buckets), or a
    /// summary's count of periods differing (its checks are in the exclusive buckets).
    pub(crate) fn overlaps(self) -> bool {
        matches!(
            self,
            BucketKind::AmountVariance
                | BucketKind::CodeDiffers
                | BucketKind::AbovePrice
                | BucketKind::BelowPrice
                | BucketKind::PeriodDifference
        )
    }

    /// The total of the bridge the bucket falls in; `None` for buckets outside the bridge.
    pub(crate) fn total(self) -> Option<Total> {
        match self {
            BucketKind::Overbilled
            | BucketKind::Duplicate
            | BucketKind::UnknownToUs
            | BucketKind::ProvisionalConfirmed
            | BucketKind::BilledOver
            | BucketKind::AbovePrice => Some(Total::ToDispute),
            BucketKind::Underbilled | BucketKind::BelowPrice => Some(Total::Owed),
            BucketKind::Provisional
            | BucketKind::UnknownCode
            | BucketKind::Unresolved
            | BucketKind::ShiftedIn
            | BucketKind::ShiftedOut
            | BucketKind::Credit
            | BucketKind::Unreadable => Some(Total::ToCheck),
            BucketKind::Matched
            | BucketKind::OutsidePeriod
            | BucketKind::AmountVariance
            | BucketKind::CodeDiffers
            | BucketKind::PeriodDifference => None,
        }
    }

    pub(super) fn meaning(self) -> &'static str {
        match self {
            BucketKind::Provisional => {
                "billed, but we hold the vendor's internal error (uncharged), not asked again \
                 since the period: fetch again first"
            }
            BucketKind::ProvisionalConfirmed => {
                "billed, but a fetch after the period confirmed the internal error: dispute"
            }
            BucketKind::ShiftedIn => "billed in the period, our check dated outside it: time zone?",
            BucketKind::ShiftedOut => "charged in the period, its line just outside it: time zone?",
            BucketKind::OutsidePeriod => "line dated outside the period: not compared",
            BucketKind::Matched => "billed and charged in our records",
            BucketKind::Overbilled => "billed, but our code is not charged: dispute",
            BucketKind::UnknownToUs => "billed, but no such check in our records: dispute",
            BucketKind::Unresolved => {
                "billed, but we have no final answer (pending, failed): fetch, then reconcile again"
            }
            BucketKind::UnknownCode => "billed for a code not in the code table: decide",
            BucketKind::Duplicate => "the same check billed again: dispute",
            BucketKind::BilledOver => {
                "checks a summary period bills beyond our charged checks there (and our 11350s): \
                 dispute"
            }
            BucketKind::Credit => "a credit line (an amount in parentheses): check what it credits",
            BucketKind::Unreadable => {
                "in lines that could not be read (see malformed), at the amounts they bill: check"
            }
            BucketKind::Underbilled => "charged in our records, not billed in the period",
            BucketKind::AbovePrice => {
                "matched line (or summary period) billed above its expected price: dispute the \
                 difference (a flag)"
            }
            BucketKind::BelowPrice => {
                "matched line (or summary period) billed below its expected price: owed (a flag)"
            }
            BucketKind::AmountVariance => {
                "line amount differs from the price (a flag: overlaps the buckets above)"
            }
            BucketKind::CodeDiffers => {
                "statement code differs from ours (a flag: overlaps the buckets above)"
            }
            BucketKind::PeriodDifference => {
                "periods whose billed count differs from our charged count (their checks are in \
                 the buckets above)"
            }
        }
    }
}
