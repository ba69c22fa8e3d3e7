//! Where a command's result goes, and in what shape.
//!
//! Policy: `--output` is never the database; a file is staged and renamed into place only when
//! complete; a closed pipe ends the command quietly with status 0; a report's cells are escaped
//! for a terminal and neutralised against spreadsheet formulas in CSV unless `--raw-cells`.
//! A path that is not a regular file (a FIFO, a character device such as `/dev/null`, or a
//! symlink to one) is written in place, never replaced by a regular file; a symlink to a regular
//! file stays a symlink (the file it points to is replaced). A FIFO is opened without blocking:
//! with no reader within [`FIFO_WAIT`] the write fails naming the path, so no command hangs on a
//! FIFO nobody reads. The same rules hold for `--output` and for a fetch's run files
//! (`--summary-file`, `--metrics-file`, [`write_run_file`]).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

use crate::destination::{
    is_special, new_file_permissions, open_special, parent_dir, resolved, set_blocking,
};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::report::render::{Document, Format, Section, render};
use crate::setting::Setting;

/// Where a command's result goes: stdout, or `--output` written to a temporary file in the same
/// directory and renamed over the path only when complete, so a full disk or a crash never
/// leaves half a file in place of the old one. A path that is not a regular file (a FIFO,
/// `/dev/stdout`) is written directly.
pub(crate) enum Output {
    Stdout(std::io::BufWriter<std::io::StdoutLock<'static>>),
    Direct(std::io::BufWriter<std::fs::File>),
    Staged {
        file: std::io::BufWriter<tempfile::NamedTempFile>,
        dest: PathBuf,
    },
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::Direct(w) => w.write(buf),
            Output::Staged { file, .. } => file.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::Direct(w) => w.flush(),
            Output::Staged { file, .. } => file.flush(),
        }
    }
}

impl Output {
    /// The output as a writer that may be sent to another thread (a workbook is zipped so).
    pub(crate) fn send_writer(&mut self) -> Box<dyn Write + Send + '_> {
        match self {
            Output::Stdout(_) => Box::new(std::io::stdout()),
            Output::Direct(w) => Box::new(w),
            Output::Staged { file, .. } => Box::new(file),
        }
    }

    /// Flushes, and puts a staged file in place.
    pub(crate) fn finish(self) -> std::io::Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush(),
            Output::Direct(mut w) => w.flush(),
            Output::Staged { file, dest } => {
                let tmp = file.into_inner().map_err(|e| e.into_error())?;
                // The new file keeps the old one's permissions; a new file is readable like any
                // report (the temporary file starts private).
                let permissions = match std::fs::metadata(&dest) {
                    Ok(old) => Some(old.permissions()),
                    Err(_) => new_file_permissions(),
                };
                if let Some(p) = permissions {
                    tmp.as_file().set_permissions(p)?;
                }
                tmp.as_file().sync_all()?;
                tmp.persist(&dest).map_err(|e| e.error)?;
                Ok(())
            }
        }
    }
}

/// Opens `path` for writing (never the database `db` or its WAL), or stdout.
pub(crate) fn output(path: Option<&Path>, db: Option<&Path>) -> Result<Output, Failure> {
    let Some(p) = path else {
        return Ok(Output::Stdout(std::io::BufWriter::new(
            std::io::stdout().lock(),
        )));
    };
    if let Some(db) = db {
        crate::store::refuse_output_on_database(Setting::Output.flag(), p, db)?;
    }
    let creating = |e: std::io::Error| {
        Failure::usage(anyhow::Error::new(e).context(format!("creating {}", p.display())))
    };
    let dest = resolved(p);
    if is_special(&dest) {
        let f = open_special(&dest).map_err(creating)?;
        // A report may be larger than a pipe's buffer: once a reader is there, writes wait for it.
        set_blocking(&f).map_err(creating)?;
        return Ok(Output::Direct(std::io::BufWriter::new(f)));
    }
    let tmp = tempfile::Builder::new()
        .prefix(".liveaudit-output-")
        .tempfile_in(parent_dir(&dest))
        .map_err(creating)?;
    Ok(Output::Staged {
        file: std::io::BufWriter::new(tmp),
        dest,
    })
}

pub(crate) fn write_failure(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        // `liveaudit export | head` is normal use, not an error worth a message; still exit 0.
        return Failure {
            status: ExitStatus::Ok,
            error: anyhow!("output closed early"),
        };
    }
    Failure::internal(anyhow::Error::new(e).context("writing the output"))
}

