//! `liveaudit reconcile`: the vendor's statement against the database, and the discrepancies.
//!
//! Policy: the zone, dates, price and tolerances are checked before the statement is read;
//! neither `--details` nor `--output` may be the database; exit status 5 when the
//! discrepancies are beyond the tolerances.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::{Context, anyhow};

use super::report::report_context;
use crate::cli::{GlobalArgs, ReconcileArgs};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::output::emit;
use crate::report::billing::{self, Pricing};
use crate::report::render::Document;
use crate::report::scope::{PriceFlags, ReportContext, Scope};

/// Runs a reconcile and renders it; `Ok(true)` when clean within the tolerances.
pub(crate) fn reconcile_document(
    ctx: &mut ReportContext,
    args: &ReconcileArgs,
) -> Result<(Document, bool), Failure> {
    let statement_zone = match &args.statement_tz {
        Some(name) => {
            Some(crate::zone::Zone::parse(name, "--statement-tz").map_err(Failure::usage)?)
        }
        None => None,
    };
    let mut columns = statement_columns(args);
    let on_statement =
        crate::statement::partner_codes(&args.statement, &columns).map_err(Failure::usage)?;
    let scope = one_account(ctx, args, &on_statement)?;
    let left_out = statement_partner(&scope, &on_statement, &mut columns)?;
    let zone = scope.zone.clone();
    let (price, list, currency) = statement_pricing(ctx, args, &scope)?;
    // A statement's currency is compared with our prices' (none without a price).
    if price.is_some() || list.is_some() {
        columns.expect_currency = Some(currency.to_ascii_uppercase());
    }
    let db = ctx.store.path().to_path_buf();
    let (store, codes) = (&mut ctx.store, &ctx.codes);
    use crate::report::reconcile::{self, ReconcileError, ReconcileOptions};
    let amount_tolerance = billing::parse_price(&args.amount_tolerance).map_err(|_| {
        Failure::usage(anyhow!(
            "--amount-tolerance {:?} is not an amount; use a plain decimal such as 0.50",
            args.amount_tolerance
        ))
    })?;
    // Validate the dates before reading anything.
    let dates = (args.from.as_deref(), args.to.as_deref());
    scope.window(crate::check::Period::Day, dates, args.date_by.into())?;
    let opts = ReconcileOptions {
        statement: args.statement.clone(),
        columns,
        zone,
        statement_zone,
        from: args.from.clone(),
        to: args.to.clone(),
        price,
        prices: list,
        boundary_hours: args.boundary_hours,
        details: args.details.clone(),
        dispute: args.dispute.is_some(),
        raw_cells: args.raw_cells,
        date_by: args.date_by.into(),
        account: scope.filter(),
    };
    let result = reconcile::reconcile(&mut store.conn, codes, &opts).map_err(|e| match e {
        ReconcileError::Statement(s) => Failure::usage(s),
        ReconcileError::Report(r) => r.into(),
        other => Failure::internal(other),
    })?;
    if let Some(p) = &args.details {
        reconcile::ensure_details_header(p)
            .with_context(|| format!("writing {}", p.display()))
            .map_err(Failure::internal)?;
    }
    notes_on_stderr(args, &result, &opts);
    let clean = reconcile::within_tolerance(&result, args.tolerance, amount_tolerance);
    let mut doc = reconcile::document(&result, &currency);
    if let (Some(path), Some(money)) = (&args.dispute, &doc.money) {
        write_dispute(path, &result, (&store.conn, money), &db, args.raw_cells)?;
    }
    name_the_account(&mut doc, &scope, left_out);
    Ok((doc, clean))
}

/// The price the statement is checked against: a flat price or the account's list (with its
/// currency), or none.
fn statement_pricing(
    ctx: &ReportContext,
    args: &ReconcileArgs,
    scope: &Scope,
) -> Result<
    (
        Option<rust_decimal::Decimal>,
        Option<crate::prices::PriceList>,
        String,
    ),
    Failure,
