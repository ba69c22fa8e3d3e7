//! Itemised statements: each line matched by liveness id, else by sequence id, against our
//! charged checks (the line loop, with its expected amount), and our side: the charged checks
//! no line of the period bills. Each line is sorted into its bucket by [`super::line_bucket`].

use jiff::civil::Date;

use super::*;

pub(super) fn itemised(
    conn: &mut Connection,
    codes: &CodeTable,
    opts: &ReconcileOptions,
    sink: &mut DetailSink,
    notes: &mut Vec<String>,
    columns: String,
) -> Result<Reconciliation, ReconcileError> {
    match_lines(conn, opts, notes)?;
    let (day_mismatches, zone_hint) = zone_hint::day_mismatches(conn, opts)?;
    let (from, to, window) = compared_period(conn, opts)?;
    let bounds = window.bounds_ms();
    let period_known = from.is_some() || to.is_some();
    let listed = match &opts.prices {
        Some(list) => Some(ListPrices::load(
            conn,
            codes,
            list,
            opts,
            &opts.zone.tz,
            (ListPrices::month_start(&window.zone.tz, from), bounds.1),
        )?),
        None => None,
    };
    if !period_known {
        notes.push(format!(
            "the statement has no times and no {}/{} was given: our side is the checks its \
             lines name, and underbilled checks cannot be looked for",
            Setting::From,
            Setting::To
        ));
    }
    let (lines, billed_amount, outside) =
        sort_lines(conn, codes, opts, listed.as_ref(), &window, sink)?;
    // The lines that could not be read are billed too.
    let unreadable = sink.unreadable();
    let billed_amount = billed_amount + unreadable.amount;
    let statement = Billed {
        billed: TotalAmount {
            count: lines + unreadable.count,
            amount: billed_amount,
        },
        outside,
    };
    let billed_at_zero = match &listed {
        Some(l) => l.billed_at_zero(conn, bounds)?,
        None => 0,
    };
    let (our_charged, our_amount, unrounded) = our_side(
        conn,
        codes,
        opts,
        listed.as_ref(),
        &window,
        period_known,
        sink,
        notes,
    )?;
    let bridge =
        our_amount.map(|e| Bridge::build(&BRIDGE_ORDER, &statement, e, unrounded, &sink.totals));
    Ok(Reconciliation {
        day_mismatches: Some(day_mismatches),
        zone_hint,
        period_from: from.map(|d| d.to_string()),
        period_to: to.map(|d| d.to_string()),
        lines,
        billed_amount,
        our_charged,
        our_amount,
        net_difference: lines as i64 - our_charged,
        net_amount: our_amount.map(|a| billed_amount - a),
        bridge,
        billed_at_zero,
        ..Reconciliation::empty(opts, "itemised", columns)
    })
}

