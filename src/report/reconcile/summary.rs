//! Summary statements: billed counts per period against our charged counts, and the bridge of
//! their amounts.
//!
//! Policy: each period of the statement (a day, or a month when any line is monthly) compares
//! its billed count with our charged checks dated in it. A count below ours is `underbilled`
//! (owed: the expected amount of our last checks of the period); a count above ours is first
//! as many of our 11350s as it covers (`provisional` when not asked again since the
//! statement's last period: to check; `provisional_confirmed` when asked after: to dispute),
//! then `billed_over` (to dispute), each valued at what the price charges the checks billed
//! beyond ours (`summary_value.rs`). A billed amount other than what its count is worth is
//! `above_price` (to dispute) or `below_price` (owed). With a price the bridge ties exactly:
//! `billed - expected = billed_over + provisional(_confirmed) - underbilled + above_price +
//! below_price + rounding`. `period_difference` and `amount_variance` count the periods
//! (outside the bridge).

use super::*;

/// A statement period's billed side: its count, its amount if the statement gave one, and
/// the statement lines it came from.
type PeriodBilled = (i64, Option<Decimal>, Vec<u64>);

/// Our side of the totals, summed as periods are compared.
#[derive(Default)]
struct Totals {
    billed: i64,
    ours: i64,
    billed_amount: Decimal,
    our_listed: Decimal,
}

pub(super) fn summary(
    conn: &Connection,
    codes: &CodeTable,
    opts: &ReconcileOptions,
    lines: &[statement::SummaryLine],
    sink: &mut DetailSink,
    columns: String,
) -> Result<Reconciliation, ReconcileError> {
    let (monthly, billed) = billed_by_period(lines);
    let by = if monthly { Period::Month } else { Period::Day };
    // A summary's days are read in the statement's zone: ours are counted per day there.
    let window = Window::in_zone(
        opts.statement_read_zone().clone(),
        by,
        opts.from.as_deref(),
        opts.to.as_deref(),
    )?
    .dated_by(opts.date_by)
    .for_account(opts.account.clone());
    let ours = charged_by_label(conn, codes, &window)?;
    let mut billed_at_zero = 0;
    let list_amounts = opts
        .prices
        .as_ref()
        .map(|list| listed_by_label(conn, codes, (opts, list), &window, &mut billed_at_zero))
        .transpose()?;
    let valuer = Valuer::of(opts);
    let compared = compared_periods(&window, billed, &ours);
    let zone_hint = daily_hint(conn, codes, &window, (monthly, &compared))?;
    // 11350s are confirmed by an answer after the statement's last period.
    let statement_end = compared
        .keys()
        .last()
        .and_then(|l| period_bounds(&window, l))
        .map(|b| b.1);
    let mut periods = Vec::new();
    let mut totals = Totals::default();
    for (label, billed) in &compared {
        let ours = Ours {
            count: ours.get(label).copied().unwrap_or(0),
            listed: list_amounts
                .as_ref()
                .map(|m| m.get(label).copied().unwrap_or_default()),
            bounds: period_bounds(&window, label),
            provisional: provisional_counts(conn, codes, &window, label, statement_end)?,
        };
        let one = Compared {
            opts,
            valuer: valuer.as_ref(),
            conn,
            label: label.clone(),
        };
        periods.push(one.period(billed, &ours, &mut totals, sink)?);
    }
    let our_amount = match &opts.prices {
        Some(list) => Some(list.money.total(totals.our_listed)),
        None => opts.price.map(|p| p * Decimal::from(totals.ours)),
    };
    let bridge = summary_bridge(lines.len(), &mut totals, our_amount, sink);
    Ok(Reconciliation {
        period_from: compared.keys().next().cloned(),
        period_to: compared.keys().last().cloned(),
        lines: lines.len() as u64,
        billed_amount: totals.billed_amount,
        our_charged: totals.ours,
        our_amount,
        net_difference: totals.billed - totals.ours,
        net_amount: our_amount.map(|a| totals.billed_amount - a),
        bridge,
        periods,
        billed_at_zero,
        zone: window.zone.name.clone(),
        zone_hint,
        notes: read_in_note(opts),
        ..Reconciliation::empty(opts, "summary", columns)
    })
}

