//! The vendor's code table: what each result code means, whether it is billed, and how the
//! fetcher must treat it.
//!
//! The table ships inside the binary as data (`data/codes.csv`, the vendor's liveness page plus
//! the account- and request-level codes of its sibling KYC APIs). A user file of the same columns
//! adds codes or overrides shipped rows, because vendors add attack codes faster than releases.
//! A code absent from the table is never guessed: it is `unknown`, and its charge is unknown.
//!
//! The table is the domain's, not the API client's: the domain core (`check`) classifies checks
//! with it and the API client ([`crate::td`]) reads answers with it; this module depends on
//! neither.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The shipped table, verbatim from the specification.
const SHIPPED: &str = include_str!("../data/codes.csv");

/// How the fetcher and the reports treat a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A live person; final, billed.
    Success,
    /// A detected attack; final, billed.
    Attack,
    /// A vendor-side error code (12250 final and billed; 11350 retried, not billed).
    Error,
    /// The account cannot be used (not purchased, suspended, no balance...): stop the run.
    Account,
    /// The request itself was wrong; stored, not billed, not retried.
    RequestError,
    /// Not in the table: stored, reported separately, never counted as charged or uncharged.
    Unknown,
}

impl Category {
    /// The category as the code table file and every report spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Success => "success",
            Category::Attack => "attack",
            Category::Error => "error",
            Category::Account => "account",
            Category::RequestError => "request_error",
            Category::Unknown => "unknown",
        }
    }

    /// The category a name spells (as [`Category::as_str`] writes it).
    pub(crate) fn from_name(s: &str) -> Option<Category> {
        Some(match s {
            "success" => Category::Success,
            "attack" => Category::Attack,
            "error" => Category::Error,
            "account" => Category::Account,
            "request_error" => Category::RequestError,
            "unknown" => Category::Unknown,
            _ => return None,
        })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeInfo {
    /// The result code as the vendor sends it.
    pub code: i64,
    /// What the code means, as the vendor's page words it.
    pub message: String,
    /// `Some(true)` billed, `Some(false)` not billed, `None` unknown.
    pub charged: Option<bool>,
    /// How the fetcher and the reports treat the code.
    pub category: Category,
    /// Attack family: `presentation`, `injection` or `challenge` (empty for non-attacks).
    pub family: Option<String>,
    /// Where the row came from (the vendor page it was read off, or the user's file).
    pub source: String,
}

/// Errors reading a code table file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodeTableError {
    /// The file cannot be read.
    #[error("cannot read code table {path}: {source}")]
    Io {
        /// The file, as the user named it.
        path: String,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// A row is malformed; the whole file is refused rather than read in part.
    #[error(
        "{path}:{line}: {problem}; expected the columns code,message,charged,category,family \
         (charged: yes/no/unknown; category: success, attack, error, account, request_error, unknown)"
    )]
    Row {
        /// The file, as the user named it.
        path: String,
        /// The row's line in the file (1-based).
        line: u64,
        /// What is wrong with the row.
        problem: String,
    },
}

/// The code table in force for a run: the shipped rows, then any user overrides.
#[derive(Debug, Clone)]
pub struct CodeTable {
    rows: BTreeMap<i64, CodeInfo>,
}

#[derive(Deserialize)]
struct RawRow {
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    charged: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    family: String,
    #[serde(default)]
    source: Option<String>,
}

impl CodeTable {
    /// The table shipped in the binary.
    pub fn shipped() -> CodeTable {
        let mut table = CodeTable {
            rows: BTreeMap::new(),
        };
        // The shipped file is part of the build and covered by tests; a parse failure here is a
        // packaging bug, not user input.
        table
            .merge_csv(SHIPPED.as_bytes(), "built-in codes.csv", "built-in")
            .expect("the shipped code table parses"); // ok: shipped data, tested below
        table
    }

    /// The shipped table with the rows of `path` added or overriding.
    pub fn with_overrides(path: &Path) -> Result<CodeTable, CodeTableError> {
        let mut table = CodeTable::shipped();
        let shown = path.display().to_string();
        let data = crate::small_file::read(path, crate::small_file::CONFIG_MAX_BYTES).map_err(
            |source| CodeTableError::Io {
                path: shown.clone(),
                source,
            },
        )?;
        table.merge_csv(&data[..], &shown, &shown)?;
        Ok(table)
    }