/// The period compared: the flags, else the statement's own first and last day (either end
/// `None` when neither says), and the daily window over it.
fn compared_period(
    conn: &Connection,
    opts: &ReconcileOptions,
) -> Result<(Option<Date>, Option<Date>, Window), ReconcileError> {
    let flags = Window::in_zone(
        opts.zone.clone(),
        Period::Day,
        opts.from.as_deref(),
        opts.to.as_deref(),
    )?;
    let (min_time, max_time): (Option<i64>, Option<i64>) =
        conn.query_row("SELECT min(time), max(time) FROM temp.stmt", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let local = |ms: i64| flags.local_date(ms);
    let from = flags.from.or_else(|| min_time.and_then(local));
    let to = flags.to.or_else(|| max_time.and_then(local));
    let window = Window::in_zone(
        opts.zone.clone(),
        Period::Day,
        from.map(|d| d.to_string()).as_deref(),
        to.map(|d| d.to_string()).as_deref(),
    )?
    .dated_by(opts.date_by)
    .for_account(opts.account.clone());
    Ok((from, to, window))
}

/// Sorts every statement line into its bucket, in line order; returns the number of lines in
/// the period and their billed amount, and the lines dated outside it.
fn sort_lines(
    conn: &Connection,
    codes: &CodeTable,
    opts: &ReconcileOptions,
    listed: Option<&ListPrices>,
    window: &Window,
    sink: &mut DetailSink,
) -> Result<(u64, Decimal, TotalAmount), ReconcileError> {
    let bounds = window.bounds_ms();
    let near = i64::from(opts.boundary_hours) * 3_600_000;
    // A line without a time is taken as inside the period.
    conn.execute(
        "UPDATE temp.stmt SET inp = (time IS NULL OR ((?1 IS NULL OR time >= ?1)
                                      AND (?2 IS NULL OR time < ?2)))",
        params![bounds.0, bounds.1],
    )?;
    let mut lines = 0u64;
    let mut billed_amount = Decimal::ZERO;
    let mut outside = TotalAmount::default();
    let mut stmt = conn.prepare(
        "SELECT s.line, s.liveness_id, s.sequence_id, s.time, s.code, s.amount, s.inp,
                row_number() OVER (
                    PARTITION BY s.inp, coalesce(s.amount, '') LIKE '-%',
                        coalesce('c' || s.cid, 'i' || s.liveness_id, 's' || s.sequence_id)
                    ORDER BY s.line),
                c.liveness_id, c.sequence_id, c.status, c.code, c.event_time, c.fetched_at,
                EXISTS (SELECT 1 FROM temp.stmt i WHERE i.cid = s.cid AND i.inp
                            AND coalesce(i.amount, '') NOT LIKE '-%'),
                (SELECT min(o.line) FROM temp.stmt o WHERE o.cid = s.cid AND NOT o.inp
                    AND o.time >= ?1 - ?3 AND o.time < ?2 + ?3),
                s.cid
         FROM temp.stmt s LEFT JOIN checks c ON c.id = s.cid
         ORDER BY s.line",
    )?;
    let mut rows = stmt.query(params![bounds.0, bounds.1, near])?;
    while let Some(r) = rows.next()? {
        let row = line_row(r, codes, opts, bounds)?;
        let expected = expected(conn, &row, opts, listed)?;
        let amount = line_amount(row.s_amount.as_deref(), expected.as_ref().map(|e| e.0));
        if row.in_period {
            lines += 1;
            billed_amount += amount;
        } else {
            outside.count += 1;
            outside.amount += amount;
        }
        sort_line(&row, codes, expected, window, sink)?;
    }
    Ok((lines, billed_amount, outside))
}

/// One row of [`sort_lines`]' query: the line, and our check it matched (if any).
fn line_row(
    r: &rusqlite::Row<'_>,
    codes: &CodeTable,
    opts: &ReconcileOptions,
    bounds: (Option<i64>, Option<i64>),
) -> Result<LineRow, ReconcileError> {
    let our_status: Option<String> = r.get(10)?;
    let our_code: Option<i64> = r.get(11)?;
    let our_time = opts.date_by.time(r.get(12)?, r.get(13)?);
    let found = our_status.is_some();
    Ok(LineRow {
        line: r.get(0)?,
        s_time: r.get(3)?,
        s_code: r.get(4)?,
        s_amount: r.get(5)?,
        in_period: r.get(6)?,
        nth: r.get(7)?,
        found,
        class: classify(
            Status::from_db(our_status.as_deref().unwrap_or_default().as_bytes()),
            our_code,
            codes,
        ),
        our_status,
        our_code,
        our_time,
        check_in: found && dated_within(bounds, our_time),
        has_line_in: r.get(14)?,
        shift_line: r.get(15)?,
        ids: (
            r.get::<_, Option<String>>(8)?.or(r.get(1)?),
            r.get::<_, Option<String>>(9)?.or(r.get(2)?),
        ),
        cid: r.get(16)?,
        fetched_at: r.get(13)?,
    })
}

/// Finds each line's check (by liveness id, else sequence id) among the checks of
/// `opts.account` (all when `None`): under `--account`, a line naming another account's check
/// is matched to nothing of ours, and a note counts such lines.
fn match_lines(
    conn: &Connection,
    opts: &ReconcileOptions,
    notes: &mut Vec<String>,
) -> Result<(), ReconcileError> {
    conn.execute(
        &format!(
            "UPDATE temp.stmt SET cid = coalesce(
                 (SELECT id FROM checks WHERE checks.liveness_id = stmt.liveness_id AND {acc}),
                 (SELECT id FROM checks WHERE checks.sequence_id = stmt.sequence_id AND {acc}))",
            acc = crate::check::account_sql(opts.account.is_some())
        ),
        params![None::<i64>, None::<i64>, opts.account],
    )?;
    conn.execute_batch("CREATE INDEX temp.stmt_by_cid ON stmt (cid);")?;
    if let Some(account) = &opts.account {
        let others: i64 = conn.query_row(
            "SELECT count(*) FROM temp.stmt s WHERE s.cid IS NULL AND (
                 EXISTS (SELECT 1 FROM checks c WHERE c.liveness_id = s.liveness_id)
                 OR EXISTS (SELECT 1 FROM checks c WHERE c.sequence_id = s.sequence_id))",
            [],
            |r| r.get(0),
        )?;
        if others > 0 {
            notes.push(format!(
                "{others} lines name checks recorded under another partner code than {account}: \
                 they are unknown to this account (is the statement of another account?)"
            ));
        }
    }
    Ok(())
}

