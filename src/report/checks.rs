//! The checks behind a report's number (`liveaudit checks`): a filter with the reports' own cuts,
//! the checks it matches, and the command line that lists them again.
//!
//! - [`CheckFilter`]: what to keep beyond the [`Window`] (which already holds `--from`/`--to`,
//!   the zone, the dating basis and the account): undated only, codes, attack family, code
//!   category, class, input column values, a face digest prefix.
//! - [`list`]: the matching checks, in time order, with how many matched in all.
//! - [`command_line`]: the `liveaudit checks ...` line of a window and a filter, printed beside
//!   every report row that stands for a set of checks.
//!
//! Policy: no cut is decided here. A check is in the window by [`Window::sql`] (the one window
//! and account rule), in a class by [`classify`], in a family by [`attack_family`] (the attack
//! report's own rule), has a column's value by the dimension's own reader, so the list and the
//! report always agree on which checks a number counts.

use rusqlite::params_from_iter;
use serde::Serialize;

use super::attrs::attribute;
use super::render::grid::{Column, Datum, Grid, both, machines_only};
use super::render::{Document, Section};
use super::{ReportError, Window};
use crate::check::attack_family;
use crate::check::{Class, DateBy, Status, classify};
use crate::codes::{Category, CodeTable};
use crate::setting::Setting;

/// The cuts of `liveaudit checks` beyond the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CheckFilter {
    /// Only the checks without a time under the window's dating basis (the period `undated`).
    pub undated: bool,
    pub codes: Vec<i64>,
    /// An attack family as the attack report counts it (`other`: attack codes without one).
    pub family: Option<String>,
    pub category: Option<Category>,
    /// `uncharged` includes `provisional`, as every report counts it.
    pub class: Option<Class>,
    /// Input columns and the value each must have (as the dimension table reads it).
    pub attrs: Vec<(String, String)>,
    /// Input columns the check must not have (absent or null: the dimension's "(none)").
    pub without: Vec<String>,
    /// A prefix of the face image's SHA-256, lowercase hex.
    pub face: Option<String>,
    pub limit: Option<usize>,
}

/// One check as listed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct CheckRow {
    pub liveness_id: String,
    /// Its report time in the window's zone (`None`: undated).
    pub time: Option<String>,
    pub status: Status,
    pub code: Option<i64>,
    pub message: Option<String>,
    pub class: Class,
    pub category: Option<&'static str>,
    pub family: Option<String>,
    pub score: Option<f64>,
    pub image_sha256: Option<String>,
    pub partner_code: String,
    /// The input's other columns (a JSON object), as stored.
    pub attributes: Option<serde_json::Value>,
}

/// What [`list`] found.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Listing {
    /// Every check the filter matches.
    pub matched: usize,
    /// The first `--limit` of them (all without a limit), in time order.
    pub checks: Vec<CheckRow>,
    /// The command that lists them again.
    pub command: String,
}

/// Whether a class filter keeps a check of class `class`.
fn class_matches(wanted: Class, class: Class) -> bool {
    wanted == class || (wanted == Class::Uncharged && class == Class::Provisional)
}

impl CheckFilter {
    /// Whether the check passes the cuts SQL did not make.
    fn keeps(&self, codes: &CodeTable, status: Status, code: Option<i64>, attrs: &[u8]) -> bool {
        let class = classify(status, code, codes);
        if self
            .class
            .is_some_and(|wanted| !class_matches(wanted, class))
        {
            return false;
        }
        if let Some(category) = self.category {
            let resolved = status == Status::Done && code.is_some();
            if !resolved || code.map(|c| codes.category(c)) != Some(category) {
                return false;
            }
        }
        if let Some(family) = &self.family
            && attack_family(status, code, codes).as_deref() != Some(family.as_str())
        {
            return false;
        }
        self.attrs
            .iter()
            .all(|(name, value)| attribute(attrs, name).as_deref() == Some(value.as_str()))
            && self
                .without
                .iter()
                .all(|name| attribute(attrs, name).is_none())
    }
}

