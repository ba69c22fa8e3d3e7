//! `liveaudit checks`: the checks behind a report's number, with the reports' own cuts.
//!
//! Policy: the flags become a report window (zone, dates, dating basis, account: the same
//! [`Scope`] and [`Window`] every report uses) and a [`CheckFilter`]; every value is checked
//! here, before the database is read, and a wrong one names the flag and what it accepts.

use anyhow::anyhow;

use super::report::report_context;
use crate::check::{Class, Period};
use crate::cli::{ChecksArgs, ClassArg, GlobalArgs};
use crate::codes::Category;
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::output::emit;
use crate::report::checks::{CheckFilter, document, list};

fn class(arg: ClassArg) -> Class {
    match arg {
        ClassArg::Charged => Class::Charged,
        ClassArg::Uncharged => Class::Uncharged,
        ClassArg::Provisional => Class::Provisional,
        ClassArg::UnknownCode => Class::UnknownCode,
        ClassArg::Unresolved => Class::Unresolved,
    }
}

/// The filter of the flags, each value checked.
fn filter(args: &ChecksArgs) -> Result<CheckFilter, Failure> {
    let category = args
        .category
        .as_deref()
        .map(|c| {
            Category::from_name(c.trim()).ok_or_else(|| {
                Failure::usage(anyhow!(
                    "--category {:?} is not a category of the code table; use one of: success, \
                     attack, error, account, request_error, unknown",
                    crate::text::escape(c)
                ))
            })
        })
        .transpose()?;
    let attrs = args
        .attr
        .iter()
        .map(|a| match a.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
            _ => Err(Failure::usage(anyhow!(
                "--attr {:?} is not NAME=VALUE (an input column and its value, e.g. \
                 channel=web)",
                crate::text::escape(a)
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if args.no_attr.iter().any(|n| n.is_empty()) {
        return Err(Failure::usage(anyhow!(
            "--no-attr needs the name of an input column (e.g. channel)"
        )));
    }
    let face = args
        .face
        .as_deref()
        .map(|f| {
            let f = f.trim().to_ascii_lowercase();
            if f.is_empty() || f.len() > 64 || !f.chars().all(|c| c.is_ascii_hexdigit()) {
                Err(Failure::usage(anyhow!(
                    "--face {:?} is not the start of a SHA-256 digest; give 1 to 64 hex digits \
                     (the reports print 16)",
                    crate::text::escape(&f)
                )))
            } else {
                Ok(f)
            }
        })
        .transpose()?;
    if args.limit == Some(0) {
        return Err(Failure::usage(anyhow!("--limit must be at least 1")));
    }
    Ok(CheckFilter {
        undated: args.undated,
        codes: args.code.clone(),
        family: args.family.as_ref().map(|f| f.trim().to_string()),
        category,
        class: args.class.map(class),
        attrs,
        without: args.no_attr.clone(),
        face,
        limit: args.limit,
    })
}

/// Runs `liveaudit checks`.
pub(crate) fn checks(global: &GlobalArgs, args: &ChecksArgs) -> Result<ExitStatus, Failure> {
    let filter = filter(args)?;
    let ctx = report_context(global, args.tz.as_deref(), None)?;
    let scope = ctx.scope(args.account.as_deref(), args.tz.as_deref())?;
    let dates = (args.from.as_deref(), args.to.as_deref());
    let window = scope.window(Period::Day, dates, args.date_by.into())?;
    let listing = list(&ctx.store.conn, &ctx.codes, &window, &filter)?;
    emit(
        &document(&listing, &window),
        args.format.map(Into::into),
        args.output.as_deref(),
        (None, None),
        ctx.store.path(),
        args.raw_cells,
    )?;
    Ok(ExitStatus::Ok)
}
