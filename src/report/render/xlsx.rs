//! Excel workbooks (`--format xlsx`, or `--output FILE.xlsx`): one sheet per table of a report.
//!
//! Policy: each sheet is a section's machine table (the one CSV writes: one header row, plain
//! numbers, shares as fractions), named by its key (`totals`, `periods`, `tiers`...), with the
//! header row frozen and the columns fitted to their contents; a last sheet `about` holds the
//! title, the summary lines and every table's notes. Cells keep their types so Excel adds them up:
//! - money columns (a section's [`Section::money`]) are numbers in the currency's format at the
//!   report's money scale (`#,##0.000 "USD"`);
//! - share columns (`share`, `*_share`) are numbers formatted as percentages;
//! - a day (`2026-02-15`) is a date and an instant (`2026-02-15T12:00:00Z`, UTC) a date-time;
//! - other plain decimals are numbers, but only when nothing is lost: text that a number would
//!   change (leading zeros, more than 15 significant digits) and every identifier column
//!   (a header naming an `id`) stay text;
//! - everything else is text.
//!
//! Excel holds numbers as binary doubles: the exact decimal amounts stay in `--format json`.

use rust_decimal::Decimal;
use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook, Worksheet, XlsxError};

use super::{Document, Section};
use crate::money::Money;

/// Sheet names are at most 31 characters, without `[]:*?/\`.
fn sheet_name(key: &str) -> String {
    let name: String = key
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect();
    if name.is_empty() {
        "table".into()
    } else {
        name
    }
}

/// Whether a column holds identifiers (always text).
fn is_id_column(header: &str) -> bool {
    header
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "id" || w == "ids")
}

fn is_share_column(header: &str) -> bool {
    let h = header.to_ascii_lowercase();
    h == "share" || h.ends_with("_share") || h.ends_with(" share")
}

/// A plain decimal whose number form loses nothing of the text (a leading `+` is a sign).
fn plain_number(cell: &str) -> Option<f64> {
    let cell = cell
        .strip_prefix('+')
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(cell);
    let d: Decimal = cell.parse().ok()?;
    let digits = cell.chars().filter(char::is_ascii_digit).count();
    (d.to_string() == cell && digits <= 15)
        .then(|| cell.parse::<f64>().ok())
        .flatten()
}

/// A day `YYYY-MM-DD`, or a UTC instant `YYYY-MM-DDTHH:MM:SS[.mmm]Z`.
fn date_time(cell: &str) -> Option<(ExcelDateTime, bool)> {
    if let Ok(d) = cell.parse::<jiff::civil::Date>()
        && cell.len() == 10
    {
        let day = ExcelDateTime::from_ymd(
            u16::try_from(d.year()).ok()?,
            d.month() as u8,
            d.day() as u8,
        )
        .ok()?;
        return Some((day, false));
    }
    if !cell.ends_with('Z') || !cell.contains('T') {
        return None;
    }
    let t = cell.parse::<jiff::Timestamp>().ok()?;
    let z = t.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let dt = ExcelDateTime::from_ymd(
        u16::try_from(z.year()).ok()?,
        z.month() as u8,
        z.day() as u8,
    )
    .ok()?
    .and_hms_milli(
        z.hour() as u16,
        z.minute() as u8,
        z.second() as u8,
        z.millisecond() as u16,
    )
    .ok()?;
    Some((dt, true))
}

struct Formats {
    header: CellFormat,
    money: CellFormat,
    share: CellFormat,
    day: CellFormat,
    instant: CellFormat,
}

impl Formats {
    fn new(money: Option<&Money>) -> Formats {
        let money_format = match money {
            Some(m) => {
                let decimals = if m.scale == 0 {
                    String::new()
                } else {
                    format!(".{}", "0".repeat(m.scale as usize))
                };
                // The currency code is quoted text in the format, so any code is safe in it.
                let code: String = m.currency.chars().filter(|c| *c != '"').collect();
                format!("#,##0{decimals} \"{code}\"")
            }
            None => "#,##0.00".into(),
        };
        Formats {
            header: CellFormat::new().set_bold(),
            money: CellFormat::new().set_num_format(money_format),
            share: CellFormat::new().set_num_format("0.0%"),
            day: CellFormat::new().set_num_format("yyyy-mm-dd"),
            instant: CellFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
        }
    }
}

fn write_section(
    sheet: &mut Worksheet,
    section: &Section,
    formats: &Formats,
) -> Result<(), XlsxError> {
    let (headers, rows) = section.machine_table();
    write_header(sheet, headers, formats)?;
    for (r, row) in rows.iter().enumerate() {
        write_row(
            sheet,
            (r + 1) as u32,
            (headers, &section.money),
            row,
            formats,
        )?;
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    Ok(())
}

fn write_header(
    sheet: &mut Worksheet,
    headers: &[String],
    formats: &Formats,
) -> Result<(), XlsxError> {
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, h, &formats.header)?;
    }
    Ok(())
}