/// The format of a report: `--format`, else the output file's extension, else a table on a
/// terminal and CSV otherwise. A file is never written in a format its name does not say: an
/// extension naming another format than `--format`, or (without `--format`) one liveaudit cannot
/// write, is refused (exit 2); `.txt` takes any text format (a table by default).
pub(crate) fn report_format(
    format: Option<Format>,
    output: Option<&Path>,
) -> Result<Format, Failure> {
    let ext = output
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let by_name = match ext.as_deref() {
        None | Some("txt") => None,
        Some("html" | "htm") => Some(Format::Html),
        Some("json") => Some(Format::Json),
        Some("md" | "markdown") => Some(Format::Markdown),
        Some("csv") => Some(Format::Csv),
        Some("xlsx") => Some(Format::Xlsx),
        Some(other) if format.is_none() => {
            return Err(Failure::usage(anyhow!(
                "{} {}: liveaudit cannot write .{other} files; name the file .csv, .xlsx, \
                 .json, .md, .html or .txt, or give {}",
                Setting::Output,
                output.map(|p| p.display().to_string()).unwrap_or_default(),
                Setting::Format
            )));
        }
        Some(_) => None,
    };
    let name = |f: Format| format!("{f:?}").to_lowercase();
    let chosen = match (format, by_name) {
        (Some(f), Some(n)) if f != n => {
            return Err(Failure::usage(anyhow!(
                "{output_flag} {} names a {} file but {format_flag} is {}; make them agree",
                output.map(|p| p.display().to_string()).unwrap_or_default(),
                name(n),
                name(f),
                output_flag = Setting::Output,
                format_flag = Setting::Format
            )));
        }
        (Some(f), _) => f,
        (None, Some(n)) => n,
        (None, None) if ext.as_deref() == Some("txt") => Format::Table,
        (None, None) if output.is_none() && std::io::stdout().is_terminal() => Format::Table,
        (None, None) => Format::Csv,
    };
    if chosen == Format::Xlsx && ext.as_deref() == Some("txt") {
        return Err(Failure::usage(anyhow!(
            "{format_flag} xlsx writes a workbook: name the file .xlsx",
            format_flag = Setting::Format
        )));
    }
    if chosen == Format::Xlsx && output.is_none() && std::io::stdout().is_terminal() {
        return Err(Failure::usage(anyhow!(
            "{format_flag} xlsx writes a binary workbook: give {output_flag} FILE.xlsx",
            format_flag = Setting::Format,
            output_flag = Setting::Output
        )));
    }
    Ok(chosen)
}

/// Writes a report: one format to stdout or a file; CSV is one table (`--table`, else `lead`:
/// the one the report's flags ask for, else the first; stderr names it and the others), or
/// every table as `DIR/NAME.csv` when the output is a directory.
pub(crate) fn emit(
    doc: &Document,
    format: Option<Format>,
    output_path: Option<&Path>,
    (table, lead): (Option<&str>, Option<&str>),
    db: &Path,
    raw_cells: bool,
) -> Result<(), Failure> {
    // The worst mistake is named first: an output that is the database itself.
    if let Some(p) = output_path {
        crate::store::refuse_output_on_database(Setting::Output.flag(), p, db)?;
    }
    let is_dir =
        output_path.is_some_and(|p| p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/'));
    let format = match (format, is_dir) {
        (None, true) => Format::Csv,
        _ => report_format(format, output_path)?,
    };
    let to_terminal = output_path.is_none() && std::io::stdout().is_terminal();
    let doc = &output_safe(doc, format, to_terminal, raw_cells);
    if table.is_some() && format != Format::Csv {
        return Err(Failure::usage(anyhow!(
            "{table_flag} chooses a table of {format_flag} csv",
            table_flag = Setting::Table,
            format_flag = Setting::Format
        )));
    }
    if let Some(dir) = output_path.filter(|_| is_dir) {
        return write_directory(doc, dir, format, table, db);
    }
    let mut out = output(output_path, Some(db))?;
    match (format, table) {
        (Format::Csv, Some(key)) => {
            crate::report::render::render_csv(chosen_table(doc, key)?, &mut out)
        }
        (Format::Csv, None) => match lead_table(doc, lead) {
            Some(s) => {
                name_the_table(doc, s);
                crate::report::render::render_csv(s, &mut out)
            }
            None => Ok(()),
        },
        _ => render(doc, format, &mut out),
    }
    .and_then(|()| out.finish())
    .map_err(write_failure)
}

/// The table `--table` names, or why the report has none of that name.
fn chosen_table<'d>(doc: &'d Document, key: &str) -> Result<&'d Section, Failure> {
    doc.table(key).ok_or_else(|| match doc.flag_for(key) {
        Some(flag) => Failure::usage(anyhow!(
            "{table_flag} {key:?} is a table of this report only with {flag}: add {flag}, or \
             choose one of: {}",
            doc.keys().join(", "),
            table_flag = Setting::Table
        )),
        None => Failure::usage(anyhow!(
            "{table_flag} {key:?} is not a table of this report; choose one of: {}",
            doc.keys().join(", "),
            table_flag = Setting::Table
        )),
    })
}