> {
    let flags = PriceFlags {
        price: args.price.as_deref(),
        prices: args.prices.as_deref(),
        currency: &args.currency,
    };
    Ok(match scope.pricing(ctx, flags)? {
        Pricing::Flat(p, currency) => (Some(p), None, currency),
        Pricing::List(l) => (None, Some(l.clone()), l.money.currency),
        Pricing::Unpriced(currency) => (None, None, currency),
    })
}

/// The statement's column names, as the flags give them.
fn statement_columns(args: &ReconcileArgs) -> crate::statement::StatementColumns {
    crate::statement::StatementColumns {
        id: args.statement_id_column.clone(),
        sequence: args.statement_sequence_column.clone(),
        time: args.statement_time_column.clone(),
        code: args.statement_code_column.clone(),
        amount: args.statement_amount_column.clone(),
        count: args.statement_count_column.clone(),
        period: args.statement_period_column.clone(),
        partner: args.statement_partner_column.clone(),
        only_partner: None,
        currency: args.statement_currency_column.clone(),
        expect_currency: None,
    }
}

/// The zone hint opens the report; a report going to a file or a pipe also says it on stderr,
/// and so does a price list billing checks at 0 (a CSV table carries no notes).
fn notes_on_stderr(
    args: &ReconcileArgs,
    result: &crate::report::reconcile::Reconciliation,
    opts: &crate::report::reconcile::ReconcileOptions,
) {
    let on_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    if let Some(h) = result.zone_hint.as_ref().filter(|_| !on_terminal) {
        tracing::warn!("{}", h.sentence(&result.statement_zone));
    }
    if let Some(list) = (opts.prices.as_ref()).filter(|_| !on_terminal && result.billed_at_zero > 0)
    {
        tracing::warn!(
            "{}",
            crate::prices::billed_at_zero_note(result.billed_at_zero, list.money.scale)
        );
    }
}

/// A statement of one account says which, in the lines for people and in JSON, and how many
/// lines of other partner codes it left out.
fn name_the_account(doc: &mut Document, scope: &Scope, left_out: u64) {
    if let Some(k) = scope.narrowed_key() {
        doc.summary.insert(1, k.narrowed_line());
        if let serde_json::Value::Object(map) = &mut doc.json {
            map.insert("account".into(), serde_json::json!(k));
        }
    }
    if left_out > 0 {
        doc.summary.insert(
            1,
            format!("{left_out} statement lines of other partner codes left out"),
        );
        if let serde_json::Value::Object(map) = &mut doc.json {
            map.insert("statement_lines_of_other_accounts".into(), left_out.into());
        }
    }
}

/// The one account a statement is matched against: `--account`, else the one partner code the
/// statement's partner code column names, else the database's only one. A statement naming
/// several partner codes, or a database holding checks of several (`unknown` counted), needs
/// `--account`: a statement is matched against one account, and the others' checks would show
/// as underbilled.
fn one_account(
    ctx: &ReportContext,
    args: &ReconcileArgs,
    on_statement: &BTreeMap<String, u64>,
) -> Result<Scope, Failure> {
    let from_statement = match (args.account.as_deref(), on_statement.len()) {
        (Some(_), _) | (None, 0) => None,
        (None, 1) => on_statement.keys().next().map(String::as_str),
        (None, _) => {
            let codes: Vec<&str> = on_statement.keys().map(String::as_str).collect();
            return Err(Failure::usage(anyhow!(
                "the statement names {} partner codes ({}); reconcile one account at a time \
                 with --account NAME (its lines are matched, the others left out)",
                codes.len(),
                codes.join(", ")
            )));
        }
    };
    let scope = ctx.scope(
        args.account.as_deref().or(from_statement),
        args.tz.as_deref(),
    )?;
    if scope.narrowed.is_none() && scope.accounts.len() > 1 {
        let names: Vec<String> = scope
            .accounts
            .iter()
            .map(|a| match &a.name {
                Some(n) => format!("{n} (partner code {})", a.partner_code),
                None => a.partner_code.clone(),
            })
            .collect();
        return Err(Failure::usage(anyhow!(
            "the database holds checks of {} accounts: {}; a statement bills one account, so \
             pass --account NAME (a config account name or a partner code as listed)",
            names.len(),
            names.join(", ")
        )));
    }
    Ok(scope)
}

