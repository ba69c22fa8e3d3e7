//! Reused faces ranked by risk: one face image digest on several checks, with what makes it
//! dangerous.
//!
//! Policy: a face seen more than once in the window is listed with its uses, how many of them
//! the vendor passed as a live person (a reused photo accepted: ranked first), the codes it got,
//! how many distinct values of each input column (users, channels...) it appeared under, the
//! accounts, and when it was first and last seen in the report's zone. Only digests the writer
//! saw twice (migration 0004) are read. Images are biometric data: the report shows one only
//! when asked (`--with-images DIR`), read from the files `fetch --save-images DIR` wrote, and
//! never stores one.

use super::*;

/// Faces listed, at most.
const FACES_LISTED: usize = 50;
/// Checks of a face listed by id, at most (the face's `checks_command` lists them all).
const IDS_LISTED: usize = 20;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct RepeatedFace {
    pub image_sha256: String,
    pub uses: i64,
    /// Checks the vendor passed as a live person (code 200): a reused photo accepted.
    pub passes: i64,
    /// Checks per code (resolved checks only).
    pub codes: BTreeMap<i64, i64>,
    /// Distinct values of each input column among its checks (a check without the column
    /// counts no value).
    pub distinct: BTreeMap<String, usize>,
    /// The partner codes of its checks.
    pub accounts: Vec<String>,
    /// First and last report time in the report's zone (`None` when every use is undated).
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Up to 20 (id, time in the zone, code), oldest first.
    pub checks: Vec<(String, Option<String>, Option<i64>)>,
    /// The `liveaudit checks` line listing every use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks_command: Option<String>,
    /// The face, as a `data:` URI, when `--with-images` found one (HTML only).
    #[serde(skip)]
    pub image: Option<String>,
}

/// One use of a face, as read.
struct Use {
    id: String,
    time: Option<i64>,
    status: Status,
    code: Option<i64>,
    attrs: Option<String>,
    account: String,
}

/// The faces used more than once in the window, riskiest first: most passes, then most uses.
/// `columns`: the input columns to count distinct values of (`None`: every column they have).
pub(crate) fn repeated_faces(
    conn: &rusqlite::Connection,
    codes: &CodeTable,
    window: &Window,
    columns: Option<&[String]>,
) -> Result<Vec<RepeatedFace>, ReportError> {
    let (from, to, account) = window.binds();
    // Each digest through the digest index: CROSS JOIN keeps that order, the small table outside.
    let sql = format!(
        "SELECT r.image_sha256, liveness_id, {}, status, code, attrs, partner_code
         FROM repeated_faces AS r CROSS JOIN checks ON checks.image_sha256 = r.image_sha256
         WHERE {}",
        window.date_by.time_sql(),
        window.sql()
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params![from, to, account])?;
    let mut by_face: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    while let Some(r) = rows.next()? {
        let status = match r.get_ref(3)? {
            rusqlite::types::ValueRef::Text(t) => Status::from_db(t),
            _ => Status::Pending,
        };
        by_face.entry(r.get(0)?).or_default().push(Use {
            id: r.get(1)?,
            time: r.get(2)?,
            status,
            code: r.get(4)?,
            attrs: r.get(5)?,
            account: r.get(6)?,
        });
    }
    by_face.retain(|_, uses| uses.len() > 1);
    let columns: Vec<String> = match columns {
        Some(c) => c.to_vec(),
        None => every_column(by_face.values().flatten()),
    };
    let mut faces: Vec<RepeatedFace> = by_face
        .into_iter()
        .map(|(digest, uses)| face(digest, uses, codes, window, &columns))
        .collect();
    faces.sort_by(|a, b| {
        (b.passes, b.uses)
            .cmp(&(a.passes, a.uses))
            .then_with(|| a.image_sha256.cmp(&b.image_sha256))
    });
    faces.truncate(FACES_LISTED);
    Ok(faces)
}

/// Every input column the uses have, in name order.
fn every_column<'a>(uses: impl Iterator<Item = &'a Use>) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for u in uses {
        if let Some(serde_json::Value::Object(map)) = u
            .attrs
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
        {
            names.extend(map.into_iter().map(|(k, _)| k));
        }
    }
    names.into_iter().collect()
}

/// One face from its uses.
fn face(
    digest: String,
    mut uses: Vec<Use>,
    codes: &CodeTable,
    window: &Window,
    columns: &[String],
) -> RepeatedFace {
    // Oldest first; undated uses last.
    uses.sort_by(|a, b| (a.time.is_none(), a.time, &a.id).cmp(&(b.time.is_none(), b.time, &b.id)));
    let mut per_code: BTreeMap<i64, i64> = BTreeMap::new();
    let mut passes = 0;
    for u in &uses {
        if let (Status::Done, Some(code)) = (u.status, u.code) {
            *per_code.entry(code).or_default() += 1;
            if classify(u.status, u.code, codes) != Class::UnknownCode
                && codes.category(code) == Category::Success
            {
                passes += 1;
            }
        }
    }
    let distinct = columns
        .iter()
        .map(|column| {
            let values: std::collections::HashSet<String> = uses
                .iter()
                .filter_map(|u| attribute(u.attrs.as_deref()?.as_bytes(), column))
                .map(std::borrow::Cow::into_owned)
                .collect();
            (column.clone(), values.len())
        })
        .collect();
    let mut accounts: Vec<String> = uses.iter().map(|u| u.account.clone()).collect();
    accounts.sort();
    accounts.dedup();
    let times: Vec<i64> = uses.iter().filter_map(|u| u.time).collect();
    RepeatedFace {
        uses: uses.len() as i64,
        passes,
        codes: per_code,
        distinct,
        accounts,
        first_seen: times.iter().min().map(|&t| window.local_time(t)),
        last_seen: times.iter().max().map(|&t| window.local_time(t)),
        checks: uses
            .iter()
            .take(IDS_LISTED)
            .map(|u| (u.id.clone(), u.time.map(|t| window.local_time(t)), u.code))
            .collect(),
        image_sha256: digest,
        checks_command: None,
        image: None,
    }
}

/// Each face's image from `dir` (the files `fetch --save-images DIR` wrote, named by
/// [`crate::faces::file_name`]), the first of its listed checks that has one; how many were
/// found.
pub(crate) fn attach_images(faces: &mut [RepeatedFace], dir: &std::path::Path) -> usize {
    use base64::Engine as _;
    let mut found = 0;
    for f in faces {
        f.image = f.checks.iter().find_map(|(id, _, _)| {
            let bytes = std::fs::read(dir.join(crate::faces::file_name(id))).ok()?;
            Some(format!(
                "data:image/jpeg;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ))
        });
        found += usize::from(f.image.is_some());
    }
    found
}

/// The codes of a face: `12222:29 200:3`, most frequent first, at most `shown` of them (then
/// `+N more`).
pub(crate) fn codes_text(codes: &BTreeMap<i64, i64>, shown: usize) -> String {
    let mut list: Vec<(&i64, &i64)> = codes.iter().collect();
    list.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut words: Vec<String> = list
        .iter()
        .take(shown)
        .map(|(c, n)| format!("{c}:{n}"))
        .collect();
    if list.len() > shown {
        words.push(format!("+{} more", list.len() - shown));
    }
    words.join(" ")
}