/// Every table (or the one `--table` names) as `DIR/NAME.csv`: CSV only.
fn write_directory(
    doc: &Document,
    dir: &Path,
    format: Format,
    table: Option<&str>,
    db: &Path,
) -> Result<(), Failure> {
    if format != Format::Csv {
        return Err(Failure::usage(anyhow!(
            "{output_flag} {} is a directory: only {format_flag} csv writes one file per table",
            dir.display(),
            output_flag = Setting::Output,
            format_flag = Setting::Format
        )));
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating {}", dir.display()))
        .map_err(Failure::internal)?;
    let sections: Vec<&Section> = match table {
        Some(key) => vec![chosen_table(doc, key)?],
        None => doc.sections.iter().collect(),
    };
    for s in sections {
        let path = dir.join(format!("{}.csv", s.key));
        let mut out = output(Some(&path), Some(db))?;
        crate::report::render::render_csv(s, &mut out)
            .and_then(|()| out.finish())
            .map_err(write_failure)?;
    }
    Ok(())
}

/// The one table CSV writes without `--table`: `lead` when the report has it, else the first.
fn lead_table<'a>(doc: &'a Document, lead: Option<&str>) -> Option<&'a Section> {
    lead.and_then(|k| doc.table(k))
        .or_else(|| doc.sections.first())
}

/// Says on stderr which table a CSV output holds and how to get the others.
fn name_the_table(doc: &Document, written: &Section) {
    let others: Vec<&str> = doc
        .keys()
        .into_iter()
        .filter(|k| *k != written.key)
        .collect();
    if others.is_empty() {
        tracing::info!("wrote the {} table", written.key);
    } else {
        tracing::info!(
            "wrote the {} table; the others ({}): {table_flag} NAME, or -o DIR/ for every one",
            written.key,
            others.join(", "),
            table_flag = Setting::Table
        );
    }
}

/// The document as it may leave the program: text cells of a table, Markdown, or anything
/// shown on a terminal, and HTML, have their control characters escaped; CSV cells (the people's
/// table and the machine table alike) are neutralised against spreadsheet formulas unless
/// `raw_cells`.
pub(crate) fn output_safe(
    doc: &Document,
    format: Format,
    to_terminal: bool,
    raw_cells: bool,
) -> Document {
    let escape = to_terminal || matches!(format, Format::Table | Format::Markdown | Format::Html);
    let guard = crate::text::CellGuard::new(format == Format::Csv, raw_cells);
    let fix = |s: &String| -> String {
        let s = if escape {
            crate::text::escape(s).into_owned()
        } else {
            s.clone()
        };
        guard.apply(&s).into_owned()
    };
    let mut safe = doc.laid_out().into_owned();
    safe.title = fix(&safe.title);
    safe.summary = safe.summary.iter().map(fix).collect();
    for section in &mut safe.sections {
        section.title = fix(&section.title);
        section.headers = section.headers.iter().map(fix).collect();
        section.notes = section.notes.iter().map(fix).collect();
        for row in &mut section.rows {
            *row = row.iter().map(fix).collect();
        }
        for title in section.titles.iter_mut().flatten() {
            *title = fix(title);
        }
        if let Some((headers, rows)) = &mut section.machine {
            *headers = headers.iter().map(fix).collect();
            for row in rows {
                *row = row.iter().map(fix).collect();
            }
        }
    }
    safe
}
