//! Sorting one statement line into exactly one bucket (see the module doc of `reconcile`):
//! [`LineRow`], what the line loop knows of a line and our check, and [`sort_line`], which
//! picks its bucket by our class, period and duplicates, with `amount_variance` and
//! `code_differs` flagged on top (no effect on the difference).

use super::*;

/// A line's amount: its own when it can be read, else `--price`, else zero.
pub(super) fn line_amount(amount: Option<&str>, price: Option<Decimal>) -> Decimal {
    amount
        .and_then(|a| a.parse().ok())
        .or(price)
        .unwrap_or(Decimal::ZERO)
}

/// What the line loop needs of one statement line and our check.
pub(super) struct LineRow {
    pub(super) line: i64,
    pub(super) s_time: Option<i64>,
    pub(super) s_code: Option<i64>,
    pub(super) s_amount: Option<String>,
    pub(super) in_period: bool,
    /// Its place among the lines of the same check on the same side of the period.
    pub(super) nth: i64,
    pub(super) found: bool,
    pub(super) class: Class,
    pub(super) our_status: Option<String>,
    pub(super) our_code: Option<i64>,
    pub(super) our_time: Option<i64>,
    /// Our check is dated inside the period.
    pub(super) check_in: bool,
    /// Our check has a line inside the period.
    pub(super) has_line_in: bool,
    /// The first of this check's lines dated outside the period but within the boundary hours.
    pub(super) shift_line: Option<i64>,
    pub(super) ids: (Option<String>, Option<String>),
    /// Our check's id.
    pub(super) cid: Option<i64>,
    /// When we last had the vendor's answer for our check.
    pub(super) fetched_at: Option<i64>,
}

impl LineRow {
    /// A line in accounting notation for a credit (read as a negative amount).
    fn credit(&self) -> bool {
        self.s_amount.as_deref().is_some_and(|a| a.starts_with('-'))
    }
}

/// Sorts one statement line into its bucket (see the module doc), with the flags on top.
pub(super) fn sort_line(
    row: &LineRow,
    codes: &CodeTable,
    expected: Option<(Decimal, String)>,
    window: &Window,
    sink: &mut DetailSink,
) -> Result<(), ReconcileError> {
    let amount = line_amount(row.s_amount.as_deref(), expected.as_ref().map(|e| e.0));
    let Some((bucket, note)) = bucket(row, codes, window) else {
        return Ok(());
    };
    sink.add(row.detail(bucket, note, &window.zone), amount)?;
    if !row.in_period {
        return Ok(());
    }
    if bucket == BucketKind::Matched {
        // The bridge's amount variance: a matched line against its expected amount (none
        // known: the whole line is above it).
        let variance = amount - expected.as_ref().map_or(Decimal::ZERO, |e| e.0);
        let kind = if variance > Decimal::ZERO {
            Some(BucketKind::AbovePrice)
        } else if variance < Decimal::ZERO {
            Some(BucketKind::BelowPrice)
        } else {
            None
        };
        if let Some(kind) = kind {
            let why = expected
                .as_ref()
                .map_or("no expected price", |e| e.1.as_str());
            sink.add(
                row.detail(kind, format!("billed {amount}, {why}"), &window.zone),
                variance,
            )?;
        }
    }
    flag(row, expected, &window.zone, sink)
}

/// The line's one bucket and its note; `None` for a line shown from our side instead (as
/// `shifted_out`, both times named).
fn bucket(row: &LineRow, codes: &CodeTable, window: &Window) -> Option<(BucketKind, String)> {
    Some(if !row.in_period {
        if row.found
            && row.class == Class::Charged
            && row.check_in
            && !row.has_line_in
            && row.shift_line == Some(row.line)
        {
            return None;
        }
        (
            BucketKind::OutsidePeriod,
            "dated outside the period: not compared".to_string(),
        )
    } else if row.credit() {
        (BucketKind::Credit, "a credit line".to_string())
    } else if row.nth > 1 {
        (BucketKind::Duplicate, format!("billed {} times", row.nth))
    } else if !row.found {
        (BucketKind::UnknownToUs, String::new())
    } else {
        by_class(row, codes, window)
    })
}

