//! `liveaudit codes`: the code table in force (built-in plus `--codes-file`).
//!
//! Policy: the CSV output has the columns of a codes file, so it can be edited and fed back.

use std::io::IsTerminal;

use anyhow::anyhow;

use super::{code_table, layers};
use crate::cli::{CodesArgs, GlobalArgs, VendorArgs};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::output::{output, output_safe, report_format, write_failure};
use crate::report::render::{Document, Format, Section, render};

/// Runs `liveaudit codes`.
pub(crate) fn codes(global: &GlobalArgs, args: &CodesArgs) -> Result<ExitStatus, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    let table = code_table(&layers)?;
    let mut section = Section::new(
        "Codes",
        &["code", "message", "charged", "category", "family", "source"],
    );
    for c in table.iter() {
        section.row(vec![
            c.code.to_string(),
            c.message.clone(),
            match c.charged {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown",
            }
            .into(),
            c.category.to_string(),
            c.family.clone().unwrap_or_default(),
            c.source.clone(),
        ]);
    }
    let format = report_format(args.format.map(Into::into), None)?;
    let doc = Document {
        title: "liveaudit code table".into(),
        summary: Vec::new(),
        sections: vec![section],
        charts: Vec::new(),
        json: serde_json::to_value(table.iter().collect::<Vec<_>>()).unwrap_or_default(),
        money: None,
        flagged: Vec::new(),
    };
    // User code files are outside text: escaped for a terminal like any report.
    let doc = output_safe(&doc, format, std::io::stdout().is_terminal(), true);
    let mut out = output(None, None)?;
    if format == Format::Csv {
        // The same columns as codes.csv, so the output can be edited and fed back.
        let mut w = csv::Writer::from_writer(&mut out);
        let rows = doc.sections[0].rows.iter();
        w.write_record(&doc.sections[0].headers)
            .map_err(|e| Failure::internal(anyhow!(e)))?;
        for r in rows {
            w.write_record(r)
                .map_err(|e| Failure::internal(anyhow!(e)))?;
        }
        w.flush().map_err(write_failure)?;
    } else {
        render(&doc, format, &mut out).map_err(write_failure)?;
    }
    out.finish().map_err(write_failure)?;
    Ok(ExitStatus::Ok)
}
