//! Renderers shared by every report: aligned text tables, CSV, JSON, Markdown and one
//! self-contained HTML page with SVG charts.
//!
//! - [`Document`]: what a report produces: titled [`Section`]s of cells, notes, [`Chart`]s, and
//!   the JSON value machines read (its keys are the report's documented contract).
//! - [`render`]: writes a document in one [`Format`] (`xlsx` by [`super::xlsx`]).
//!
//! Policy: the numbers are computed once, by the report; renderers only lay them out. The HTML
//! page loads nothing from the network (no CDN, fonts or scripts) and prints cleanly to PDF.
//! CSV is one tidy table per file (one header row; plain numbers, shares as fractions, no `%`
//! or glyphs), so spreadsheets and databases load it: the section is chosen by its key
//! (`--table`), or every section is written to its own `KEY.csv` (`--output DIR/`).

use std::fmt::Write as _;
use std::io::Write;

use comfy_table::{Cell, CellAlignment, ContentArrangement, LineStyle, Table, TableStyle};
use serde::Serialize;

/// Output formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
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
    pub tidy: Option<(Vec<String>, Vec<Vec<String>>)>,
    /// The machine table's columns that hold money (a currency format in a workbook).
    pub money: Vec<String>,
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

    /// The same section with a machine table of the columns `headers` (snake_case), declared
    /// up front so an empty table still has the machine header.
    pub(crate) fn with_machine(mut self, headers: &[&str]) -> Section {
        self.tidy = Some((headers.iter().map(|h| (*h).to_string()).collect(), vec![]));
        self
    }

    /// Adds a row to the machine table with `headers` (created on first use).
    pub(crate) fn tidy_row(&mut self, headers: &[&str], cells: Vec<String>) {
        let (_, rows) = self
            .tidy
            .get_or_insert_with(|| (headers.iter().map(|h| (*h).to_string()).collect(), vec![]));
        rows.push(cells);
    }

    /// The header and rows CSV writes.
    pub(crate) fn machine(&self) -> (&[String], &[Vec<String>]) {
        match &self.tidy {
            Some((h, r)) => (h, r),
            None => (&self.headers, &self.rows),
        }
    }
}

/// A share for machines: a fraction with full precision, empty when not defined.
pub(crate) fn fraction(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// A chart for the HTML page: stacked bars, one bar per label.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    pub title: String,
    pub labels: Vec<String>,
    /// (series name, one value per label, CSS colour)
    pub series: Vec<(String, Vec<f64>, &'static str)>,
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
    pub money: Option<super::xlsx::Money>,
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
}

/// Writes `doc` as `format`; CSV writes its first section (see [`render_csv`]).
pub(crate) fn render(doc: &Document, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
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
        Format::Xlsx => out.write_all(&super::xlsx::workbook(doc).map_err(std::io::Error::other)?),
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
            writeln!(out, "{table}")?;
        }
        for note in &section.notes {
            write_indented(out, note, width)?;
        }
    }
    Ok(())
}

/// Writes one section as one tidy CSV table: its header, then its machine rows.
pub(crate) fn render_csv(section: &Section, out: &mut dyn Write) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(&mut *out);
    let (headers, rows) = section.machine();
    w.write_record(headers)?;
    for row in rows {
        w.write_record(row)?;
    }
    w.flush()
}

fn md_escape(cell: &str) -> String {
    cell.replace('|', "\\|").replace('\n', " ")
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

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

const CSS: &str = "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
th,td{padding:.25em .7em;border-bottom:1px solid #e4e4e4;text-align:left}
td.n{text-align:right}th{background:#f4f4f4}
.note{color:#555;font-size:.92em}.legend span{display:inline-block;margin-right:1em}
.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
svg{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,svg{break-inside:avoid}}";

fn render_html(doc: &Document) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><style>{CSS}</style>\
         </head><body><h1>{}</h1>",
        html_escape(&doc.title),
        html_escape(&doc.title)
    );
    if !doc.summary.is_empty() {
        h.push_str("<ul class=\"note\">");
        for line in &doc.summary {
            let _ = write!(h, "<li>{}</li>", html_escape(line));
        }
        h.push_str("</ul>");
    }
    for chart in &doc.charts {
        h.push_str(&svg_chart(chart));
    }
    for section in &doc.sections {
        let _ = write!(h, "<h2>{}</h2>", html_escape(&section.title));
        if section.rows.is_empty() {
            h.push_str("<p class=\"note\">(none)</p>");
        } else {
            h.push_str("<table><thead><tr>");
            for header in &section.headers {
                let _ = write!(h, "<th>{}</th>", html_escape(header));
            }
            h.push_str("</tr></thead><tbody>");
            for row in &section.rows {
                h.push_str("<tr>");
                for cell in row {
                    let class = if is_numeric(cell) { " class=\"n\"" } else { "" };
                    let _ = write!(h, "<td{class}>{}</td>", html_escape(cell));
                }
                h.push_str("</tr>");
            }
            h.push_str("</tbody></table>");
        }
        for note in &section.notes {
            let _ = write!(h, "<p class=\"note\">{}</p>", html_escape(note));
        }
    }
    h.push_str("</body></html>\n");
    h
}

/// A stacked bar chart as inline SVG.
fn svg_chart(chart: &Chart) -> String {
    let n = chart.labels.len().max(1);
    let (width, height, left, bottom, top) = (960.0_f64, 300.0_f64, 56.0, 60.0, 16.0);
    let plot_w = width - left - 10.0;
    let plot_h = height - bottom - top;
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            chart
                .series
                .iter()
                .map(|(_, v, _)| v.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    // Gridlines at round numbers: four steps of 1, 2, 2.5 or 5 times a power of ten.
    let step = nice_step(totals.iter().copied().fold(0.0, f64::max).max(1.0) / 4.0);
    let max = step * 4.0;
    let bar_w = plot_w / n as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<h2>{}</h2><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         role=\"img\" aria-label=\"{}\" font-size=\"11\" font-family=\"sans-serif\">",
        html_escape(&chart.title),
        html_escape(&chart.title)
    );
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let y = top + plot_h - plot_h * f64::from(k) / 4.0;
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            width - 10.0,
            left - 4.0,
            y + 4.0,
            format_axis(v)
        );
    }
    let label_every = (n / 16).max(1);
    for i in 0..n {
        let x = left + bar_w * i as f64;
        let mut y = top + plot_h;
        for (name, values, colour) in &chart.series {
            let v = values.get(i).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let h = plot_h * v / max;
            y -= h;
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{colour}\">\
                 <title>{} {}: {}</title></rect>",
                x + bar_w * 0.1,
                bar_w * 0.8,
                html_escape(chart.labels.get(i).map_or("", String::as_str)),
                html_escape(name),
                format_axis(v)
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" transform=\"rotate(-40 {:.1} {:.1})\">{}</text>",
                x + bar_w / 2.0,
                top + plot_h + 14.0,
                x + bar_w / 2.0,
                top + plot_h + 14.0,
                html_escape(chart.labels.get(i).map_or("", String::as_str))
            );
        }
    }
    s.push_str("</svg><div class=\"legend note\">");
    for (name, _, colour) in &chart.series {
        let _ = write!(
            s,
            "<span><i style=\"background:{colour}\"></i>{}</span>",
            html_escape(name)
        );
    }
    s.push_str("</div>");
    s
}