/// The zone hint of a daily summary (none for a monthly one).
fn daily_hint(
    conn: &Connection,
    codes: &CodeTable,
    window: &Window,
    (monthly, compared): (bool, &BTreeMap<String, PeriodBilled>),
) -> Result<Option<ZoneHint>, ReconcileError> {
    if monthly {
        return Ok(None);
    }
    let counts = compared.iter().map(|(k, b)| (k.clone(), b.0)).collect();
    zone_hint::summary_hint(conn, codes, window, &counts)
}

/// Says that a summary's days are read in `--statement-tz`, when it is not `--tz`.
fn read_in_note(opts: &ReconcileOptions) -> Vec<String> {
    match &opts.statement_zone {
        Some(z) if z.name != opts.zone.name => vec![format!(
            "the statement's days are read in {} ({}): our charged checks are counted per day \
             there, and {}/{} are its days; tiers still count per month in {}",
            z.name,
            Setting::StatementTz,
            Setting::From,
            Setting::To,
            opts.zone.name
        )],
        _ => Vec::new(),
    }
}

/// The bridge of a summary statement of `lines` lines (`None` without a price): the lines
/// that could not be read are billed too, in `totals` as well; a summary has no line outside
/// the period.
fn summary_bridge(
    lines: usize,
    totals: &mut Totals,
    our_amount: Option<Decimal>,
    sink: &DetailSink,
) -> Option<Bridge> {
    let unreadable = sink.unreadable();
    totals.billed_amount += unreadable.amount;
    let statement = Billed {
        billed: TotalAmount {
            count: lines as u64 + unreadable.count,
            amount: totals.billed_amount,
        },
        outside: TotalAmount::default(),
    };
    let (buckets, unrounded) = (&sink.totals, totals.our_listed);
    our_amount.map(|e| Bridge::build(&SUMMARY_BRIDGE_ORDER, &statement, e, unrounded, buckets))
}

/// The periods compared: every period of the statement, and every period between its first
/// and last (or `--from` and `--to`) holding charged checks of ours, billed or not (a day the
/// statement leaves out bills nothing).
fn compared_periods(
    window: &Window,
    billed: BTreeMap<PeriodKey, PeriodBilled>,
    ours: &BTreeMap<String, i64>,
) -> BTreeMap<String, PeriodBilled> {
    let mut compared: BTreeMap<String, PeriodBilled> = billed
        .into_iter()
        .map(|(k, b)| (k.to_string(), b))
        .collect();
    // Labels of one period length sort as their periods do.
    let first = window
        .from
        .map(|d| window.label(d))
        .or_else(|| compared.keys().next().cloned());
    let last = window
        .to
        .map(|d| window.label(d))
        .or_else(|| compared.keys().last().cloned());
    if let (Some(first), Some(last)) = (first, last) {
        for (label, n) in ours {
            if *n > 0 && *label >= first && *label <= last {
                compared
                    .entry(label.clone())
                    .or_insert((0, None, Vec::new()));
            }
        }
    }
    compared
}

/// The instants `[start, end)` of the period `label` of `window` (cut by `--from`/`--to`).
fn period_bounds(window: &Window, label: &str) -> Option<(i64, i64)> {
    let (first, last) = window.period_days(label)?;
    match window.between(first, last).bounds_ms() {
        (Some(start), Some(end)) => Some((start, end)),
        _ => None,
    }
}

