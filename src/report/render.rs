//! Renderers shared by every report: aligned text tables, CSV, JSON, Markdown and one
//! self-contained HTML page with SVG charts.
//!
//! - [`Document`]: what a report produces: titled [`Section`]s of cells, notes, [`Chart`]s, and
//!   the JSON value machines read (its keys are the report's documented contract).
//! - [`render`]: writes a document in one [`Format`] (`xlsx` by [`xlsx`], `html` by
//!   [`html`]).
//! - [`grid`]: a section's one table as typed cells, laid out here for people or machines.
//!
//! Policy: the numbers are computed once, by the report; renderers only lay them out. On a
//! terminal no word is ever broken across lines: a table wraps its text at spaces, or, when its
//! longest words cannot sit side by side, is shown expanded, one block per row. The HTML
//! page loads nothing from the network (no CDN, fonts or scripts) and prints cleanly to PDF.
//! CSV is one tidy table per file (one header row; plain numbers, shares as fractions, no `%`
//! or glyphs), so spreadsheets and databases load it: the section is chosen by its key
//! (`--table`), or every section is written to its own `KEY.csv` (`--output DIR/`).

use std::io::Write;

use comfy_table::{
    Cell, CellAlignment, ColumnConstraint, ContentArrangement, LineStyle, Table, TableStyle, Width,
};
use serde::Serialize;

use crate::setting::Setting;

pub(crate) mod grid;
mod html;
pub(crate) mod xlsx;
use html::render_html;

/// Output formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    Table,
    Csv,
    Json,
    Markdown,
    Html,
    /// An Excel workbook, one sheet per table.
    Xlsx,
}

/// One table of a report.
#[derive(Debug, Clone, Default)]
pub(crate) struct Section {
    /// Its name for `--table` and the file name under `--output DIR/` (`totals`, `periods`...).
    pub key: String,
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Lines printed under the table (rules, bases, caveats).
    pub notes: Vec<String>,
    /// The table for machines (CSV), when the one for people has `%`, glyphs or words in its
    /// numbers: plain numbers, shares as fractions.
    pub machine: Option<(Vec<String>, Vec<Vec<String>>)>,
    /// The machine table's columns that hold money (a currency format in a workbook).
    pub money: Vec<String>,
    /// Per row of the people's table, a line shown on hover in HTML (the `liveaudit checks`
    /// command of its checks); empty when no row has one.
    pub titles: Vec<Option<String>>,
    /// Per row, an image (`data:` URI) HTML shows in a first column; empty when none has one.
    pub images: Vec<Option<String>>,
    /// The section's one table as typed cells, when it is built so: the renderer lays it out
    /// as `headers`/`rows` and `machine` ([`Section::laid_out`]).
    pub grid: Option<grid::Grid>,
}

impl Section {
    pub(crate) fn new(title: impl Into<String>, headers: &[&str]) -> Section {
        let title = title.into();
        Section {
            key: title.to_lowercase().replace([' ', '-'], "_"),
            title,
            headers: headers.iter().map(|h| (*h).to_string()).collect(),
            ..Section::default()
        }
    }

    /// The same section with money in the machine table's columns `columns`.
    pub(crate) fn with_money(mut self, columns: &[&str]) -> Section {
        self.money = columns.iter().map(|c| (*c).to_string()).collect();
        self
    }