/// Narrows the statement to the chosen account's lines when it has a partner code column, and
/// says how many lines it leaves out. A statement that names partner codes but none of the
/// chosen account's is refused: every one of its lines would be another account's.
fn statement_partner(
    scope: &Scope,
    on_statement: &BTreeMap<String, u64>,
    columns: &mut crate::statement::StatementColumns,
) -> Result<u64, Failure> {
    let Some(code) = scope.filter() else {
        return Ok(0);
    };
    if on_statement.is_empty() {
        return Ok(0);
    }
    if !on_statement.contains_key(&code) {
        let codes: Vec<&str> = on_statement.keys().map(String::as_str).collect();
        return Err(Failure::usage(anyhow!(
            "the statement's partner codes are {}; none is {code}, the account reconciled: \
             give the statement of that account, or --account one of those",
            codes.join(", ")
        )));
    }
    columns.only_partner = Some(code.clone());
    Ok(on_statement
        .iter()
        .filter(|(c, _)| **c != code)
        .map(|(_, n)| n)
        .sum())
}

/// Runs `liveaudit reconcile`.
pub(crate) fn reconcile(global: &GlobalArgs, args: &ReconcileArgs) -> Result<ExitStatus, Failure> {
    let mut ctx = report_context(global, args.tz.as_deref(), None)?;
    let db = ctx.store.path().to_path_buf();
    if let Some(p) = &args.dispute {
        crate::report::reconcile::DisputeKind::of(p).map_err(|e| Failure::usage(anyhow!(e)))?;
    }
    for (what, path) in [
        ("--details", &args.details),
        ("--output", &args.output),
        ("--dispute", &args.dispute),
    ] {
        if let Some(p) = path {
            crate::store::refuse_output_on_database(what, p, &db)?;
        }
    }
    let (doc, clean) = reconcile_document(&mut ctx, args)?;
    emit(
        &doc,
        args.format.map(Into::into),
        args.output.as_deref(),
        (args.table.as_deref(), Some("bridge")),
        &db,
        args.raw_cells,
    )?;
    Ok(if clean {
        ExitStatus::Ok
    } else {
        ExitStatus::Discrepancies
    })
}

/// Writes the dispute file (`--dispute`): CSV holds the disputed lines, a workbook also the
/// bridge and the period; staged and renamed into place like every output.
fn write_dispute(
    path: &std::path::Path,
    r: &crate::report::reconcile::Reconciliation,
    (conn, money): (&rusqlite::Connection, &crate::money::Money),
    db: &std::path::Path,
    raw_cells: bool,
) -> Result<(), Failure> {
    use crate::report::reconcile::{DisputeError, DisputeKind, write_disputes};
    let kind = DisputeKind::of(path).map_err(|e| Failure::usage(anyhow!(e)))?;
    let mut out = crate::output::output(Some(path), Some(db))?;
    write_disputes(
        conn,
        r,
        money,
        (kind, raw_cells),
        out.send_writer().as_mut(),
    )
    .map_err(|e| match e {
        DisputeError::Spool(io) => crate::output::write_failure(io),
        other => crate::output::write_failure(std::io::Error::other(other)),
    })?;
    out.finish().map_err(crate::output::write_failure)?;
    let (count, total) = r
        .disputes
        .as_ref()
        .map_or((0, rust_decimal::Decimal::ZERO), |d| (d.count, d.total));
    tracing::info!(
        "wrote {count} lines to dispute ({} {}) to {}",
        money.show(total),
        money.currency,
        path.display()
    );
    Ok(())
}
