//! Laying a reconciliation out as a document, and the `--details` file's header.

use super::*;
use crate::money::Money;
use crate::setting::Setting;

/// The order buckets are shown in.
pub(super) const SHOWN_ORDER: [BucketKind; 20] = [
    BucketKind::Matched,
    BucketKind::Overbilled,
    BucketKind::Provisional,
    BucketKind::ProvisionalConfirmed,
    BucketKind::UnknownToUs,
    BucketKind::Duplicate,
    BucketKind::BilledOver,
    BucketKind::Unresolved,
    BucketKind::UnknownCode,
    BucketKind::ShiftedIn,
    BucketKind::Credit,
    BucketKind::Unreadable,
    BucketKind::Underbilled,
    BucketKind::ShiftedOut,
    BucketKind::OutsidePeriod,
    BucketKind::AbovePrice,
    BucketKind::BelowPrice,
    BucketKind::AmountVariance,
    BucketKind::CodeDiffers,
    BucketKind::PeriodDifference,
];

/// Lays the reconcile out for people.
pub(crate) fn document(r: &Reconciliation, currency: &str) -> Document {
    let scale = money_scale(r, currency);
    let money = |d: Decimal| format!("{} {currency}", scale.show(d));
    let mut summary = summary_lines(r, &money);
    if shown_amounts(r).iter().any(|a| scale.rounds(*a)) {
        // Before the classes line, which ends the summary.
        summary.insert(
            summary.len() - 1,
            format!(
                "amounts are shown at {} decimals (the price list's, or the statement's if more), \
                 rounded: JSON holds them exactly, and the bridge ties there to the last decimal",
                scale.scale
            ),
        );
    }
    Document {
        title: "liveaudit reconcile".into(),
        summary,
        sections: sections(r, &scale),
        charts: Vec::new(),
        json: scale.to_json(r),
        money: Some(scale),
        flagged: Vec::new(),
    }
}

/// The scale every amount of the report is shown at: the price list's (widened to the
/// decimals the statement bills at), else enough decimals for all of them.
fn money_scale(r: &Reconciliation, currency: &str) -> Money {
    let amounts = shown_amounts(r);
    match r.list_scale {
        Some(scale) => Money::new(currency, scale, crate::money::Rounding::Total),
        None => Money::unrounded(currency).covering(&amounts),
    }
}

/// Every amount the report shows.
fn shown_amounts(r: &Reconciliation) -> Vec<Decimal> {
    let mut amounts: Vec<Decimal> = vec![r.billed_amount];
    amounts.extend(r.buckets.values().map(|b| b.amount));
    amounts.extend(
        r.periods
            .iter()
            .flat_map(|p| [p.billed_amount, p.amount_difference])
            .flatten(),
    );
    if let Some(b) = &r.bridge {
        amounts.extend(b.amounts());
    }
    amounts.extend(r.our_amount);
    amounts
}

