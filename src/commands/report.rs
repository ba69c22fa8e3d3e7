//! `liveaudit report billing` and `liveaudit report attacks`: the report window from the flags,
//! the computed document, and its output.
//!
//! Policy: a report reads the database only (it never calls the vendor); `--fail-on-spike`
//! turns a listed spike into exit status 6 after the report is written.

use std::path::Path;

use anyhow::anyhow;

use super::{code_table, layers};
use crate::cli::{AttacksArgs, BillingArgs, GlobalArgs, ReportArgs, VendorArgs};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::output::emit;
use crate::report::accounts::AccountKey;
use crate::report::billing::Pricing;
use crate::report::render::Document;
use crate::report::scope::{PriceFlags, ReportContext, Scope};
use crate::report::{Window, attacks, billing};

/// The context of a report over `db` (else the database in force), with the code table in
/// force (`--codes-file` honoured) and the `tz` setting.
pub(crate) fn report_context(
    global: &GlobalArgs,
    tz_flag: Option<&str>,
    db: Option<&Path>,
) -> Result<ReportContext, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    let codes = code_table(&layers)?;
    Ok(ReportContext::open(layers, codes, db, tz_flag)?)
}

/// The scope and window of a report (narrowed to `--account`, in the scope's zone).
fn scoped(ctx: &ReportContext, args: &ReportArgs) -> Result<(Scope, Window), Failure> {
    let scope = ctx.scope(args.account.as_deref(), args.tz.as_deref())?;
    let by = args.by.map_or(crate::check::Period::Day, Into::into);
    let dates = (args.from.as_deref(), args.to.as_deref());
    let window = scope.window(by, dates, args.date_by.into())?;
    Ok((scope, window))
}

/// Each account's pricing as the billing report's flags give it, and the fallback
/// ([`Scope::pricings`]).
fn billing_pricings(
    ctx: &ReportContext,
    scope: &Scope,
    args: &BillingArgs,
) -> Result<(Vec<(AccountKey, Pricing)>, Pricing), Failure> {
    let flags = PriceFlags {
        price: args.price.as_deref(),
        prices: args.prices.as_deref(),
        currency: &args.currency,
    };
    Ok(scope.pricings(ctx, flags)?)
}

/// Computes the billing report's document.
pub(crate) fn billing_document(
    ctx: &ReportContext,
    args: &BillingArgs,
) -> Result<Document, Failure> {
    let (scope, window) = scoped(ctx, &args.common)?;
    let (accounts, fallback) = billing_pricings(ctx, &scope, args)?;
    let mut report = billing::report(
        &ctx.store.conn,
        &ctx.codes,
        &window,
        &accounts,
        &fallback,
        args.common.by_account,
    )?;
    report.account = scope.narrowed_key();
    Ok(billing::document(&report, &window))
}

/// What a billing report's numbers depend on besides its checks, as text: the code table in
/// force, the prices (flat or each list's contents), the zone and the date basis. Two reports
/// of the same checks with the same inputs are the same (the nightly job keeps a hash of it).
pub(crate) fn billing_inputs(ctx: &ReportContext, args: &BillingArgs) -> Result<String, Failure> {
    let (scope, _) = scoped(ctx, &args.common)?;
    let (accounts, fallback) = billing_pricings(ctx, &scope, args)?;
    Ok(format!(
        "codes {:?}\nprices {accounts:?} {fallback:?}\nzone {}\ndate by {:?}",
        ctx.codes, scope.zone.name, args.common.date_by
    ))
}

/// Computes the attack report's document.
pub(crate) fn attacks_document(
    ctx: &ReportContext,
    args: &AttacksArgs,
) -> Result<Document, Failure> {
    attacks_report(ctx, args).map(|(doc, _)| doc)
}