/// The checks of `window` that `filter` keeps, in time order (undated last), then by id.
pub(crate) fn list(
    conn: &rusqlite::Connection,
    codes: &CodeTable,
    window: &Window,
    filter: &CheckFilter,
) -> Result<Listing, ReportError> {
    let (from, to, account) = window.binds();
    let time = window.date_by.time_sql();
    let mut sql = format!(
        "SELECT liveness_id, {time}, status, code, message, score, image_sha256, partner_code,
                attrs
         FROM checks WHERE {}",
        window.sql()
    );
    let mut binds: Vec<rusqlite::types::Value> = vec![from.into(), to.into(), account.into()];
    if filter.undated {
        sql.push_str(&format!(" AND {time} IS NULL"));
    }
    if !filter.codes.is_empty() {
        let list: Vec<String> = filter.codes.iter().map(i64::to_string).collect();
        sql.push_str(&format!(" AND code IN ({})", list.join(",")));
    }
    if let Some(prefix) = &filter.face {
        binds.push(prefix.clone().into());
        sql.push_str(&format!(
            " AND substr(image_sha256, 1, length(?{n})) = ?{n}",
            n = binds.len()
        ));
    }
    sql.push_str(&format!(" ORDER BY {time} IS NULL, {time}, liveness_id"));
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(binds))?;
    let mut listing = Listing {
        matched: 0,
        checks: Vec::new(),
        command: command_line(window, filter),
    };
    while let Some(row) = rows.next()? {
        let status = match row.get_ref(2)? {
            rusqlite::types::ValueRef::Text(t) => Status::from_db(t),
            _ => Status::Pending,
        };
        let code: Option<i64> = row.get(3)?;
        let attrs: Option<String> = row.get(8)?;
        if !filter.keeps(
            codes,
            status,
            code,
            attrs.as_deref().unwrap_or("").as_bytes(),
        ) {
            continue;
        }
        listing.matched += 1;
        if filter.limit.is_some_and(|l| listing.checks.len() >= l) {
            continue;
        }
        let resolved = status == Status::Done;
        listing.checks.push(CheckRow {
            liveness_id: row.get(0)?,
            time: row
                .get::<_, Option<i64>>(1)?
                .map(|ms| window.local_time(ms)),
            status,
            code,
            message: row.get(4)?,
            class: classify(status, code, codes),
            category: code
                .filter(|_| resolved)
                .map(|c| codes.category(c).as_str()),
            family: attack_family(status, code, codes),
            score: row.get(5)?,
            image_sha256: row.get(6)?,
            partner_code: row.get(7)?,
            attributes: attrs.and_then(|a| serde_json::from_str(&a).ok()),
        });
    }
    Ok(listing)
}

/// A word for a POSIX shell: as it is when every character is plain (letters, digits and
/// `_-.,:/=@%+`), else quoted by shlex (a NUL, which no shell word can hold, is dropped).
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.,:/=@%+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_string();
    }
    let word = word.replace('\0', "");
    shlex::try_quote(&word).map_or_else(|_| format!("'{word}'"), Into::into)
}

/// The `liveaudit checks ...` line that lists the checks of `window` kept by `filter`: the
/// zone and dating basis always (they decide which day a check falls on), the rest when set.
pub(crate) fn command_line(window: &Window, filter: &CheckFilter) -> String {
    let mut words: Vec<String> = vec!["liveaudit".into(), "checks".into()];
    let mut flag = |setting: Setting, value: Option<String>| match (setting.flag(), value) {
        // A value that looks like a flag is joined to its own.
        (name, Some(v)) if v.starts_with('-') => words.push(format!("{name}={}", shell_word(&v))),
        (name, Some(v)) => words.extend([name.to_string(), shell_word(&v)]),
        (name, None) => words.push(name.to_string()),
    };
    flag(Setting::Tz, Some(window.zone.name.clone()));
    if window.date_by != DateBy::Event {
        flag(Setting::DateBy, Some(window.date_by.as_str().to_string()));
    }
    if let Some(account) = &window.account {
        flag(Setting::Account, Some(account.clone()));
    }
    if let Some(from) = window.from {
        flag(Setting::From, Some(from.to_string()));
    }
    if let Some(to) = window.to {
        flag(Setting::To, Some(to.to_string()));
    }
    if filter.undated {
        flag(Setting::Undated, None);
    }
    for code in &filter.codes {
        flag(Setting::Code, Some(code.to_string()));
    }
    if let Some(family) = &filter.family {
        flag(Setting::Family, Some(family.clone()));
    }
    if let Some(category) = filter.category {
        flag(Setting::Category, Some(category.as_str().to_string()));
    }
    if let Some(class) = filter.class {
        flag(Setting::Class, Some(class.as_str().to_string()));
    }
    for (name, value) in &filter.attrs {
        flag(Setting::Attr, Some(format!("{name}={value}")));
    }
    for name in &filter.without {
        flag(Setting::NoAttr, Some(name.clone()));
    }
    if let Some(face) = &filter.face {
        flag(Setting::Face, Some(face.clone()));
    }
    if let Some(limit) = filter.limit {
        flag(Setting::Limit, Some(limit.to_string()));
    }
    words.join(" ")
}