/// Row `r` of a sheet of columns `headers` (`money`: the money columns), each cell typed by the
/// module's rules.
fn write_row(
    sheet: &mut Worksheet,
    r: u32,
    (headers, money): (&[String], &[String]),
    row: &[String],
    formats: &Formats,
) -> Result<(), XlsxError> {
    for (c, cell) in row.iter().enumerate() {
        let col = c as u16;
        let header = headers.get(c).map_or("", String::as_str);
        if cell.is_empty() {
            continue;
        }
        if is_id_column(header) {
            sheet.write_string(r, col, cell)?;
        } else if let Some(n) = money
            .iter()
            .any(|m| m == header)
            .then(|| cell.parse::<f64>().ok())
            .flatten()
        {
            sheet.write_number_with_format(r, col, n, &formats.money)?;
        } else if let Some(n) = is_share_column(header)
            .then(|| cell.parse::<f64>().ok())
            .flatten()
        {
            sheet.write_number_with_format(r, col, n, &formats.share)?;
        } else if let Some(n) = plain_number(cell) {
            sheet.write_number(r, col, n)?;
        } else if let Some((dt, instant)) = date_time(cell) {
            let f = if instant {
                &formats.instant
            } else {
                &formats.day
            };
            sheet.write_datetime_with_format(r, col, &dt, f)?;
        } else {
            sheet.write_string(r, col, cell)?;
        }
    }
    Ok(())
}

/// A workbook led by a sheet too large to hold: `lead`'s columns (its key names the sheet),
/// written row by row from `rows` in rust_xlsxwriter's constant-memory mode (one row in memory
/// at a time), then `doc`'s sections and its `about` sheet as [`workbook`] writes them; saved
/// into `out` as it is zipped.
pub(crate) fn streamed_workbook(
    doc: &Document,
    lead: &Section,
    rows: &mut dyn Iterator<Item = Vec<String>>,
    out: &mut (dyn std::io::Write + Send),
) -> Result<(), XlsxError> {
    let formats = Formats::new(doc.money.as_ref());
    let mut book = Workbook::new();
    let name = sheet_name(&lead.key);
    let sheet = book.add_worksheet_with_constant_memory()?;
    sheet.set_name(&name)?;
    let (headers, _) = lead.machine_table();
    write_header(sheet, headers, &formats)?;
    for (r, row) in rows.enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| XlsxError::RowColumnLimitError)?;
        write_row(sheet, r, (headers, &lead.money), &row, &formats)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let names = add_sections(&mut book, doc, &formats, vec![name])?;
    add_about(&mut book, doc, &formats, &names)?;
    book.save_to_writer(out)
}

/// Adds a sheet per section of `doc` (names unique among `names` and each other); returns
/// every sheet name.
fn add_sections(
    book: &mut Workbook,
    doc: &Document,
    formats: &Formats,
    mut names: Vec<String>,
) -> Result<Vec<String>, XlsxError> {
    for section in &doc.sections {
        let mut name = sheet_name(&section.key);
        // Names are unique in a workbook (case-insensitively).
        while names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            name = format!("{}_", name.chars().take(30).collect::<String>());
        }
        names.push(name.clone());
        let sheet = book.add_worksheet();
        sheet.set_name(&name)?;
        write_section(sheet, section, formats)?;
    }
    Ok(names)
}

/// The `about` sheet: the title, the summary lines and every table's notes.
fn add_about(
    book: &mut Workbook,
    doc: &Document,
    formats: &Formats,
    names: &[String],
) -> Result<(), XlsxError> {
    let about = book.add_worksheet();
    about.set_name(if names.iter().any(|n| n == "about") {
        "about_report"
    } else {
        "about"
    })?;
    about.write_string_with_format(0, 0, &doc.title, &formats.header)?;
    let mut r = 1;
    for line in &doc.summary {
        about.write_string(r, 0, line)?;
        r += 1;
    }
    for section in doc.sections.iter().filter(|s| !s.notes.is_empty()) {
        r += 1;
        about.write_string_with_format(r, 0, &section.title, &formats.header)?;
        r += 1;
        for note in &section.notes {
            about.write_string(r, 0, note)?;
            r += 1;
        }
    }
    Ok(())
}

/// The workbook of `doc`, as the bytes of an `.xlsx` file.
pub(crate) fn workbook(doc: &Document) -> Result<Vec<u8>, XlsxError> {
    let formats = Formats::new(doc.money.as_ref());
    let mut book = Workbook::new();
    let names = add_sections(&mut book, doc, &formats, Vec::new())?;
    add_about(&mut book, doc, &formats, &names)?;
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_numbers_only_when_nothing_is_lost() {
        assert_eq!(plain_number("2821"), Some(2821.0));
        assert_eq!(plain_number("0.070"), Some(0.07));
        assert_eq!(plain_number("-3"), Some(-3.0));
        assert_eq!(plain_number("000123"), None);
        assert_eq!(plain_number("+1"), Some(1.0));
        assert_eq!(plain_number("+-1"), None);
        assert_eq!(plain_number("1234567890123456"), None);
        assert_eq!(plain_number("1e5"), None);
        assert_eq!(plain_number("12.5%"), None);
        assert!(is_id_column("liveness id") && is_id_column("sequence_id"));
        assert!(!is_id_column("period") && !is_id_column("paid"));
    }

    #[test]
    fn days_and_instants_are_dates() {
        assert!(matches!(date_time("2026-02-15"), Some((_, false))));
        assert!(matches!(date_time("2026-02-15T12:00:00Z"), Some((_, true))));
        assert!(matches!(
            date_time("2026-02-15T12:00:00.250Z"),
            Some((_, true))
        ));
        assert!(date_time("2026-02").is_none());
        assert!(date_time("2026-W07").is_none());
        assert!(date_time("undated").is_none());
        assert_eq!(sheet_name("a/b"), "a_b");
    }
}