/// Our side of an itemised reconcile: counts every charged check dated in the period (as
/// billing does) and sorts those no line of the period bills into `underbilled` or, when their
/// line is dated just outside the period, `shifted_out`. With no period known, only the checks
/// the lines name are ours to compare.
#[allow(clippy::too_many_arguments)]
pub(super) fn our_side(
    conn: &Connection,
    codes: &CodeTable,
    opts: &ReconcileOptions,
    listed: Option<&ListPrices>,
    window: &Window,
    period_known: bool,
    sink: &mut DetailSink,
    notes: &mut Vec<String>,
) -> Result<(i64, Option<Decimal>, Decimal), ReconcileError> {
    // Unqualified times are `c`'s: the only table of the outer query.
    let in_window = if period_known {
        window.sql()
    } else {
        // No period: only the checks the lines name (each once) are compared.
        format!(
            "?1 IS NULL AND ?2 IS NULL AND {} AND EXISTS (SELECT 1 FROM temp.stmt s WHERE s.cid = c.id)",
            crate::check::account_sql(opts.account.is_some())
        )
    };
    let ours = OurChecks {
        charged_sql: crate::check::charged_sql(codes, "c."),
        in_window,
        bounds: window.bounds_ms(),
    };
    let counted = match listed {
        None => {
            let n: i64 = conn.query_row(
                &format!(
                    "SELECT count(*) FROM checks c WHERE {} AND {}",
                    ours.charged_sql, ours.in_window
                ),
                params![ours.bounds.0, ours.bounds.1, opts.account],
                |r| r.get(0),
            )?;
            let amount = opts.price.map(|p| p * Decimal::from(n));
            (n, amount, amount.unwrap_or_default())
        }
        Some(l) => count_listed(conn, opts, l, &ours, notes)?,
    };
    sort_unbilled(conn, opts, listed, &ours, sink)?;
    note_undated_charged(conn, opts, window, &ours, notes)?;
    Ok(counted)
}

/// Which of our checks [`our_side`] compares: the charged ones (`charged_sql`) within the
/// period (`in_window`, bound to `bounds`).
struct OurChecks {
    charged_sql: String,
    in_window: String,
    bounds: (Option<i64>, Option<i64>),
}

/// Our charged checks counted and priced by the list (the total, and the sum of their unit
/// prices before the total is rounded); a note counts those it has no price for.
fn count_listed(
    conn: &Connection,
    opts: &ReconcileOptions,
    l: &ListPrices,
    ours: &OurChecks,
    notes: &mut Vec<String>,
) -> Result<(i64, Option<Decimal>, Decimal), ReconcileError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT p.p_unit FROM checks c LEFT JOIN temp.priced p ON p.cid = c.id
         WHERE {} AND {}",
        ours.charged_sql, ours.in_window
    ))?;
    let mut rows = stmt.query(params![ours.bounds.0, ours.bounds.1, opts.account])?;
    let (mut n, mut sum, mut unpriced) = (0i64, Decimal::ZERO, 0i64);
    while let Some(r) = rows.next()? {
        n += 1;
        match r
            .get::<_, Option<String>>(0)?
            .and_then(|u| u.parse::<Decimal>().ok())
        {
            Some(unit) => sum += unit,
            None => unpriced += 1,
        }
    }
    if unpriced > 0 {
        notes.push(format!(
            "{unpriced} of our charged checks have no price in {} (before its first \
             period): they are in no amount",
            l.list.source.display()
        ));
    }
    Ok((n, Some(l.list.money.total(sum)), sum))
}