    /// The same section under the key `key`.
    pub(crate) fn keyed(mut self, key: &str) -> Section {
        self.key = key.to_string();
        self
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Adds a row with its hover line (HTML's `title`), keeping titles beside their rows.
    pub(crate) fn row_titled(&mut self, cells: Vec<String>, title: Option<String>) {
        self.titles.resize(self.rows.len(), None);
        self.titles.push(title);
        self.rows.push(cells);
    }

    /// The same section with a machine table of the columns `headers` (snake_case), declared
    /// up front so an empty table still has the machine header.
    pub(crate) fn with_machine(mut self, headers: &[&str]) -> Section {
        self.machine = Some((headers.iter().map(|h| (*h).to_string()).collect(), vec![]));
        self
    }

    /// Adds a row to the machine table with `headers` (created on first use).
    pub(crate) fn machine_row(&mut self, headers: &[&str], cells: Vec<String>) {
        let (_, rows) = self
            .machine
            .get_or_insert_with(|| (headers.iter().map(|h| (*h).to_string()).collect(), vec![]));
        rows.push(cells);
    }

    /// The header and rows CSV writes.
    pub(crate) fn machine_table(&self) -> (&[String], &[Vec<String>]) {
        match &self.machine {
            Some((h, r)) => (h, r),
            None => (&self.headers, &self.rows),
        }
    }
}

/// A share for machines: a fraction with full precision, empty when not defined.
pub(crate) fn fraction(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// A chart for the HTML page: stacked bars, one bar per label, and maybe a share drawn over
/// them as a line on its own axis.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    pub title: String,
    /// A share per label, drawn as a line (right axis) with its interval as a band.
    pub share: Option<ShareLine>,
    pub labels: Vec<String>,
    /// (series name, one value per label, CSS colour)
    pub series: Vec<(String, Vec<f64>, &'static str)>,
}

/// A share over the bars of a [`Chart`]: one value (a fraction) per label, `None` where it is
/// not defined (no checks), with the interval's ends.
#[derive(Debug, Clone)]
pub(crate) struct ShareLine {
    pub name: String,
    pub values: Vec<Option<f64>>,
    pub low: Vec<Option<f64>>,
    pub high: Vec<Option<f64>>,
    pub colour: &'static str,
}

/// A whole report.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub title: String,
    /// Lines under the title (basis, zone, filters).
    pub summary: Vec<String>,
    pub sections: Vec<Section>,
    pub charts: Vec<Chart>,
    pub json: serde_json::Value,
    /// The currency and scale of its amounts, when it has any.
    pub money: Option<crate::money::Money>,
    /// Tables the report adds only when given a setting, with that setting and its value's
    /// name (`("tiers", Setting::Prices, " FILE")`), so `--table` asking for one that is
    /// absent says which flag adds it.
    pub flagged: Vec<(&'static str, Setting, &'static str)>,
}

impl Document {
    /// The keys of its sections, for `--table`.
    pub(crate) fn keys(&self) -> Vec<&str> {
        self.sections.iter().map(|s| s.key.as_str()).collect()
    }

    /// The section named `key`.
    pub(crate) fn table(&self, key: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.key == key)
    }

    /// The document with every section's grid laid out as its two tables
    /// ([`Section::laid_out`]), as the renderers read them.
    pub(crate) fn laid_out(&self) -> std::borrow::Cow<'_, Document> {
        if self.sections.iter().all(|s| s.grid.is_none()) {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut doc = self.clone();
        for section in &mut doc.sections {
            *section = section.laid_out().into_owned();
        }
        std::borrow::Cow::Owned(doc)
    }

    /// The flag that adds the table `key` to this report, when it is absent for want of one.
    pub(crate) fn flag_for(&self, key: &str) -> Option<String> {
        self.flagged
            .iter()
            .find(|(k, _, _)| *k == key && self.table(key).is_none())
            .map(|(_, setting, value)| format!("{setting}{value}"))
    }
}

/// Writes `doc` as `format`; CSV writes its first section (see [`render_csv`]).
pub(crate) fn render(doc: &Document, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    let doc = &*doc.laid_out();
    match format {
        Format::Table => render_table(doc, terminal_width(), out),
        Format::Csv => match doc.sections.first() {
            Some(s) => render_csv(s, out),
            None => Ok(()),
        },
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &doc.json)?;
            writeln!(out)
        }
        Format::Markdown => render_markdown(doc, out),
        Format::Html => out.write_all(render_html(doc).as_bytes()),
        Format::Xlsx => out.write_all(&xlsx::workbook(doc).map_err(std::io::Error::other)?),
    }
}

