//! What one input may cost, checked before it is paid: cells a sheet read whole may span,
//! bytes of one cell, the shared-string table, the unpacked size of a workbook's parts, the
//! columns a row keeps and the attribute bytes it keeps.
//!
//! Policy: an input over a limit is refused whole before anything is registered or sent (exit
//! 2), naming the limit, where it was passed and the flag that raises it. The defaults keep a
//! fetch's memory under about 300 MB whatever the input: a workbook bomb (an .ods cell repeated
//! 20 million times, a 1.5 GiB shared string, millions of tiny shared strings), a text file of
//! 250,000 columns, or a gzip/zstd stream that never ends (streamed, one record at a time).

use crate::setting::Setting;

/// Limits on what reading one input may cost (each a `fetch` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `--max-cells`: cells the sheets of a workbook read whole (.ods, .xls) may span, repeats
    /// and gaps included (about 100 bytes of memory each). `.xlsx` and `.xlsb` sheets are
    /// streamed row by row and not counted.
    pub max_cells: u64,
    /// `--max-cell-bytes`: bytes of one workbook cell, shared string or XML tag.
    pub max_cell_bytes: u64,
    /// `--max-shared-strings`: entries of a workbook's shared-string table (held whole while
    /// its sheet is read; its part may unpack to [`Limits::shared_string_bytes`]).
    pub max_shared_strings: u64,
    /// `--max-unpacked-mib`: the unpacked size of one workbook part (a sheet, the shared
    /// strings, content.xml), in MiB; other parts (styles, relationships) get a 16th of it.
    pub max_unpacked_mib: u64,
    /// `--max-columns`: named columns besides the id and time that a row may keep.
    pub max_columns: usize,
    /// `--max-attr-bytes`: bytes of the other columns one row keeps (as JSON).
    pub max_attr_bytes: usize,
}

/// The defaults of [`Limits`] (also the flags' defaults).
pub const DEFAULT_MAX_CELLS: u64 = 2_000_000;
/// See [`Limits::max_cell_bytes`].
pub const DEFAULT_MAX_CELL_BYTES: u64 = 1 << 20;
/// See [`Limits::max_shared_strings`].
pub const DEFAULT_MAX_SHARED_STRINGS: u64 = 1_000_000;
/// See [`Limits::max_unpacked_mib`].
pub const DEFAULT_MAX_UNPACKED_MIB: u64 = 1024;
/// See [`Limits::max_columns`].
pub const DEFAULT_MAX_COLUMNS: usize = 1_000;
/// See [`Limits::max_attr_bytes`].
pub const DEFAULT_MAX_ATTR_BYTES: usize = 64 << 10;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_cells: DEFAULT_MAX_CELLS,
            max_cell_bytes: DEFAULT_MAX_CELL_BYTES,
            max_shared_strings: DEFAULT_MAX_SHARED_STRINGS,
            max_unpacked_mib: DEFAULT_MAX_UNPACKED_MIB,
            max_columns: DEFAULT_MAX_COLUMNS,
            max_attr_bytes: DEFAULT_MAX_ATTR_BYTES,
        }
    }
}

impl Limits {
    /// The unpacked bytes a sheet, the shared strings or content.xml may reach.
    pub fn part_bytes(&self) -> u64 {
        self.max_unpacked_mib.saturating_mul(1 << 20)
    }

    /// The unpacked bytes any other part (styles, workbook, relationships) may reach.
    pub fn small_part_bytes(&self) -> u64 {
        (self.part_bytes() / 16).max(1 << 20)
    }

    /// The unpacked bytes the shared-string part may reach: 128 per allowed entry.
    pub fn shared_string_bytes(&self) -> u64 {
        self.max_shared_strings.saturating_mul(128).max(1 << 20)
    }

    /// The text bytes the cells of a sheet read whole may expand to: 64 per allowed cell.
    pub fn expanded_text_bytes(&self) -> u64 {
        self.max_cells.saturating_mul(64)
    }
}

/// An input over one of the [`Limits`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} ({seen}, at most {limit}); if the file is genuine, raise the limit with {setting} \
     (memory grows with it), or save the id column alone as CSV"
)]
pub struct OverLimit {
    /// What passed the limit and where, e.g. `sheet "Data" spans too many cells`.
    pub what: String,
    /// How much was seen (at least), e.g. `20,000,000 cells`.
    pub seen: String,
    /// The limit, e.g. `2,000,000 cells`.
    pub limit: String,
    /// The setting that raises it (the message names its flag beside the cheaper way out).
    pub setting: Setting,
}

impl OverLimit {
    pub(crate) fn new(
        what: impl Into<String>,
        seen: u64,
        limit: u64,
        unit: &str,
        setting: Setting,
    ) -> OverLimit {
        OverLimit {
            what: what.into(),
            seen: format!("{} {unit}", grouped(seen)),
            limit: format!("{} {unit}", grouped(limit)),
            setting,
        }
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_the_flag_named() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(20_000_000), "20,000,000");
        let e = OverLimit::new(
            "sheet \"a\" spans too many cells",
            5,
            2,
            "cells",
            Setting::MaxCells,
        );
        assert_eq!(
            e.to_string(),
            "sheet \"a\" spans too many cells (5 cells, at most 2 cells); if the file is genuine, \
             raise the limit with --max-cells (memory grows with it), or save the id column \
             alone as CSV"
        );
    }
}