    fn merge_csv(
        &mut self,
        data: &[u8],
        shown: &str,
        default_source: &str,
    ) -> Result<(), CodeTableError> {
        let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(data);
        let headers = reader
            .headers()
            .map_err(|e| CodeTableError::Row {
                path: shown.to_string(),
                line: 1,
                problem: e.to_string(),
            })?
            .clone();
        for record in reader.records() {
            let row_err = |line: u64, problem: String| CodeTableError::Row {
                path: shown.to_string(),
                line,
                problem,
            };
            let record = record.map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                row_err(line, e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let raw: RawRow = record
                .deserialize(Some(&headers))
                .map_err(|e| row_err(line, e.to_string()))?;
            let code: i64 = raw
                .code
                .parse()
                .map_err(|_| row_err(line, format!("code {:?} is not a whole number", raw.code)))?;
            let charged = match raw.charged.to_ascii_lowercase().as_str() {
                "yes" | "true" | "y" | "1" => Some(true),
                "no" | "false" | "n" | "0" => Some(false),
                "" | "unknown" | "?" => None,
                other => return Err(row_err(line, format!("charged {other:?} is not yes/no"))),
            };
            let category =
                Category::from_name(&raw.category.to_ascii_lowercase()).ok_or_else(|| {
                    row_err(line, format!("category {:?} is not known", raw.category))
                })?;
            let family = Some(raw.family.to_ascii_lowercase()).filter(|f| !f.is_empty());
            self.rows.insert(
                code,
                CodeInfo {
                    code,
                    message: raw.message,
                    charged,
                    category,
                    family,
                    source: raw
                        .source
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| default_source.to_string()),
                },
            );
        }
        Ok(())
    }

    /// The row for `code`, if the table knows it.
    pub fn get(&self, code: i64) -> Option<&CodeInfo> {
        self.rows.get(&code)
    }

    /// The category of `code`; `Unknown` when the table does not list it.
    pub fn category(&self, code: i64) -> Category {
        self.get(code).map_or(Category::Unknown, |c| c.category)
    }

    /// Whether `code` is billed; `None` when not known.
    pub fn charged(&self, code: i64) -> Option<bool> {
        self.get(code).and_then(|c| c.charged)
    }

    /// The attack family of `code`, if any.
    pub fn family(&self, code: i64) -> Option<&str> {
        self.get(code).and_then(|c| c.family.as_deref())
    }

    /// Every row, ordered by code.
    pub fn iter(&self) -> impl Iterator<Item = &CodeInfo> {
        self.rows.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_table_matches_the_vendor_page() {
        let t = CodeTable::shipped();
        assert_eq!(t.iter().count(), 32);
        assert_eq!(t.category(200), Category::Success);
        assert_eq!(t.charged(200), Some(true));
        assert_eq!(t.category(12219), Category::Attack);
        assert_eq!(t.family(12219), Some("injection"));
        assert_eq!(t.family(12207), Some("presentation"));
        assert_eq!(t.family(12202), Some("challenge"));
        assert_eq!(t.charged(12250), Some(true));
        assert_eq!(t.category(12250), Category::Error);
        assert_eq!(t.category(305), Category::Account);
        assert_eq!(t.category(11304), Category::Account);
        assert_eq!(t.category(11340), Category::RequestError);
        assert_eq!(t.category(99999), Category::Unknown);
        assert_eq!(t.charged(99999), None);
        // Every attack has a family; nothing else has one.
        for row in t.iter() {
            assert_eq!(
                row.category == Category::Attack,
                row.family.is_some(),
                "{row:?}"
            );
        }
    }

    #[test]
    fn user_rows_add_and_override() {
        let mut t = CodeTable::shipped();
        t.merge_csv(
            b"code,message,charged,category,family\n12230,Virtual camera,yes,attack,injection\n12218,Blurry,no,attack,challenge\n",
            "mine.csv",
            "mine.csv",
        )
        .unwrap();
        assert_eq!(t.category(12230), Category::Attack);
        assert_eq!(t.family(12230), Some("injection"));
        assert_eq!(t.charged(12218), Some(false));
        assert_eq!(t.get(12230).unwrap().source, "mine.csv");
    }

    #[test]
    fn bad_user_row_names_file_line_and_value() {
        let mut t = CodeTable::shipped();
        let err = t
            .merge_csv(
                b"code,message,charged,category,family\n1,a,yes,attack,x\n2,b,maybe,attack,x\n",
                "mine.csv",
                "mine.csv",
            )
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("mine.csv:3:"), "{err}");
        assert!(err.contains("\"maybe\""), "{err}");
    }
}