/// The bucket of a line in the period, billed once, whose check we hold: by our class.
fn by_class(row: &LineRow, codes: &CodeTable, window: &Window) -> (BucketKind, String) {
    match row.class {
        Class::Charged if row.check_in => (BucketKind::Matched, String::new()),
        Class::Charged => (
            BucketKind::ShiftedIn,
            match row.our_time {
                None => format!("we have no event time for it (see {})", Setting::DateBy),
                Some(t) => format!(
                    "ours is dated {} ({}), outside the period: time zone? ({tz})",
                    window.local_time(t),
                    window
                        .local_date(t)
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    tz = Setting::Tz
                ),
            },
        ),
        Class::Provisional => provisional(row, window),
        Class::Uncharged => {
            let code = row.our_code.unwrap_or_default();
            (
                BucketKind::Overbilled,
                format!("code {code} is not charged ({})", codes.category(code)),
            )
        }
        Class::UnknownCode => (
            BucketKind::UnknownCode,
            format!(
                "code {} is not in the code table",
                row.our_code.unwrap_or_default()
            ),
        ),
        Class::Unresolved => (
            BucketKind::Unresolved,
            format!(
                "our status is {}",
                row.our_status.as_deref().unwrap_or_default()
            ),
        ),
    }
}

/// A line billing a check we hold at 11350: confirmed when our last answer came after the
/// statement's period (else after the line's own time, when the period is open-ended), so
/// disputed; otherwise to fetch again before disputing.
fn provisional(row: &LineRow, window: &Window) -> (BucketKind, String) {
    let since = window.bounds_ms().1.or(row.s_time);
    match (row.fetched_at, since) {
        (Some(f), Some(s)) if f >= s => (
            BucketKind::ProvisionalConfirmed,
            format!(
                "we hold {} (internal error), asked again {}, after the period: dispute",
                crate::check::INTERNAL_ERROR,
                window.local_time(f)
            ),
        ),
        _ => (
            BucketKind::Provisional,
            format!(
                "we hold {} (internal error), not asked since the period: fetch again before \
                 disputing",
                crate::check::INTERNAL_ERROR
            ),
        ),
    }
}

/// The flags on top of a line in the period (no effect on the difference of its bucket): an
/// amount other than the expected price, and a code other than ours on its first line.
fn flag(
    row: &LineRow,
    expected: Option<(Decimal, String)>,
    zone: &Zone,
    sink: &mut DetailSink,
) -> Result<(), ReconcileError> {
    if let (Some((price, why)), Some(a)) = (
        expected,
        row.s_amount
            .as_deref()
            .and_then(|a| a.parse::<Decimal>().ok()),
    ) && a != price
    {
        sink.add(
            row.detail(
                BucketKind::AmountVariance,
                format!("billed {a}, {why}"),
                zone,
            ),
            a - price,
        )?;
    }
    if let (Some(sc), Some(oc)) = (row.s_code, row.our_code)
        && sc != oc
        && row.nth == 1
    {
        sink.add(
            row.detail(
                BucketKind::CodeDiffers,
                format!("statement {sc}, ours {oc}"),
                zone,
            ),
            Decimal::ZERO,
        )?;
    }
    Ok(())
}