/// The lines under the title: the statement, the period, the totals, the identity of the net
/// difference, the bridge, the notes.
fn summary_lines(r: &Reconciliation, money: &dyn Fn(Decimal) -> String) -> Vec<String> {
    let mut summary = vec![
        format!("statement {} ({}; {})", r.statement, r.shape, r.columns),
        format!(
            "period {} to {} in {}{}",
            r.period_from.as_deref().unwrap_or("?"),
            r.period_to.as_deref().unwrap_or("?"),
            r.zone,
            if r.statement_zone == r.zone {
                String::new()
            } else {
                format!(
                    "; statement times without an offset read in {}",
                    r.statement_zone
                )
            }
        ),
        format!(
            "billed: {} {} in the period{} ({}); charged in our records: {}{}; net difference \
             {:+}{}",
            r.lines,
            if r.shape == "summary" {
                "summary lines"
            } else {
                "lines"
            },
            match unreadable(r) {
                0 => String::new(),
                1 => " and 1 line that could not be read".into(),
                n => format!(" and {n} lines that could not be read"),
            },
            money(r.billed_amount),
            r.our_charged,
            r.our_amount
                .map(|a| format!(" ({})", money(a)))
                .unwrap_or_default(),
            r.net_difference,
            r.net_amount
                .map(|a| format!(" ({})", money(a)))
                .unwrap_or_default(),
        ),
    ];
    // A statement dated in another zone is said once, before anything else.
    if let Some(h) = &r.zone_hint {
        summary.insert(0, h.sentence(&r.statement_zone));
    }
    if let Some(n) = r.day_mismatches.filter(|n| *n > 0 && r.zone_hint.is_none()) {
        summary.push(format!(
            "{n} lines are dated on another day than their check (in {})",
            r.zone
        ));
    }
    summary.push(identity_line(r));
    if let Some(b) = &r.bridge {
        summary.push(format!(
            "bridge: billed {} (statement {}, outside the period {}) - expected {} = {} = to \
             dispute {} - owed {} + to check {} + rounding {}",
            money(b.billed),
            money(b.statement.amount),
            money(b.outside_period.amount),
            money(b.expected),
            money(b.difference),
            money(b.to_dispute.amount),
            money(b.owed.amount),
            money(b.to_check.amount),
            money(b.rounding)
        ));
    } else {
        summary.push(format!(
            "no bridge of amounts: give {} or {}",
            Setting::Price,
            Setting::Prices
        ));
    }
    summary.push(format!("{} discrepancies", r.discrepancies));
    summary.extend(r.notes.iter().cloned());
    summary.push(crate::report::billing::CLASSES_DOC.into());
    summary
}

/// The statement's lines that could not be read.
fn unreadable(r: &Reconciliation) -> u64 {
    r.buckets
        .get(BucketKind::Unreadable.as_str())
        .map_or(0, |t| t.count)
}

/// The identity, in words: every exclusive bucket times its effect.
fn identity_line(r: &Reconciliation) -> String {
    let terms: Vec<String> = SHOWN_ORDER
        .iter()
        .filter_map(|k| {
            let t = r.buckets.get(k.as_str())?;
            let e = k.effect().filter(|e| *e != 0)?;
            Some(format!(
                "{} {} {}",
                if e > 0 { "+" } else { "-" },
                t.count,
                k.as_str()
            ))
        })
        .collect();
    format!(
        "net difference {:+} = {}",
        r.net_difference,
        if terms.is_empty() {
            "0".to_string()
        } else {
            terms.join(" ").trim_start_matches("+ ").to_string()
        }
    )
}

/// The tables: the bridge first (the one a pipe or `--format csv` writes, headline included),
/// the buckets, the periods, the discrepancies, the malformed lines.
fn sections(r: &Reconciliation, scale: &Money) -> Vec<Section> {
    let buckets = buckets_section(r, scale);
    // The bridge leads: the one table a pipe or `--format csv` writes, headline included.
    let mut sections = vec![bridge_section(r, scale), buckets];
    if !r.periods.is_empty() {
        sections.push(periods_section(r, scale));
    }
    let details = details_section(r);
    sections.push(details);
    if !r.malformed.is_empty() {
        // Each line's amount, when it can be read, is in the bridge's `unreadable` line.
        let mut s = Section::new("Malformed statement lines", &["line", "amount", "problem"])
            .keyed("malformed")
            .with_money(&["amount"]);
        for m in &r.malformed {
            let amount = m.amount.map(|a| scale.show(a)).unwrap_or_default();
            s.row(vec![m.line.to_string(), amount, m.problem.clone()]);
        }
        sections.push(s);
    }
    sections
}

/// The columns of `--details` and of the `discrepancies` CSV table.
pub(super) const DETAIL_COLUMNS: [&str; 11] = [
    "bucket",
    "line",
    "liveness_id",
    "sequence_id",
    "statement_time",
    "statement_code",
    "statement_amount",
    "our_status",
    "our_code",
    "our_time",
    "note",
];