/// Our checks held at 11350 (provisional) dated in the period `label`: not asked again since
/// the statement's end, and confirmed by an answer after it.
fn provisional_counts(
    conn: &Connection,
    codes: &CodeTable,
    window: &Window,
    label: &str,
    statement_end: Option<i64>,
) -> Result<(i64, i64), ReconcileError> {
    let internal = crate::check::INTERNAL_ERROR;
    if classify(Status::Done, Some(internal), codes) != Class::Provisional {
        return Ok((0, 0));
    }
    let Some((start, end)) = period_bounds(window, label) else {
        return Ok((0, 0));
    };
    let t = window.date_by.time_sql();
    Ok(conn.query_row(
        &format!(
            "SELECT coalesce(sum(NOT coalesce(fetched_at >= ?4, 0)), 0),
                    coalesce(sum(coalesce(fetched_at >= ?4, 0)), 0)
             FROM checks
             WHERE status = {} AND code = {internal} AND {t} >= ?1 AND {t} < ?2 AND {}",
            Status::Done.sql(),
            crate::check::account_sql(window.account.is_some())
        ),
        params![start, end, window.account, statement_end],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// The statement's lines summed per period. When any line is monthly, daily lines are folded
/// into their month, so both sides compare at the coarser grain (the bool says so).
fn billed_by_period(lines: &[statement::SummaryLine]) -> (bool, BTreeMap<PeriodKey, PeriodBilled>) {
    let monthly = lines
        .iter()
        .any(|l| matches!(l.period, PeriodKey::Month(..)));
    let key = |p: PeriodKey| match (p, monthly) {
        (PeriodKey::Day(d), true) => PeriodKey::Month(d.year(), d.month()),
        (p, _) => p,
    };
    let mut billed: BTreeMap<PeriodKey, PeriodBilled> = BTreeMap::new();
    for l in lines {
        let e = billed.entry(key(l.period)).or_insert((0, None, Vec::new()));
        e.0 += l.count;
        if let Some(a) = l.amount {
            e.1 = Some(e.1.unwrap_or(Decimal::ZERO) + a);
        }
        e.2.push(l.line);
    }
    (monthly, billed)
}

/// Our charged checks per period label of the window.
fn charged_by_label(
    conn: &Connection,
    codes: &CodeTable,
    window: &Window,
) -> Result<BTreeMap<String, i64>, ReconcileError> {
    let quarter_hours = load_quarter_hours(conn, window)?;
    let mut ours: BTreeMap<String, i64> = BTreeMap::new();
    for b in &quarter_hours {
        if classify(b.status, b.code, codes) == Class::Charged
            && let Some(d) = b.start_ms.and_then(|ms| window.local_date(ms))
        {
            *ours.entry(window.label(d)).or_default() += b.count;
        }
    }
    Ok(ours)
}

/// Under a price list, our amount per period label is the sum of our checks' list prices.
fn listed_by_label(
    conn: &Connection,
    codes: &CodeTable,
    (opts, list): (&ReconcileOptions, &PriceList),
    window: &Window,
    billed_at_zero: &mut i64,
) -> Result<BTreeMap<String, Decimal>, ReconcileError> {
    let bounds = window.bounds_ms();
    let listed = ListPrices::load(
        conn,
        codes,
        list,
        opts,
        // Tiers count per calendar month in the account's zone, whatever the statement's.
        &opts.zone.tz,
        (
            ListPrices::month_start(&opts.zone.tz, window.from),
            bounds.1,
        ),
    )?;
    *billed_at_zero = listed.billed_at_zero(conn, bounds)?;
    let mut by_label: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT p_time, p_unit FROM temp.priced")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (time, unit): (i64, String) = (r.get(0)?, r.get(1)?);
        if dated_within(bounds, Some(time))
            && let (Some(d), Ok(unit)) = (window.local_date(time), unit.parse::<Decimal>())
        {
            *by_label.entry(window.label(d)).or_default() += unit;
        }
    }
    Ok(by_label)
}

/// Our side of one period: charged checks, their expected amount (under a price list), the
/// period's instants, and our 11350s in it (not asked again since the statement, confirmed).
struct Ours {
    count: i64,
    listed: Option<Decimal>,
    bounds: Option<(i64, i64)>,
    provisional: (i64, i64),
}

/// One period of the statement being compared.
struct Compared<'a> {
    opts: &'a ReconcileOptions,
    valuer: Option<&'a Valuer<'a>>,
    conn: &'a Connection,
    label: String,
}

/// A period's count difference in the bridge's buckets: each bucket, its checks and amount
/// (the expected amount of the checks not billed, positive; the price of those billed beyond
/// ours).
type Split = Vec<(BucketKind, i64, Decimal)>;

/// What the checks of a period's count difference in `kind` are.
fn split_note(kind: BucketKind) -> &'static str {
    match kind {
        BucketKind::Underbilled => "of our charged checks not billed",
        BucketKind::Provisional => {
            "billed beyond ours, as many of our 11350s (internal error) not asked again since \
             the statement: fetch again before disputing"
        }
        BucketKind::ProvisionalConfirmed => {
            "billed beyond ours, as many of our 11350s (internal error) confirmed after the \
             statement: dispute"
        }
        _ => "billed beyond our charged checks: dispute",
    }
}