fn is_numeric(cell: &str) -> bool {
    let t = cell.trim_end_matches('%').trim_start_matches(['+', '-']);
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
}

/// The width tables and notes wrap to: `COLUMNS` if set, else the terminal's own width (at least
/// 40); `None` in a file or a pipe, where every row stays on one line.
fn terminal_width() -> Option<u16> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let cols = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(|| terminal_size::terminal_size().map(|(w, _)| w.0));
    Some(cols.unwrap_or(100).max(40))
}

/// `text` broken at spaces into lines of at most `width` characters (a longer word keeps its
/// own line).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The narrowest a column may be: its longest word (a number, amount, date, period, code, id or
/// any other word), so no word is ever broken across lines; only text wraps, at spaces.
fn longest_word(section: &Section, column: usize) -> u16 {
    let widest = section
        .rows
        .iter()
        .filter_map(|row| row.get(column))
        .flat_map(|cell| cell.split_whitespace())
        .map(|word| word.chars().count())
        .max();
    u16::try_from(widest.unwrap_or(0)).unwrap_or(u16::MAX)
}

/// Fits a table to a terminal `width` wide, if it can: every column at least as wide as its
/// longest word and its header's longest word, text wrapping at spaces in what is left. A table
/// that cannot fit so is not squeezed into broken words (`che/cks`, `-3./9 pp`) nor left
/// wider than the terminal: it is shown expanded ([`write_expanded`]). Returns whether it fits.
fn fit_columns(table: &mut Table, section: &Section, width: u16) -> bool {
    let padding: u16 = table.column_iter().map(|c| c.padding_width() + 1).sum();
    let bounds: Vec<u16> = (0..section.headers.len())
        .map(|i| longest_word(section, i).max(header_word_width(&section.headers[i])))
        .collect();
    if bounds.iter().sum::<u16>().saturating_add(padding) > width {
        return false;
    }
    for (column, words) in table.column_iter_mut().zip(bounds) {
        if words > 0 {
            // The bound counts the column's padding.
            let bound = words.saturating_add(column.padding_width());
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(bound)));
        }
    }
    true
}

/// A table too wide for the terminal, one block per row (as `psql`'s expanded display): each
/// column's header, then its value wrapped at spaces to the width left (a word longer than that
/// keeps its own line, whole); blocks apart by a short rule.
fn write_expanded(out: &mut dyn Write, section: &Section, width: u16) -> std::io::Result<()> {
    let label = section
        .headers
        .iter()
        .map(|h| h.chars().count())
        .max()
        .unwrap_or(0);
    let room = usize::from(width).saturating_sub(label + 3).max(10);
    for (i, row) in section.rows.iter().enumerate() {
        if i > 0 {
            writeln!(out, " {}", "─".repeat(label.min(usize::from(width)).max(3)))?;
        }
        for (header, cell) in section.headers.iter().zip(row) {
            for (n, line) in wrap(cell, room).iter().enumerate() {
                let shown = if n == 0 { header.as_str() } else { "" };
                writeln!(out, " {shown:<label$}  {line}")?;
            }
        }
    }
    Ok(())
}

/// The longest word of a column's header.
fn header_word_width(header: &str) -> u16 {
    let widest = header.split_whitespace().map(|w| w.chars().count()).max();
    u16::try_from(widest.unwrap_or(0)).unwrap_or(u16::MAX)
}

/// A comfy-table preset: one rule under the header, nothing else (dense and greppable).
const HEADER_RULE_ONLY: TableStyle =
    TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─'));

/// Writes `text` indented by two spaces, wrapped at spaces to `width` columns in all (a
/// terminal), or on one line (`None`: a file or a pipe).
fn write_indented(out: &mut dyn Write, text: &str, width: Option<u16>) -> std::io::Result<()> {
    match width {
        Some(width) => {
            for line in wrap(text, usize::from(width).saturating_sub(2)) {
                writeln!(out, "  {line}")?;
            }
            Ok(())
        }
        None => writeln!(out, "  {text}"),
    }
}