/// Writes the details header even when there are no discrepancies, so scripts can rely on it.
pub(crate) fn ensure_details_header(path: &Path) -> std::io::Result<()> {
    let empty = std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(true);
    if empty {
        let mut f = std::fs::File::create(path)?;
        writeln!(f, "{}", DETAIL_COLUMNS.join(","))?;
    }
    Ok(())
}

/// The summary table: each bucket's count, effect on the difference, amount and meaning.
fn buckets_section(r: &Reconciliation, scale: &Money) -> Section {
    let mut buckets = Section::new(
        "Summary",
        &["bucket", "count", "effect", "amount", "meaning"],
    )
    .keyed("summary")
    .with_machine(&["bucket", "count", "effect", "amount", "overlaps"])
    .with_money(&["amount"]);
    for kind in SHOWN_ORDER {
        let t = r.buckets.get(kind.as_str()).cloned().unwrap_or_default();
        if !shown_for(kind, r.shape) {
            continue;
        }
        buckets.machine_row(
            &["bucket", "count", "effect", "amount", "overlaps"],
            vec![
                kind.as_str().into(),
                t.count.to_string(),
                kind.effect().map(|e| e.to_string()).unwrap_or_default(),
                scale.show(t.amount),
                (kind.effect().is_none()).to_string(),
            ],
        );
        buckets.row(vec![
            kind.as_str().into(),
            t.count.to_string(),
            kind.effect()
                .map(|e| if e == 0 { "0".into() } else { format!("{e:+}") })
                .unwrap_or_default(),
            scale.show(t.amount),
            kind.meaning().into(),
        ]);
    }
    buckets
}

/// Whether the summary table shows `kind` (even at 0) for a statement of `shape`: an itemised
/// statement has no periods nor checks billed beyond ours; a summary statement has no lines.
fn shown_for(kind: BucketKind, shape: &str) -> bool {
    let summary_only = matches!(kind, BucketKind::BilledOver | BucketKind::PeriodDifference);
    if shape == "itemised" {
        return !summary_only;
    }
    summary_only
        || kind == BucketKind::Matched
        || kind == BucketKind::AmountVariance
        || SUMMARY_BRIDGE_ORDER.contains(&kind)
}

/// The bridge: the headline (the statement's total, its lines outside the period, billed,
/// expected, difference: counts, and amounts when priced), one line per bucket (the rounding
/// line always), and the three totals, so the table alone carries every number a sign-off
/// needs.
pub(super) fn bridge_section(r: &Reconciliation, scale: &Money) -> Section {
    let mut s = Section::new("Bridge", &["line", "count", "amount", "total"])
        .keyed("bridge")
        .with_machine(&["line", "count", "amount", "total"])
        .with_money(&["amount"]);
    let mut row = |line: &str, count: String, amount: Option<Decimal>, total: &str| {
        let amount = amount.map(|a| scale.show(a)).unwrap_or_default();
        let cells = vec![line.to_string(), count, amount, total.to_string()];
        s.machine_row(&[], cells.clone());
        s.row(cells);
    };
    // Billed: statement lines of the period and those that could not be read, or a
    // summary's billed checks.
    let billed = r.our_charged
        + r.net_difference
        + match r.shape {
            "summary" => 0,
            _ => unreadable(r) as i64,
        };
    if let Some(b) = &r.bridge {
        row(
            "statement",
            b.statement.count.to_string(),
            Some(b.statement.amount),
            "",
        );
        let outside = &b.outside_period;
        row(
            "outside_period",
            outside.count.to_string(),
            Some(outside.amount),
            "",
        );
    }
    row("billed", billed.to_string(), Some(r.billed_amount), "");
    row("expected", r.our_charged.to_string(), r.our_amount, "");
    row(
        "difference",
        (billed - r.our_charged).to_string(),
        r.net_amount,
        "",
    );
    let Some(b) = &r.bridge else {
        s.notes.push(format!(
            "no bridge of amounts without {} or {}",
            Setting::Price,
            Setting::Prices
        ));
        return s;
    };
    for l in &b.lines {
        row(
            l.bucket.as_str(),
            l.count.to_string(),
            Some(l.amount),
            l.total.as_str(),
        );
    }
    row("rounding", String::new(), Some(b.rounding), "");
    for (total, t) in [
        (Total::ToDispute, &b.to_dispute),
        (Total::Owed, &b.owed),
        (Total::ToCheck, &b.to_check),
    ] {
        row(total.as_str(), t.count.to_string(), Some(t.amount), "");
    }
    s.notes.push(
        "billed = statement - outside_period (not compared); difference = the lines above + \
         rounding = to_dispute - owed + to_check + rounding"
            .into(),
    );
    s
}

