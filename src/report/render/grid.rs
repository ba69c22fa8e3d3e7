//! A section's one table as typed cells ([`Grid`]), and its two layouts: the people's table
//! (text, Markdown, HTML) and the machine table (CSV, the workbook's sheet).
//!
//! Policy: a report builds a table once, as values ([`Datum`]); how a value reads to people
//! (a short digest, `undated`, input columns as words) and to machines (the whole digest, an
//! empty cell, JSON) is decided here, by the renderer, never by the report. A column only
//! machines read (a message, a category) has no people's header. The layouts are made before
//! anything leaves the program, so the output guards (`output::output_safe`) see the same cells
//! as the renderers write.

use serde_json::Value;

use super::Section;

/// One value of a typed table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Datum {
    /// The same text to people and machines (empty: no value).
    Text(String),
    /// A time (or period) label; `None`, no time, reads `undated` to people and is empty to
    /// machines.
    Dated(Option<String>),
    /// A SHA-256 digest in hex: its first 16 digits to people, whole to machines.
    Digest(Option<String>),
    /// A share (a fraction; `None` where it is not defined): a percentage to one decimal to
    /// people (`-` when undefined), the fraction at full precision to machines (empty).
    Share(Option<f64>),
    /// A check's input columns (a JSON object): `key=value` words to people, so a narrow
    /// terminal wraps between columns; the JSON text to machines.
    Columns(Option<Value>),
}

/// Digits of a digest people are shown: enough to tell faces apart in a listing.
const DIGEST_SHOWN: usize = 16;

impl Datum {
    /// Text, or empty without a value.
    pub(crate) fn text(value: Option<impl ToString>) -> Datum {
        Datum::Text(value.map_or_else(String::new, |v| v.to_string()))
    }

    /// The cell of the people's table.
    fn for_people(&self) -> String {
        match self {
            Datum::Text(t) => t.clone(),
            Datum::Dated(t) => t.clone().unwrap_or_else(|| crate::report::UNDATED.into()),
            Datum::Digest(d) => d
                .as_deref()
                .map_or_else(String::new, |d| d.chars().take(DIGEST_SHOWN).collect()),
            Datum::Columns(c) => c.as_ref().map_or_else(String::new, column_words),
            Datum::Share(v) => share_shown(*v),
        }
    }

    /// The cell of the machine table.
    fn for_machines(&self) -> String {
        match self {
            Datum::Text(t) => t.clone(),
            Datum::Dated(t) | Datum::Digest(t) => t.clone().unwrap_or_default(),
            Datum::Columns(c) => c.as_ref().map_or_else(String::new, Value::to_string),
            Datum::Share(v) => super::fraction(*v),
        }
    }
}

/// A share as people read it: a percentage to one decimal, `-` where it is not defined.
pub(crate) fn share_shown(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
}

/// Input columns as people read them: `channel=ios country=SG`, one word per column.
fn column_words(columns: &Value) -> String {
    match columns {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(v) => format!("{k}={v}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// A column of a typed table: its machine header (snake_case, part of the CSV contract) and
/// its people's header, `None` when people are not shown it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub machine: &'static str,
    pub people: Option<&'static str>,
}

/// A column shown to people as `people` and to machines as `machine`.
pub(crate) const fn both(machine: &'static str, people: &'static str) -> Column {
    Column {
        machine,
        people: Some(people),
    }
}

/// A column machines read and people are not shown.
pub(crate) const fn machines_only(machine: &'static str) -> Column {
    Column {
        machine,
        people: None,
    }
}

/// A section's one table: typed rows under its columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Grid {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Datum>>,
}

impl Grid {
    pub(crate) fn new(columns: &[Column]) -> Grid {
        Grid {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// The people's table: the headers and cells of the columns people are shown.
    fn for_people(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let shown: Vec<usize> = (0..self.columns.len())
            .filter(|&i| self.columns[i].people.is_some())
            .collect();
        let headers = shown
            .iter()
            .filter_map(|&i| self.columns[i].people.map(str::to_string))
            .collect();
        let rows = self
            .rows
            .iter()
            .map(|row| shown.iter().map(|&i| row[i].for_people()).collect())
            .collect();
        (headers, rows)
    }

    /// The machine table: every column.
    fn for_machines(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let headers = self.columns.iter().map(|c| c.machine.to_string()).collect();
        let rows = self
            .rows
            .iter()
            .map(|row| row.iter().map(Datum::for_machines).collect())
            .collect();
        (headers, rows)
    }
}

impl Section {
    /// A section whose one table is `grid`.
    pub(crate) fn of_grid(title: impl Into<String>, grid: Grid) -> Section {
        Section {
            grid: Some(grid),
            ..Section::new(title, &[])
        }
    }

    /// The section with its grid laid out as the people's table (`headers`, `rows`) and the
    /// machine table (`machine`); a section without a grid as it is.
    pub(crate) fn laid_out(&self) -> std::borrow::Cow<'_, Section> {
        let Some(grid) = &self.grid else {
            return std::borrow::Cow::Borrowed(self);
        };
        let (headers, rows) = grid.for_people();
        std::borrow::Cow::Owned(Section {
            headers,
            rows,
            machine: Some(grid.for_machines()),
            grid: None,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_grid_lays_out_a_people_table_and_a_machine_table() {
        let mut grid = Grid::new(&[
            both("liveness_id", "liveness id"),
            both("time", "time"),
            machines_only("message"),
            both("image_sha256", "image sha256"),
            both("attributes", "attributes"),
            both("share", "of checks"),
        ]);
        grid.rows.push(vec![
            Datum::Text("lv-1".into()),
            Datum::Dated(None),
            Datum::text(Some("success")),
            Datum::Digest(Some("0123456789abcdef0123".into())),
            Datum::Columns(Some(serde_json::json!({"channel": "ios", "n": 3}))),
            Datum::Share(Some(0.125)),
        ]);
        grid.rows.push(vec![
            Datum::Text("lv-2".into()),
            Datum::Dated(Some("2026-10-01T10:00:00+08:00".into())),
            Datum::text(None::<String>),
            Datum::Digest(None),
            Datum::Columns(None),
            Datum::Share(None),
        ]);
        let section = Section::of_grid("Checks", grid);
        let laid = section.laid_out();
        let people = [
            "liveness id",
            "time",
            "image sha256",
            "attributes",
            "of checks",
        ];
        assert_eq!(laid.headers, people);
        assert_eq!(
            laid.rows,
            [
                [
                    "lv-1",
                    "undated",
                    "0123456789abcdef",
                    "channel=ios n=3",
                    "12.5%"
                ],
                ["lv-2", "2026-10-01T10:00:00+08:00", "", "", "-"],
            ]
        );
        let (headers, rows) = laid.machine_table();
        let machine = [
            "liveness_id",
            "time",
            "message",
            "image_sha256",
            "attributes",
            "share",
        ];
        assert_eq!(headers, machine);
        let first = [
            "lv-1",
            "",
            "success",
            "0123456789abcdef0123",
            r#"{"channel":"ios","n":3}"#,
            "0.125",
        ];
        let second = ["lv-2", "2026-10-01T10:00:00+08:00", "", "", "", ""];
        assert_eq!(rows, [first, second]);
    }
}