impl LineRow {
    /// The details row of this line in `bucket`, its times in the report's `zone`.
    fn detail(&self, bucket: BucketKind, note: String, zone: &Zone) -> Detail {
        Detail {
            bucket,
            line: Some(self.line as u64),
            liveness_id: self.ids.0.clone(),
            sequence_id: self.ids.1.clone(),
            statement_time: self.s_time.map(|t| zone.local_time(t)),
            statement_code: self.s_code,
            statement_amount: self.s_amount.clone(),
            our_status: self.our_status.clone(),
            our_code: self.our_code,
            our_time: self.our_time.map(|t| zone.local_time(t)),
            note,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement line in the period whose check we hold, charged and dated in the period.
    fn matched_line() -> LineRow {
        LineRow {
            line: 2,
            s_time: Some(1_760_000_000_000),
            s_code: Some(200),
            s_amount: None,
            in_period: true,
            nth: 1,
            found: true,
            class: Class::Charged,
            our_status: Some("done".into()),
            our_code: Some(200),
            our_time: Some(1_760_000_000_000),
            check_in: true,
            has_line_in: true,
            shift_line: None,
            ids: (Some("lv-1".into()), None),
            cid: None,
            fetched_at: None,
        }
    }

    fn options(price: Option<&str>) -> ReconcileOptions {
        ReconcileOptions {
            statement: PathBuf::from("statement.csv"),
            columns: StatementColumns::default(),
            zone: crate::zone::Zone::utc(),
            statement_zone: None,
            dispute: false,
            from: Some("2025-10-01".into()),
            to: Some("2025-10-31".into()),
            price: price.map(|p| p.parse().unwrap()),
            prices: None,
            boundary_hours: 12,
            details: None,
            raw_cells: false,
            date_by: DateBy::Event,
            account: None,
        }
    }

    /// The buckets one line lands in, with their counts.
    fn sorted(row: &LineRow, price: Option<&str>) -> Vec<(BucketKind, u64)> {
        let opts = options(price);
        let window =
            Window::new("UTC", Period::Day, opts.from.as_deref(), opts.to.as_deref()).unwrap();
        let mut sink = DetailSink {
            writer: None,
            guard: crate::text::CellGuard::new(true, false),
            path: PathBuf::new(),
            kept: Vec::new(),
            totals: BTreeMap::new(),
            disputed: None,
        };
        let expected = opts.price.map(|p| (p, format!("price {p}")));
        sort_line(row, &CodeTable::shipped(), expected, &window, &mut sink).unwrap();
        sink.totals.iter().map(|(k, t)| (*k, t.count)).collect()
    }

    #[test]
    fn a_line_lands_in_exactly_one_bucket_by_our_class() {
        let cases = [
            (Class::Charged, BucketKind::Matched),
            (Class::Uncharged, BucketKind::Overbilled),
            (Class::Provisional, BucketKind::Provisional),
            (Class::UnknownCode, BucketKind::UnknownCode),
            (Class::Unresolved, BucketKind::Unresolved),
        ];
        for (class, bucket) in cases {
            let row = LineRow {
                class,
                ..matched_line()
            };
            assert_eq!(sorted(&row, None), vec![(bucket, 1)], "{class:?}");
        }
    }

    #[test]
    fn unknown_duplicate_and_shifted_lines() {
        let unknown = LineRow {
            found: false,
            ..matched_line()
        };
        assert_eq!(sorted(&unknown, None), vec![(BucketKind::UnknownToUs, 1)]);
        let second = LineRow {
            nth: 2,
            ..matched_line()
        };
        assert_eq!(sorted(&second, None), vec![(BucketKind::Duplicate, 1)]);
        let ours_outside = LineRow {
            check_in: false,
            ..matched_line()
        };
        assert_eq!(
            sorted(&ours_outside, None),
            vec![(BucketKind::ShiftedIn, 1)]
        );
        let line_outside = LineRow {
            in_period: false,
            has_line_in: false,
            shift_line: Some(2),
            ..matched_line()
        };
        assert_eq!(
            sorted(&line_outside, None),
            vec![],
            "shown once, from our side, as shifted_out"
        );
        let other_outside = LineRow {
            in_period: false,
            found: false,
            ..matched_line()
        };
        assert_eq!(
            sorted(&other_outside, None),
            vec![(BucketKind::OutsidePeriod, 1)]
        );
    }

    #[test]
    fn amount_and_code_differences_are_flags_on_top_of_the_bucket() {
        let row = LineRow {
            s_amount: Some("0.040".into()),
            s_code: Some(201),
            ..matched_line()
        };
        assert_eq!(
            sorted(&row, Some("0.035")),
            vec![
                (BucketKind::Matched, 1),
                (BucketKind::AbovePrice, 1),
                (BucketKind::AmountVariance, 1),
                (BucketKind::CodeDiffers, 1)
            ]
        );
        assert_eq!(line_amount(Some("0.040"), None), "0.040".parse().unwrap());
        assert_eq!(line_amount(Some("n/a"), Some(Decimal::ONE)), Decimal::ONE);
        assert_eq!(line_amount(None, None), Decimal::ZERO);
    }
}
