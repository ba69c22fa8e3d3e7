//! Summary statements: billed counts per period against our charged counts.

use super::*;

/// A statement period's billed side: its count, its amount if the statement gave one, and
/// the statement lines it came from.
type Billed = (i64, Option<Decimal>, Vec<u64>);

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
    let window = Window::in_zone(
        opts.zone.clone(),
        by,
        opts.from.as_deref(),
        opts.to.as_deref(),
    )?
    .dated_by(opts.date_by)
    .for_account(opts.account.clone());
    let ours = charged_by_label(conn, codes, &window)?;
    let list_amounts = match &opts.prices {
        None => None,
        Some(list) => Some(listed_by_label(conn, codes, opts, list, &window)?),
    };
    let mut periods = Vec::new();
    let mut totals = Totals::default();
    for (period, billed) in &billed {
        let label = period.to_string();
        let our = ours.get(&label).copied().unwrap_or(0);
        let our_listed = list_amounts
            .as_ref()
            .map(|m| m.get(&label).copied().unwrap_or_default());
        periods.push(compare_period(
            opts,
            label,
            billed,
            our,
            our_listed,
            &mut totals,
            sink,
        )?);
    }
    let our_amount = match &opts.prices {
        Some(list) => Some(list.money.total(totals.our_listed)),
        None => opts.price.map(|p| p * Decimal::from(totals.ours)),
    };
    Ok(Reconciliation {
        report: "reconcile",
        statement: opts.statement.display().to_string(),
        shape: "summary",
        columns,
        zone: opts.zone.name.clone(),
        statement_zone: opts.statement_read_zone().name.clone(),
        day_mismatches: None,
        zone_hint: None,
        period_from: billed.keys().next().map(ToString::to_string),
        period_to: billed.keys().last().map(ToString::to_string),
        lines: lines.len() as u64,
        billed_amount: totals.billed_amount,
        our_charged: totals.ours,
        our_amount,
        net_difference: totals.billed - totals.ours,
        net_amount: our_amount.map(|a| totals.billed_amount - a),
        bridge: None,
        discrepancies: 0,
        buckets: BTreeMap::new(),
        periods,
        malformed: Vec::new(),
        details: Vec::new(),
        disputes: Vec::new(),
        notes: Vec::new(),
    })
}

/// The statement's lines summed per period. When any line is monthly, daily lines are folded
/// into their month, so both sides compare at the coarser grain (the bool says so).
fn billed_by_period(lines: &[statement::SummaryLine]) -> (bool, BTreeMap<PeriodKey, Billed>) {
    let monthly = lines
        .iter()
        .any(|l| matches!(l.period, PeriodKey::Month(..)));
    let key = |p: PeriodKey| match (p, monthly) {
        (PeriodKey::Day(d), true) => PeriodKey::Month(d.year(), d.month()),
        (p, _) => p,
    };
    let mut billed: BTreeMap<PeriodKey, Billed> = BTreeMap::new();
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
    opts: &ReconcileOptions,
    list: &PriceList,
    window: &Window,
) -> Result<BTreeMap<String, Decimal>, ReconcileError> {
    let bounds = window.bounds_ms();
    ListPrices::load(
        conn,
        codes,
        list,
        opts,
        &window.zone.tz,
        (
            ListPrices::month_start(&window.zone.tz, window.from),
            bounds.1,
        ),
    )?;
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

/// One period compared: its row, its details in the sink (matched, a count difference, an
/// amount variance), and its share of the totals.
fn compare_period(
    opts: &ReconcileOptions,
    label: String,
    (count, amount, line_nos): &Billed,
    our: i64,
    our_listed: Option<Decimal>,
    totals: &mut Totals,
    sink: &mut DetailSink,
) -> Result<PeriodComparison, ReconcileError> {
    totals.billed += count;
    totals.ours += our;
    let this_amount = amount.or_else(|| opts.price.map(|p| p * Decimal::from(*count)));
    totals.billed_amount += this_amount.unwrap_or(Decimal::ZERO);
    let our_amount = our_listed.or(opts.price.map(|p| p * Decimal::from(our)));
    totals.our_listed += our_amount.unwrap_or_default();
    let amount_difference = match (this_amount, our_amount) {
        (Some(a), Some(o)) => Some(a - o),
        _ => None,
    };
    let difference = count - our;
    // A period's line in the details: the statement's side of it, our note.
    let period_detail = |bucket, statement_amount: Option<String>, note| Detail {
        bucket,
        line: line_nos.first().copied(),
        liveness_id: None,
        sequence_id: None,
        statement_time: Some(label.clone()),
        statement_code: None,
        statement_amount,
        our_status: None,
        our_code: None,
        our_time: None,
        note,
    };
    let billed_text = this_amount.map(|a| a.to_string());
    if difference != 0 {
        sink.add(
            period_detail(
                BucketKind::PeriodDifference,
                billed_text.clone(),
                format!("billed {count}, ours {our}, difference {difference:+}"),
            ),
            amount_difference.unwrap_or(Decimal::ZERO),
        )?;
    } else {
        sink.add(
            period_detail(BucketKind::Matched, None, String::new()),
            Decimal::ZERO,
        )?;
    }
    if let Some(d) = amount_difference.filter(|d| !d.is_zero()) {
        sink.add(
            period_detail(
                BucketKind::AmountVariance,
                billed_text,
                format!(
                    "billed {}, expected {} for our {our} charged checks",
                    this_amount.unwrap_or_default(),
                    our_amount.unwrap_or_default()
                ),
            ),
            d,
        )?;
    }
    Ok(PeriodComparison {
        period: label,
        billed: *count,
        ours: our,
        difference,
        billed_amount: this_amount,
        amount_difference,
        lines: line_nos.clone(),
    })
}
