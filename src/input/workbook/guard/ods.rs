//! An .ods content.xml counted the way calamine expands it: repeated rows and columns
//! multiplied out over the area from the first to the last non-empty row of every sheet (the
//! policy is in the parent module, [`super`]).

use super::*;
use crate::setting::Setting;

/// The .ods content counted the way calamine reads it into memory.
pub(super) struct OdsCells<'a> {
    name: &'a str,
    limits: &'a Limits,
    /// Rows read so far in the current sheet, repeats included (capped as calamine caps).
    rows: u64,
    /// First row (repeats included) holding a value, and the end of the last such row.
    first: Option<u64>,
    end: u64,
    widest: u64,
    /// Cells and expanded text bytes of the sheets already ended.
    cells: u64,
    text: u64,
    /// The row being read: its repeat, width so far, empty cells waiting, text bytes.
    row: Option<(u64, u64, u64, u64)>,
    /// The cell being read (not self-closed): its repeat, bytes and whether it holds a value.
    cell: Option<(u64, u64, bool)>,
}

impl<'a> OdsCells<'a> {
    pub(super) fn new(name: &'a str, limits: &'a Limits) -> OdsCells<'a> {
        OdsCells {
            name,
            limits,
            rows: 0,
            first: None,
            end: 0,
            widest: 0,
            cells: 0,
            text: 0,
            row: None,
            cell: None,
        }
    }

    pub(super) fn token(&mut self, token: Token<'_>) -> Result<(), Refusal> {
        let tag = match token {
            Token::Text(n) => {
                if let Some((_, bytes, _)) = &mut self.cell {
                    *bytes += n;
                }
                return Ok(());
            }
            Token::Tag(tag) => tag,
        };
        let (element, closing, empty) = tag_name(tag);
        let is_cell = element == b"table:table-cell" || element == b"table:covered-table-cell";
        match (element, closing) {
            (b"table:table", false) if !empty => self.end_table(),
            (b"table:table", true) => self.end_table(),
            (b"table:table-row", false) if !empty => {
                let wanted = number_attr(tag, b"table:number-rows-repeated").unwrap_or(1);
                let repeat = wanted.min(ODS_MAX_ROWS.saturating_sub(self.rows));
                self.row = Some((repeat, 0, 0, 0));
                Ok(())
            }
            (b"table:table-row", true) => self.end_row(),
            _ if is_cell && !closing && self.cell.is_none() => {
                let repeat = number_attr(tag, b"table:number-columns-repeated").unwrap_or(1);
                let valued = attr(tag, b"office:value-type").is_some()
                    || attr(tag, b"table:formula").is_some();
                if empty {
                    self.put_cell(repeat, tag.len() as u64, valued);
                } else {
                    self.cell = Some((repeat, tag.len() as u64, valued));
                }
                Ok(())
            }
            _ if is_cell && closing => {
                if let Some((repeat, bytes, valued)) = self.cell.take() {
                    self.put_cell(repeat, bytes, valued);
                }
                Ok(())
            }
            _ => {
                // An element inside a cell (a paragraph, an annotation) gives it content.
                if let Some((_, bytes, valued)) = &mut self.cell {
                    *bytes += tag.len() as u64;
                    *valued = true;
                }
                Ok(())
            }
        }
    }

    /// A cell of `repeat` columns: empty ones wait (calamine drops them at a row's end), a
    /// valued one widens the row past the waiting ones.
    pub(super) fn put_cell(&mut self, repeat: u64, bytes: u64, valued: bool) {
        let Some((_, width, waiting, text)) = &mut self.row else {
            return;
        };
        if valued {
            *width = (*width)
                .saturating_add(*waiting)
                .saturating_add(repeat)
                .min(ODS_MAX_COLUMNS);
            *waiting = 0;
            *text = text.saturating_add(bytes.saturating_mul(repeat.min(ODS_MAX_COLUMNS)));
        } else {
            *waiting = waiting.saturating_add(repeat);
        }
    }

    pub(super) fn end_row(&mut self) -> Result<(), Refusal> {
        let Some((repeat, width, _, text)) = self.row.take() else {
            return Ok(());
        };
        if width > 0 {
            self.first.get_or_insert(self.rows);
            self.end = self.rows + repeat;
            self.widest = self.widest.max(width);
            self.text = self.text.saturating_add(text.saturating_mul(repeat));
        }
        self.rows += repeat;
        self.check(self.area())
    }

    pub(super) fn area(&self) -> u64 {
        let rows = self.first.map_or(0, |f| self.end - f);
        self.cells.saturating_add(rows.saturating_mul(self.widest))
    }

    pub(super) fn end_table(&mut self) -> Result<(), Refusal> {
        self.end_row()?;
        self.cells = self.area();
        self.rows = 0;
        self.first = None;
        self.end = 0;
        self.widest = 0;
        self.check(self.cells)
    }

    pub(super) fn check(&self, cells: u64) -> Result<(), Refusal> {
        let over = |limit: OverLimit| Refusal::Over {
            part: self.name.to_string(),
            limit,
        };
        if cells > self.limits.max_cells {
            return Err(over(OverLimit::new(
                "the sheets span more cells than liveaudit reads whole (rows x columns, \
                 repeated rows and columns included)",
                cells,
                self.limits.max_cells,
                "cells",
                Setting::MaxCells,
            )));
        }
        if self.text > self.limits.expanded_text_bytes() {
            return Err(over(OverLimit::new(
                "the cells expand to more text than liveaudit reads whole (repeated cells \
                 included)",
                self.text,
                self.limits.expanded_text_bytes(),
                "bytes",
                Setting::MaxCells,
            )));
        }
        Ok(())
    }
}