/// The table format; `width` is the terminal's (see [`terminal_width`]): tables, the lines
/// under the title and the notes under each table wrap to it.
fn render_table(doc: &Document, width: Option<u16>, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{}", doc.title)?;
    for line in &doc.summary {
        write_indented(out, line, width)?;
    }
    for section in &doc.sections {
        writeln!(out)?;
        writeln!(out, "{}", section.title)?;
        if section.rows.is_empty() {
            writeln!(out, "  (none)")?;
        } else {
            let mut table = Table::new();
            table
                .load_style(HEADER_RULE_ONLY)
                .set_header(section.headers.iter().map(Cell::new));
            // Wrap to the terminal; in a file or a pipe, keep every row on one line.
            match width {
                Some(width) => {
                    table
                        .set_content_arrangement(ContentArrangement::Dynamic)
                        .set_width(width);
                }
                None => {
                    table.set_content_arrangement(ContentArrangement::Disabled);
                }
            }
            for row in &section.rows {
                table.add_row(row.iter().map(|c| {
                    let cell = Cell::new(c);
                    if is_numeric(c) {
                        cell.set_alignment(CellAlignment::Right)
                    } else {
                        cell
                    }
                }));
            }
            match width {
                Some(width) if !fit_columns(&mut table, section, width) => {
                    write_expanded(out, section, width)?;
                }
                _ => writeln!(out, "{table}")?,
            }
        }
        for note in &section.notes {
            write_indented(out, note, width)?;
        }
    }
    Ok(())
}

/// Writes one section as one tidy CSV table: its header, then its machine rows.
pub(crate) fn render_csv(section: &Section, out: &mut dyn Write) -> std::io::Result<()> {
    // The writer's own I/O error as it is, so a closed pipe (`| head`) still reads as one.
    let io = |e: csv::Error| match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    };
    let mut w = csv::Writer::from_writer(&mut *out);
    let section = section.laid_out();
    let (headers, rows) = section.machine_table();
    w.write_record(headers).map_err(io)?;
    for row in rows {
        w.write_record(row).map_err(io)?;
    }
    w.flush()
}

/// A cell as Markdown text: `|` would end the cell, a newline the row, and `<`/`>` make raw
/// HTML that Markdown viewers render (an input column holding `<script>` or `<img src=...>`);
/// each is written so it shows as itself.
fn md_escape(cell: &str) -> String {
    cell.replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn render_markdown(doc: &Document, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "## {}\n", md_escape(&doc.title))?;
    for line in &doc.summary {
        writeln!(out, "- {}", md_escape(line))?;
    }
    for section in &doc.sections {
        writeln!(out, "\n### {}\n", md_escape(&section.title))?;
        if section.rows.is_empty() {
            writeln!(out, "(none)")?;
        } else {
            writeln!(
                out,
                "| {} |",
                section
                    .headers
                    .iter()
                    .map(|h| md_escape(h))
                    .collect::<Vec<_>>()
                    .join(" | ")
            )?;
            let aligns: Vec<&str> = (0..section.headers.len())
                .map(|i| {
                    if section
                        .rows
                        .iter()
                        .all(|r| r.get(i).is_none_or(|c| is_numeric(c) || c.is_empty()))
                    {
                        "---:"
                    } else {
                        "---"
                    }
                })
                .collect();
            writeln!(out, "| {} |", aligns.join(" | "))?;
            for row in &section.rows {
                writeln!(
                    out,
                    "| {} |",
                    row.iter()
                        .map(|c| md_escape(c))
                        .collect::<Vec<_>>()
                        .join(" | ")
                )?;
            }
        }
        for note in &section.notes {
            writeln!(out, "\n_{}_", md_escape(note))?;
        }
    }
    Ok(())
}

/// A one-line trend of `values` with block characters (empty input gives an empty string).
pub(crate) fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().fold(0.0, f64::max);
    values
        .iter()
        .map(|&v| {
            if max <= 0.0 {
                BARS[0]
            } else {
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