impl Compared<'_> {
    /// The period compared: its row, its bridge buckets and details in the sink, and its share
    /// of the totals. The billed amount is the statement's, else what the list charges the
    /// checks it bills (so no variance).
    fn period(
        &self,
        (count, amount, line_nos): &PeriodBilled,
        ours: &Ours,
        totals: &mut Totals,
        sink: &mut DetailSink,
    ) -> Result<PeriodComparison, ReconcileError> {
        totals.billed += count;
        totals.ours += ours.count;
        let our_amount = ours
            .listed
            .or(self.opts.price.map(|p| p * Decimal::from(ours.count)));
        totals.our_listed += our_amount.unwrap_or_default();
        let difference = count - ours.count;
        let split = self.split(difference, ours)?;
        // What the billed count is worth: ours, less the checks not billed, plus those beyond.
        let worth = our_amount.map(|e| {
            split.iter().fold(e, |sum, (kind, _, a)| match kind {
                BucketKind::Underbilled => sum - a,
                _ => sum + a,
            })
        });
        let this_amount = amount.or(worth);
        totals.billed_amount += this_amount.unwrap_or(Decimal::ZERO);
        let amount_difference = match (this_amount, our_amount) {
            (Some(a), Some(o)) => Some(a - o),
            _ => None,
        };
        let detail = |bucket, note| Detail {
            bucket,
            line: line_nos.first().copied(),
            liveness_id: None,
            sequence_id: None,
            statement_time: Some(self.label.clone()),
            statement_code: None,
            statement_amount: this_amount.map(|a| a.to_string()),
            our_status: None,
            our_code: None,
            our_time: None,
            note,
        };
        let said = format!("billed {count}, ours {}", ours.count);
        if difference == 0 {
            sink.tally(BucketKind::Matched, 1, Decimal::ZERO);
        } else {
            let d = amount_difference.unwrap_or_default();
            sink.tally(BucketKind::PeriodDifference, 1, d);
        }
        for (kind, k, a) in split {
            let why = split_note(kind);
            sink.add_n(detail(kind, format!("{said}: {k} {why}")), k as u64, a)?;
        }
        if let (Some(a), Some(x)) = (this_amount, worth)
            && a != x
        {
            let kind = if a > x {
                BucketKind::AbovePrice
            } else {
                BucketKind::BelowPrice
            };
            let note = format!("billed {a}, expected {x} for the {count} checks billed");
            sink.add_n(detail(kind, note), 1, a - x)?;
            sink.tally(BucketKind::AmountVariance, 1, a - x);
        }
        Ok(PeriodComparison {
            period: self.label.clone(),
            billed: *count,
            ours: ours.count,
            difference,
            billed_amount: this_amount,
            amount_difference,
            lines: line_nos.clone(),
        })
    }

    /// The count difference in buckets: fewer billed than ours are `underbilled` (our last
    /// checks of the period); more billed are first our 11350s not asked again
    /// (`provisional`), then those confirmed (`provisional_confirmed`), then `billed_over`.
    fn split(&self, difference: i64, ours: &Ours) -> Result<Split, ReconcileError> {
        // A period outside --from/--to holds none of our checks: nothing of ours to value.
        let bounds = ours.bounds.unwrap_or((0, 0));
        let mut out = Vec::new();
        if difference < 0 {
            let k = -difference;
            let a = match self.valuer {
                Some(v) => v.last(self.conn, bounds, k)?,
                None => Decimal::ZERO,
            };
            out.push((BucketKind::Underbilled, k, a));
            return Ok(out);
        }
        let (open, confirmed) = ours.provisional;
        let (mut left, mut before) = (difference, 0);
        for (kind, n) in [
            (BucketKind::Provisional, open),
            (BucketKind::ProvisionalConfirmed, confirmed),
            (BucketKind::BilledOver, difference),
        ] {
            let k = n.min(left);
            if k == 0 {
                continue;
            }
            let a = match self.valuer {
                Some(v) => v.beyond(self.conn, bounds, before, k)?,
                None => Decimal::ZERO,
            };
            out.push((kind, k, a));
            before += k;
            left -= k;
        }
        Ok(out)
    }
}