/// The smallest of 1, 2, 2.5, 5 (times a power of ten, at least 1) that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.max(1.0).log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

fn format_axis(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
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
mod tests {
    #[test]
    fn notes_wrap_at_spaces_within_the_width() {
        let lines = super::wrap("spike rule: a family fires in a period when it has", 20);
        assert_eq!(
            lines,
            ["spike rule: a family", "fires in a period", "when it has"]
        );
        assert!(lines.iter().all(|l| l.chars().count() <= 20));
        assert_eq!(
            super::wrap("averyveryverylongword x", 5),
            ["averyveryverylongword", "x"]
        );
        assert_eq!(super::wrap("", 5), [""]);
    }

    use super::*;

    #[test]
    fn summary_lines_and_notes_wrap_at_a_narrow_terminal_and_not_in_a_file() {
        let long = "periods: day in Asia/Singapore; all dates; dated by event time from the \
                    input (checks without one are undated); billed 1234 checks, net difference +3";
        let mut d = doc();
        d.summary.push(long.into());
        d.sections[0].notes.push(long.into());
        let mut out = Vec::new();
        render_table(&d, Some(60), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
        assert!(text.contains("  periods: day in Asia/Singapore;"), "{text}");
        let mut out = Vec::new();
        render_table(&d, None, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches(long).count(), 2, "{text}");
    }

    fn doc() -> Document {
        let mut s = Section::new("Totals", &["what", "count"]);
        s.row(vec!["charged".into(), "12".into()]);
        s.row(vec!["a|b <x>".into(), "3".into()]);
        s.notes.push("rule: x".into());
        let mut second = Section::new("Per code", &["code", "count", "share"]);
        second.row(vec!["200".into(), "12".into(), "80%".into()]);
        Document {
            title: "Billing".into(),
            summary: vec!["zone UTC".into()],
            sections: vec![s, second],
            charts: vec![Chart {
                title: "Chart".into(),
                labels: vec!["2024-05-01".into(), "2024-05-02".into()],
                series: vec![("charged".into(), vec![3.0, 5.0], "#36c")],
            }],
            json: serde_json::json!({"totals": {"checks": 15}}),
            money: None,
        }
    }

    fn rendered(format: Format) -> String {
        let mut out = Vec::new();
        render(&doc(), format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_format_carries_the_numbers() {
        assert_eq!(rendered(Format::Csv), "what,count\ncharged,12\na|b <x>,3\n");
        let mut tidy = doc().sections[1].clone();
        tidy.tidy_row(
            &["code", "count", "share"],
            vec!["200".into(), "12".into(), "0.8".into()],
        );
        let mut out = Vec::new();
        render_csv(&tidy, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "code,count,share\n200,12,0.8\n"
        );
        assert_eq!(doc().keys(), ["totals", "per_code"]);
        let md = rendered(Format::Markdown);
        assert!(
            md.contains("| what | count |\n| --- | ---: |\n| charged | 12 |\n| a\\|b <x> | 3 |"),
            "{md}"
        );
        let table = rendered(Format::Table);
        assert!(table.contains("charged") && table.contains("12") && table.contains("rule: x"));
        assert_eq!(
            rendered(Format::Json).trim(),
            "{\n  \"totals\": {\n    \"checks\": 15\n  }\n}"
        );
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let html = rendered(Format::Html);
        assert!(html.contains("<svg"));
        assert!(html.contains("a|b &lt;x&gt;"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("https://"), "no network references");
        assert!(!html.contains("<link"));
    }

    #[test]
    fn chart_gridlines_are_round_numbers() {
        assert_eq!(nice_step(709.0 / 4.0), 200.0);
        assert_eq!(nice_step(57.0 / 4.0), 20.0);
        assert_eq!(nice_step(0.3), 1.0);
        assert_eq!(nice_step(2.2), 2.5);
        assert_eq!(nice_step(1000.0), 1000.0);
    }

    #[test]
    fn sparkline_scales_to_the_maximum() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0]), "▁▅█");
        assert_eq!(sparkline(&[0.0, 0.0]), "▁▁");
        assert_eq!(sparkline(&[]), "");
    }
}