/// Sorts each of our charged checks that no line of the period bills into `underbilled`, or
/// `shifted_out` when a line just outside the period names it.
fn sort_unbilled(
    conn: &Connection,
    opts: &ReconcileOptions,
    listed: Option<&ListPrices>,
    ours: &OurChecks,
    sink: &mut DetailSink,
) -> Result<(), ReconcileError> {
    let bounds = ours.bounds;
    let near = i64::from(opts.boundary_hours) * 3_600_000;
    let mut stmt = conn.prepare(&format!(
        "SELECT c.liveness_id, c.sequence_id, c.status, c.code, c.event_time, c.fetched_at,
                (SELECT min(o.line) FROM temp.stmt o WHERE o.cid = c.id AND NOT o.inp
                    AND o.time >= ?1 - ?4 AND o.time < ?2 + ?4),
                c.id
         FROM checks c
         WHERE {} AND {}
           AND NOT EXISTS (SELECT 1 FROM temp.stmt s WHERE s.cid = c.id AND s.inp
                           AND coalesce(s.amount, '') NOT LIKE '-%')
         ORDER BY coalesce(c.event_time, c.fetched_at), c.liveness_id",
        ours.charged_sql, ours.in_window
    ))?;
    let mut rows = stmt.query(params![bounds.0, bounds.1, opts.account, near])?;
    let mut shift_times =
        conn.prepare("SELECT time, code, amount FROM temp.stmt WHERE line = ?1")?;
    while let Some(r) = rows.next()? {
        let t = opts.date_by.time(r.get(4)?, r.get(5)?);
        let shift_line: Option<i64> = r.get(6)?;
        let mut detail = Detail {
            bucket: BucketKind::Underbilled,
            line: None,
            liveness_id: r.get(0)?,
            sequence_id: r.get(1)?,
            statement_time: None,
            statement_code: None,
            statement_amount: None,
            our_status: r.get(2)?,
            our_code: r.get(3)?,
            our_time: t.map(|t| opts.zone.local_time(t)),
            note: String::new(),
        };
        if let Some(line) = shift_line {
            let (s_time, s_code, s_amount): (Option<i64>, Option<i64>, Option<String>) =
                shift_times.query_row(params![line], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            detail.bucket = BucketKind::ShiftedOut;
            detail.line = Some(line as u64);
            detail.statement_time = s_time.map(|t| opts.zone.local_time(t));
            detail.statement_code = s_code;
            detail.statement_amount = s_amount;
            detail.note = format!(
                "ours {} is inside the period, the line {} just outside it: time zone? ({})",
                t.map(|t| opts.zone.local_time(t)).unwrap_or_default(),
                s_time.map(|t| opts.zone.local_time(t)).unwrap_or_default(),
                Setting::Tz
            );
        } else if let (Some(t), (Some(start), Some(end))) = (t, bounds) {
            if t - start < near {
                detail.note = format!(
                    "within {}h of the period start: possibly billed the day before (time zone?)",
                    opts.boundary_hours
                );
            } else if end - t <= near {
                detail.note = format!(
                    "within {}h of the period end: possibly billed the day after (time zone?)",
                    opts.boundary_hours
                );
            }
        }
        let price = match listed {
            Some(l) => l.get(conn, r.get(7)?)?.map(|p| p.unit),
            None => opts.price,
        };
        sink.add(detail, price.unwrap_or(Decimal::ZERO))?;
    }
    Ok(())
}

/// Charged checks without a time under --date-by cannot be in a bounded period: a note says
/// how many.
fn note_undated_charged(
    conn: &Connection,
    opts: &ReconcileOptions,
    window: &Window,
    ours: &OurChecks,
    notes: &mut Vec<String>,
) -> Result<(), ReconcileError> {
    let undated_charged: i64 = if window.bounded() {
        conn.query_row(
            &format!(
                "SELECT count(*) FROM checks c WHERE {} AND {} IS NULL AND {}",
                ours.charged_sql,
                opts.date_by.time_sql(),
                crate::check::account_sql(opts.account.is_some())
            ),
            params![None::<i64>, None::<i64>, opts.account],
            |r| r.get(0),
        )?
    } else {
        0
    };
    if undated_charged > 0 {
        notes.push(match opts.date_by {
            DateBy::Fetch => format!(
                "{undated_charged} charged checks were never fetched and are not in our count"
            ),
            _ => format!(
                "{undated_charged} charged checks have no event time and are not in our count; \
                 {} event-or-fetch dates them by fetch time",
                Setting::DateBy
            ),
        });
    }
    Ok(())
}

/// A line's expected amount and how it was found: `--price`, or the list's price of our
/// charged check.
fn expected(
    conn: &Connection,
    row: &LineRow,
    opts: &ReconcileOptions,
    listed: Option<&ListPrices>,
) -> Result<Option<(Decimal, String)>, ReconcileError> {
    Ok(match listed {
        None => opts.price.map(|p| (p, format!("price {p}"))),
        Some(_) if row.class != Class::Charged => None,
        Some(l) => l
            .get(conn, row.cid)?
            .map(|p| (p.unit, format!("expected {} ({})", p.unit, l.label(&p)))),
    })
}
