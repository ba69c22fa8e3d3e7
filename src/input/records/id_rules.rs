//! The rules an id must meet before it may reach the vendor, apart from its length and encoding.
//!
//! Policy: an id is refused (the run stops before sending) when it holds a delimiter, control,
//! invisible or whitespace character ([`id_problem`]), when its workbook cell is damaged
//! ([`cell_damage_text`]), or when its text shows spreadsheet damage ([`spreadsheet_damage`]):
//! scientific notation, a whole number with a decimal point, a leading apostrophe, an error
//! value. Each refusal carries what is wrong and the fix.

use super::CellDamage;
use crate::input::is_invisible;
use crate::setting::Setting;

/// Why an id may not be sent: the character, what it is, and a hint.
pub(super) fn id_problem(id: &str) -> Option<(usize, char, &'static str, String)> {
    id.chars().enumerate().find_map(|(i, c)| {
        if matches!(c, ',' | ';' | '\t' | '|') {
            Some((
                i,
                c,
                "a delimiter character",
                format!(
                    "is the file separated by this character? give {}, or quote the ids",
                    Setting::Delimiter
                ),
            ))
        } else if is_invisible(c) {
            Some((
                i,
                c,
                "a control or invisible character",
                "is the file's encoding right (UTF-16 without a byte-order mark, binary data)? \
                 re-export it as UTF-8 text"
                    .into(),
            ))
        } else if c.is_whitespace() {
            Some((
                i,
                c,
                "whitespace inside",
                format!(
                    "ids hold no spaces: is {} the right column, or is the delimiter wrong ({})?",
                    Setting::IdColumn,
                    Setting::Delimiter
                ),
            ))
        } else {
            None
        }
    })
}

/// What a workbook cell's damage is, and the fix.
pub(super) fn cell_damage_text(damage: CellDamage) -> (&'static str, &'static str) {
    match damage {
        CellDamage::LostDigits => (
            "is a number above 2^53 in the workbook, so its last digits are already lost",
            "format the id column as Text and enter the ids again, or export them from the \
             source system as CSV",
        ),
        CellDamage::NotWhole => (
            "is a number with a fraction in the workbook, not an id",
            "the id column holds numbers, not ids: format the column as Text and enter the ids \
             again, or export them from the source system as CSV",
        ),
        CellDamage::ErrorCell => (
            "is an error cell in the workbook, not an id",
            "fix the formula or value in that cell, or export the ids from the source system",
        ),
        CellDamage::DateCell => (
            "is a date or time cell in the workbook, not an id",
            "the cell holds a number shown as a date: format the id column as Text and enter the \
             ids again, or export them from the source system as CSV",
        ),
        CellDamage::BoolCell => (
            "is a TRUE/FALSE cell in the workbook, not an id",
            "enter the id in that cell as text, or export the ids from the source system as CSV",
        ),
    }
}

/// Damage a spreadsheet does to an id on its way to a text file, recognised only where no real
/// id looks like that (ids are hex, uuids or digits; none holds `.`, `+`, `#` or `'`):
/// - scientific notation (`1.23457E+17`, `1.2e+17`, `4.5E-3`, `1E+17`): a mantissa with a
///   decimal point or an exponent with a sign; the dropped digits are gone. A bare `12e45` is
///   left alone: it is also a hex id.
/// - a whole number written as a float (`123456789012345678.0`, pandas reading a column of
///   numbers): past 2^53 its digits are already wrong.
/// - a leading apostrophe (`'0123`): a spreadsheet's "keep as text" marker exported with the id.
/// - an error value (`#N/A`, `#VALUE!`, `#####`).
pub(crate) fn spreadsheet_damage(id: &str) -> Option<(&'static str, &'static str)> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = id.strip_prefix(['+', '-']).unwrap_or(id);
    if let Some((mantissa, exponent)) = unsigned.split_once(['e', 'E']) {
        let (whole, fraction) = match mantissa.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (mantissa, None),
        };
        let signed_exponent = exponent.strip_prefix(['+', '-']);
        let mantissa_ok = digits(whole) && fraction.is_none_or(digits);
        let exponent_ok = digits(signed_exponent.unwrap_or(exponent));
        if mantissa_ok && exponent_ok && (fraction.is_some() || signed_exponent.is_some()) {
            return Some((
                "is a number in scientific notation, not an id",
                "Excel turned a long number into scientific notation; format the column as Text \
                 and export again (the digits it dropped are not in this file)",
            ));
        }
    }
    if let Some((whole, zeros)) = id.split_once('.')
        && digits(whole)
        && !zeros.is_empty()
        && zeros.bytes().all(|b| b == b'0')
    {
        return Some((
            "is a whole number written with a decimal point, not an id",
            "a program read the ids as numbers (pandas, a spreadsheet) and wrote them back as \
             decimals, which loses digits past 16; read the column as text (pandas: \
             dtype=str) and export again",
        ));
    }
    if id.starts_with('\'') {
        return Some((
            "starts with an apostrophe, a spreadsheet's text marker",
            "remove the leading apostrophe from the ids (or export the column formatted as \
             Text) and try again",
        ));
    }
    const ERRORS: &[&str] = &[
        "#n/a",
        "#value!",
        "#ref!",
        "#div/0!",
        "#name?",
        "#num!",
        "#null!",
        "#getting_data",
        "#spill!",
        "#calc!",
    ];
    if ERRORS.contains(&id.to_ascii_lowercase().as_str())
        || (id.len() > 1 && id.bytes().all(|b| b == b'#'))
    {
        return Some((
            "is a spreadsheet error value, not an id",
            "fix the cell in the spreadsheet (a failed formula, or a column too narrow to show \
             the number) and export again",
        ));
    }
    None
}