/// The listing's columns: every one machines read (new ones only ever at the end), and the
/// ones people are shown.
const COLUMNS: [Column; 12] = [
    both("liveness_id", "liveness id"),
    both("time", "time"),
    both("status", "status"),
    both("code", "code"),
    machines_only("message"),
    both("class", "class"),
    machines_only("category"),
    both("family", "family"),
    both("score", "score"),
    both("image_sha256", "image sha256"),
    both("partner_code", "partner code"),
    both("attributes", "attributes"),
];

/// Lays the listing out: one table of checks, the counts and the command above it.
pub(crate) fn document(listing: &Listing, window: &Window) -> Document {
    let mut summary = vec![window.describe()];
    summary.push(match listing.checks.len() {
        n if n < listing.matched => {
            format!(
                "{} checks match; the first {n} are listed ({})",
                listing.matched,
                Setting::Limit
            )
        }
        _ => format!("{} checks match", listing.matched),
    });
    summary.push(format!("listed by: {}", listing.command));
    let mut grid = Grid::new(&COLUMNS);
    grid.rows = listing.checks.iter().map(cells).collect();
    Document {
        title: "liveaudit checks".into(),
        summary,
        sections: vec![Section::of_grid("Checks", grid).keyed("checks")],
        charts: Vec::new(),
        json: serde_json::to_value(listing).unwrap_or_default(),
        money: None,
        flagged: Vec::new(),
    }
}

/// One check's cells, in the order of [`COLUMNS`].
fn cells(c: &CheckRow) -> Vec<Datum> {
    vec![
        Datum::Text(c.liveness_id.clone()),
        Datum::Dated(c.time.clone()),
        Datum::text(Some(c.status)),
        Datum::text(c.code),
        Datum::text(c.message.as_ref()),
        Datum::text(Some(c.class)),
        Datum::text(c.category),
        Datum::text(c.family.as_ref()),
        Datum::text(c.score),
        Datum::Digest(c.image_sha256.clone()),
        Datum::Text(c.partner_code.clone()),
        Datum::Columns(c.attributes.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_quotes_what_a_shell_would_split_and_round_trips() {
        let window = Window::new(
            "Asia/Singapore",
            crate::check::Period::Week,
            Some("2026-10-05"),
            None,
        )
        .unwrap()
        .for_account(Some("acme id".into()));
        let filter = CheckFilter {
            family: Some("injection".into()),
            attrs: vec![
                ("channel".into(), "web".into()),
                ("note".into(), "it's $HOME; rm -rf /".into()),
                ("app".into(), "-1".into()),
            ],
            class: Some(Class::Uncharged),
            ..CheckFilter::default()
        };
        let line = command_line(&window, &filter);
        assert_eq!(
            shlex::split(&line).unwrap(),
            [
                "liveaudit",
                "checks",
                "--tz",
                "Asia/Singapore",
                "--account",
                "acme id",
                "--from",
                "2026-10-05",
                "--family",
                "injection",
                "--class",
                "uncharged",
                "--attr",
                "channel=web",
                "--attr",
                "note=it's $HOME; rm -rf /",
                "--attr",
                "app=-1",
            ]
        );
        assert!(line.contains(" --attr channel=web "), "{line}");
        assert!(class_matches(Class::Uncharged, Class::Provisional));
        assert!(!class_matches(Class::Provisional, Class::Uncharged));
    }
}
