//! `liveaudit report billing` and `liveaudit report attacks`: the report window from the flags,
//! the computed document, and its output.
//!
//! Policy: a report reads the database only (it never calls the vendor); `--fail-on-spike`
//! turns a listed spike into exit status 6 after the report is written.

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::{code_table, layers};
use crate::cli::{AttacksArgs, BillingArgs, GlobalArgs, ReportArgs, VendorArgs};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::output::emit;
use crate::report::render::Document;
use crate::report::{Window, attacks, billing, load_buckets};
use crate::store::{OpenMode, Store};
use crate::td::codes::CodeTable;

/// The database, the code table and the billing day's zone of a report.
pub(crate) struct ReportContext {
    pub store: Store,
    pub codes: CodeTable,
    /// `--tz`, `LIVEAUDIT_TZ`, the config file's `tz`, else UTC.
    pub tz: String,
    /// The config file's `prices` (a `--prices` flag wins over it, `--price` over both).
    pub prices: Option<PathBuf>,
}

impl ReportContext {
    /// The price list in force: none under a flat `--price`, else `--prices`, else the
    /// config file's `prices`. A list that cannot be read or used is a usage error (exit 2).
    pub(crate) fn price_list(
        &self,
        flat: Option<&str>,
        flag: Option<&Path>,
    ) -> Result<Option<crate::prices::PriceList>, Failure> {
        if flat.is_some() {
            return Ok(None);
        }
        flag.or(self.prices.as_deref())
            .map(crate::prices::PriceList::load)
            .transpose()
            .map_err(Failure::usage)
    }
}

pub(crate) fn report_store(
    global: &GlobalArgs,
    tz_flag: Option<&str>,
) -> Result<ReportContext, Failure> {
    report_context(global, tz_flag, None)
}

/// The context of a report over `db` (else the database in force), with the code table in
/// force (`--codes-file` honoured) and the `tz` setting.
pub(crate) fn report_context(
    global: &GlobalArgs,
    tz_flag: Option<&str>,
    db: Option<&Path>,
) -> Result<ReportContext, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    let codes = code_table(&layers)?;
    let store = Store::open(db.unwrap_or(&layers.db()), OpenMode::MigrateExisting)?;
    Ok(ReportContext {
        store,
        codes,
        tz: layers.tz(tz_flag),
        prices: layers.prices(None),
    })
}

fn window(args: &ReportArgs, tz: &str) -> Result<Window, Failure> {
    Ok(Window::new(tz, args.by, args.from.as_deref(), args.to.as_deref())?.dated_by(args.date_by))
}

/// Computes the billing report's document.
pub(crate) fn billing_document(
    ctx: &ReportContext,
    args: &BillingArgs,
) -> Result<Document, Failure> {
    let (store, codes) = (&ctx.store, &ctx.codes);
    let window = window(&args.common, &ctx.tz)?;
    let price = args
        .price
        .as_deref()
        .map(billing::parse_price)
        .transpose()?;
    let list = ctx.price_list(args.price.as_deref(), args.prices.as_deref())?;
    let buckets = load_buckets(&store.conn, &window)?;
    let undated = crate::report::undated_outside(&store.conn, &window)?;
    let mut report = match &list {
        None => billing::compute(&buckets, codes, &window, price, &args.currency, undated),
        Some(list) => {
            // The first month's tiers count from its first day, before --from too.
            let lead_in = billing::lead_in(&store.conn, &window)?;
            billing::compute_listed(&buckets, &lead_in, codes, &window, list, undated)
        }
    };
    // Codes the table does not know still have the vendor's own message.
    for row in report.codes.iter_mut().filter(|r| r.message.is_empty()) {
        row.message = crate::report::vendor_message(&store.conn, row.code)?.unwrap_or_default();
    }
    Ok(billing::document(&report, &window))
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
    let window = window(&args.common, &ctx.tz)?;
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
    };
    let mut report = attacks::compute(&store.conn, codes, &window, &opts)?;
    for row in &mut report.unknown_codes {
        row.message = crate::report::vendor_message(&store.conn, row.code)?.unwrap_or_default();
    }
    let doc = attacks::document(&report, &window);
    Ok((doc, report.spikes))
}

fn emit_report(doc: &Document, args: &ReportArgs, db: &Path) -> Result<(), Failure> {
    emit(
        doc,
        args.format,
        args.output.as_deref(),
        args.table.as_deref(),
        db,
        args.raw_cells,
    )
}

/// Runs `liveaudit report billing`.
pub(crate) fn report_billing(
    global: &GlobalArgs,
    args: &BillingArgs,
) -> Result<ExitStatus, Failure> {
    let ctx = report_store(global, args.common.tz.as_deref())?;
    emit_report(
        &billing_document(&ctx, args)?,
        &args.common,
        ctx.store.path(),
    )?;
    Ok(ExitStatus::Ok)
}

/// Runs `liveaudit report attacks`.
pub(crate) fn report_attacks(
    global: &GlobalArgs,
    args: &AttacksArgs,
) -> Result<ExitStatus, Failure> {
    let ctx = report_store(global, args.common.tz.as_deref())?;
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
    emit_report(&doc, &args.common, ctx.store.path())?;
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
