//! The breakdown by one input column (`--dimension`): which columns the checks have, and one
//! row per value, most attacked first, the tail beyond `--top` folded into "other".

use super::*;

/// Whether some stored check has the input column `column` (`Ok(None)`), else the columns
/// the checks do have (from the attributes of at most 10 000 checks, at most 50 names): a
/// dimension no check has would count every check under "(none)". The first check having the
/// column ends the search, so a good column costs little; only a wrong one reads further.
pub(crate) fn missing_dimension(
    conn: &rusqlite::Connection,
    column: &str,
) -> Result<Option<Vec<String>>, ReportError> {
    let found: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM checks c, json_each(c.attrs) j
             WHERE c.attrs IS NOT NULL AND json_valid(c.attrs) AND json_type(c.attrs) = 'object'
               AND j.key = ?1)",
            [column],
            |r| r.get(0),
        )
        .map_err(crate::store::StoreError::from)?;
    if found {
        return Ok(None);
    }
    let mut stmt = conn
        .prepare(
            "SELECT DISTINCT j.key FROM
               (SELECT attrs FROM checks WHERE attrs IS NOT NULL AND json_valid(attrs)
                  AND json_type(attrs) = 'object' LIMIT 10000) c,
               json_each(c.attrs) j
             ORDER BY 1 LIMIT 50",
        )
        .map_err(crate::store::StoreError::from)?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(crate::store::StoreError::from)?;
    Ok(Some(names))
}

/// The dimension's rows, most attacked first, the tail beyond `top` folded into "other".
pub(super) fn dimension_rows(
    counts: FastMap<String, FastMap<i64, i64>>,
    codes: &CodeTable,
    top: usize,
) -> Vec<DimensionRow> {
    let mut rows: Vec<DimensionRow> = counts
        .into_iter()
        .map(|(value, per_code)| {
            let mut row = DimensionRow {
                value,
                resolved: 0,
                attacks: 0,
                attack_share: None,
                by_family: BTreeMap::new(),
                folded: false,
                checks_command: None,
            };
            for (code, n) in per_code {
                row.resolved += n;
                if let Some(family) = attack_family(Status::Done, Some(code), codes) {
                    row.attacks += n;
                    *row.by_family.entry(family).or_default() += n;
                }
            }
            row
        })
        .collect();
    rows.sort_by(|a, b| {
        b.attacks
            .cmp(&a.attacks)
            .then(b.resolved.cmp(&a.resolved))
            .then(a.value.cmp(&b.value))
    });
    if rows.len() > top {
        let rest = rows.split_off(top);
        let mut other = DimensionRow {
            value: match rest.len() {
                1 => "other (1 value)".to_string(),
                n => format!("other ({n} values)"),
            },
            resolved: 0,
            attacks: 0,
            attack_share: None,
            by_family: BTreeMap::new(),
            folded: true,
            checks_command: None,
        };
        for r in rest {
            other.resolved += r.resolved;
            other.attacks += r.attacks;
            for (f, n) in r.by_family {
                *other.by_family.entry(f).or_default() += n;
            }
        }
        rows.push(other);
    }
    for r in &mut rows {
        r.attack_share = share(r.attacks, r.resolved);
    }
    rows
}