/// A summary statement's periods: billed against ours.
fn periods_section(r: &Reconciliation, scale: &Money) -> Section {
    let mut s = Section::new(
        "Per period",
        &[
            "period",
            "billed",
            "ours",
            "difference",
            "billed amount",
            "amount difference",
            "lines",
        ],
    )
    .keyed("periods")
    .with_machine(&[
        "period",
        "billed",
        "ours",
        "difference",
        "billed_amount",
        "amount_difference",
        "lines",
    ])
    .with_money(&["billed_amount", "amount_difference"]);
    for p in &r.periods {
        let amount = |a: Option<Decimal>| a.map(|a| scale.show(a)).unwrap_or_default();
        // The same cells for machines and people; people see the difference signed.
        let cells = |difference: String| {
            vec![
                p.period.clone(),
                p.billed.to_string(),
                p.ours.to_string(),
                difference,
                amount(p.billed_amount),
                amount(p.amount_difference),
                p.lines
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        };
        s.machine_row(&[], cells(p.difference.to_string()));
        s.row(cells(format!("{:+}", p.difference)));
    }
    s
}

/// The discrepancies, as many as the report keeps (every one goes to `--details`).
fn details_section(r: &Reconciliation) -> Section {
    // Sequence ids and amounts are in --details and the JSON; the table keeps to what fits.
    // Times are shown in the report's zone (the offset beside each), as billing shows them.
    let time = format!("time ({})", r.zone);
    let mut details = Section::new(
        "Discrepancies",
        &[
            "bucket",
            "line",
            "liveness id",
            time.as_str(),
            "ours",
            "note",
        ],
    )
    .with_machine(&DETAIL_COLUMNS)
    .with_money(&["statement_amount"]);
    for d in &r.details {
        let text = |v: Option<String>| v.unwrap_or_default();
        let number = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        details.machine_row(
            &DETAIL_COLUMNS,
            vec![
                d.bucket.as_str().into(),
                d.line.map(|l| l.to_string()).unwrap_or_default(),
                text(d.liveness_id.clone()),
                text(d.sequence_id.clone()),
                text(d.statement_time.clone()),
                number(d.statement_code),
                text(d.statement_amount.clone()),
                text(d.our_status.clone()),
                number(d.our_code),
                text(d.our_time.clone()),
                d.note.clone(),
            ],
        );
        details.row(vec![
            d.bucket.as_str().into(),
            d.line.map(|l| l.to_string()).unwrap_or_default(),
            d.liveness_id
                .clone()
                .or_else(|| d.sequence_id.clone())
                .unwrap_or_default(),
            d.statement_time
                .clone()
                .or_else(|| d.our_time.clone())
                .unwrap_or_default(),
            match (&d.our_status, d.our_code) {
                (Some(s), Some(c)) => format!("{s} {c}"),
                (Some(s), None) => s.clone(),
                _ => String::new(),
            },
            d.note.clone(),
        ]);
    }
    let hidden: u64 = r.buckets.values().map(|b| b.not_shown).sum();
    if hidden > 0 {
        details.notes.push(format!(
            "{hidden} more not shown; {} FILE.csv writes every one",
            Setting::Details
        ));
    }
    details
}