/// Computes the attack report's document and the spikes it lists.
pub(crate) fn attacks_report(
    ctx: &ReportContext,
    args: &AttacksArgs,
) -> Result<(Document, Vec<attacks::Spike>), Failure> {
    let (store, codes) = (&ctx.store, &ctx.codes);
    let (scope, window) = scoped(ctx, &args.common)?;
    if !(args.spike_factor.is_finite() && args.spike_factor >= 1.0) {
        return Err(Failure::usage(anyhow!(
            "--spike-factor must be a number of at least 1"
        )));
    }
    for (flag, zero) in [
        ("--top", args.top == 0),
        ("--spike-min", args.spike_min == 0),
        ("--baseline", args.baseline == 0),
    ] {
        if zero {
            return Err(Failure::usage(anyhow!("{flag} must be at least 1")));
        }
    }
    if let Some(dim) = &args.dimension
        && let Some(columns) = attacks::missing_dimension(&store.conn, dim)?
    {
        let have = if columns.is_empty() {
            "the checks have no input columns besides the id (add them to the id list)".to_string()
        } else {
            format!("the checks have: {}", columns.join(", "))
        };
        return Err(Failure::usage(anyhow!(
            "--dimension {:?}: no stored check has that input column; {have}",
            crate::text::escape(dim)
        )));
    }
    let opts = attacks::AttackOptions {
        dimension: args.dimension.clone(),
        top: args.top,
        rule: attacks::SpikeRule {
            factor: args.spike_factor,
            min_count: args.spike_min,
            baseline_periods: args.baseline,
        },
        face_columns: (!args.face_columns.is_empty()).then(|| args.face_columns.clone()),
    };
    let keys: Vec<_> = scope
        .accounts
        .iter()
        .map(crate::report::scope::key)
        .collect();
    let by_account = args.common.by_account;
    let mut report = attacks::compute_over(&store.conn, codes, &window, &keys, &opts, by_account)?;
    report.account = scope.narrowed_key();
    for row in &mut report.unknown_codes {
        row.message = crate::report::vendor_message(&store.conn, row.code)?.unwrap_or_default();
    }
    attacks::attach_commands(&mut report, &window);
    let shown = match &args.with_images {
        Some(dir) => Some(attacks::attach_images(&mut report.repeated_faces, dir)),
        None => None,
    };
    let mut doc = attacks::document_by_account(&report, &window);
    if let Some(faces) = doc.sections.iter_mut().find(|s| s.key == "faces") {
        faces
            .notes
            .push(images_note(args.with_images.as_deref(), shown));
    }
    Ok((doc, report.spikes))
}

/// What the faces table says about images: shown (from where), none found, or how to get them.
fn images_note(dir: Option<&Path>, shown: Option<usize>) -> String {
    match (dir, shown) {
        (Some(dir), Some(n)) if n > 0 => format!(
            "Images (HTML only) of {n} reused face(s), from {}: biometric data, keep the page \
             as you keep the images.",
            crate::text::clean(&dir.display().to_string())
        ),
        (Some(dir), _) => format!(
            "No saved image of these faces in {}: images are kept only when `liveaudit fetch \
             --save-images DIR` saves them.",
            crate::text::clean(&dir.display().to_string())
        ),
        _ => "Images are not shown (biometric data): fetch with --save-images DIR to keep them, \
              then add --with-images DIR to an HTML report."
            .into(),
    }
}

/// Writes a report; the one table CSV writes is the one the flags ask for (`lead`: the
/// dimension with `--dimension`, else the periods with a `--by` given), else the first.
fn emit_report(
    doc: &Document,
    args: &ReportArgs,
    db: &Path,
    dimension: bool,
) -> Result<(), Failure> {
    let lead = if dimension {
        Some("dimension")
    } else {
        args.by.map(|_| "periods")
    };
    emit(
        doc,
        args.format.map(Into::into),
        args.output.as_deref(),
        (args.table.as_deref(), lead),
        db,
        args.raw_cells,
    )
}

/// Runs `liveaudit report billing`.
pub(crate) fn report_billing(
    global: &GlobalArgs,
    args: &BillingArgs,
) -> Result<ExitStatus, Failure> {
    let ctx = report_context(global, args.common.tz.as_deref(), None)?;
    emit_report(
        &billing_document(&ctx, args)?,
        &args.common,
        ctx.store.path(),
        false,
    )?;
    Ok(ExitStatus::Ok)
}

/// Runs `liveaudit report attacks`.
pub(crate) fn report_attacks(
    global: &GlobalArgs,
    args: &AttacksArgs,
) -> Result<ExitStatus, Failure> {
    let ctx = report_context(global, args.common.tz.as_deref(), None)?;
    let (mut doc, spikes) = attacks_report(&ctx, args)?;
    if args.fail_on_spike {
        // The JSON output says why the status is what it is.
        if let serde_json::Value::Object(map) = &mut doc.json {
            map.insert(
                "alert".into(),
                serde_json::json!({
                    "fail_on_spike": true,
                    "exit_status": if spikes.is_empty() { 0 } else { ExitStatus::Spike.code() },
                    "spikes": spikes,
                }),
            );
        }
    }
    emit_report(
        &doc,
        &args.common,
        ctx.store.path(),
        args.dimension.is_some(),
    )?;
    if args.fail_on_spike && !spikes.is_empty() {
        for s in &spikes {
            tracing::warn!(
                period = %s.period,
                family = %s.family,
                attacks = s.attacks,
                share = s.share,
                baseline_share = s.baseline_share,
                "attack spike"
            );
        }
        tracing::error!(
            spikes = spikes.len(),
            "--fail-on-spike: the report lists {} spike(s); exit status 6",
            spikes.len()
        );
        return Ok(ExitStatus::Spike);
    }
    Ok(ExitStatus::Ok)
}
