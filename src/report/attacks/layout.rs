//! Laying the attack report out as a document: summary, tables and charts.

use super::*;
use crate::report::render::grid::{Column, Datum, Grid, both};

pub(super) use crate::report::render::grid::share_shown as pct;

pub(super) fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

/// Lays the report out for people.
pub(crate) fn document(a: &Attacks, window: &Window) -> Document {
    let summary = vec![
        window.describe(),
        format!(
            "{} resolved checks, {} attacks ({}), {} with codes not in the code table",
            a.resolved,
            a.attacks,
            percent(a.attacks, a.resolved),
            a.unknown_codes.iter().map(|u| u.count).sum::<i64>()
        ),
        crate::report::billing::CLASSES_DOC.into(),
    ];
    let mut summary = summary;
    summary.extend(a.latest.iter().flat_map(Latest::lines));
    let dated: Vec<usize> = a
        .periods
        .iter()
        .enumerate()
        .filter(|(_, p)| p.period != UNDATED)
        .map(|(i, _)| i)
        .collect();

    let family_names: Vec<&str> = a.families.iter().map(|f| f.family.as_str()).collect();
    let mut sections = vec![
        families_section(a, &dated),
        codes_section(a),
        unknown_section(a),
        periods_section(a, &family_names),
        spikes_section(a),
    ];
    if let Some(dim) = &a.dimension {
        sections.push(dimension_section(a, dim, &family_names));
    }
    sections.push(faces_section(a));
    sections.push(scores_section(a));
    let chart = chart(a, &dated);
    Document {
        title: "liveaudit attack report".into(),
        summary,
        sections,
        charts: vec![chart],
        json: serde_json::to_value(a).unwrap_or_default(),
        money: None,
        flagged: vec![
            ("dimension", Setting::Dimension, " NAME"),
            ("accounts", Setting::ByAccount, ""),
            ("account_periods", Setting::ByAccount, ""),
        ],
    }
}

/// The per-period table: resolved checks, attacks, their share with its interval, the share's
/// change and the count's (volume), and each family.
fn periods_section(a: &Attacks, family_names: &[&str]) -> Section {
    let mut headers = vec![
        "period",
        "resolved",
        "attacks",
        "share",
        "95% interval",
        "change",
        "volume",
    ];
    headers.extend(family_names.iter().copied());
    let mut machine_headers = vec![
        "period",
        "partial",
        "resolved",
        "attacks",
        "share",
        "share_low",
        "share_high",
        "share_change",
        "volume_change",
    ];
    machine_headers.extend(family_names.iter().copied());
    let mut periods = Section::new("Per period", &headers)
        .keyed("periods")
        .with_machine(&machine_headers);
    for p in &a.periods {
        let counts = family_names
            .iter()
            .map(|f| p.by_family.get(*f).copied().unwrap_or(0).to_string());
        let mut tidy = vec![
            p.period.clone(),
            p.partial.to_string(),
            p.resolved.to_string(),
            p.attacks.to_string(),
            fraction(p.attack_share),
            fraction(p.share_low),
            fraction(p.share_high),
            fraction(p.share_change),
            fraction(p.volume_change),
        ];
        tidy.extend(counts.clone());
        periods.machine_row(&machine_headers, tidy);
        let mut row = vec![
            if p.partial {
                format!("{} (partial)", p.period)
            } else {
                p.period.clone()
            },
            p.resolved.to_string(),
            p.attacks.to_string(),
            pct(p.attack_share),
            interval(p.share_low, p.share_high),
            points(p.share_change),
            volume(p.volume_change),
        ];
        row.extend(counts);
        periods.row(row);
    }
    periods.notes.push(format!(
        "change: the attack share's change from the period before, in percentage points; \
         volume: the attack count's change, shown for whole periods only (a partial period is \
         not over yet or cut by {}/{}, so only its share compares)",
        Setting::From,
        Setting::To
    ));
    periods
}

/// An interval for people: `16.1-22.3%`, or `-`.
fn interval(low: Option<f64>, high: Option<f64>) -> String {
    match (low, high) {
        (Some(l), Some(h)) => format!("{:.1}-{:.1}%", l * 100.0, h * 100.0),
        _ => "-".into(),
    }
}

/// The spikes table: periods where a family's share rose well above its baseline.
fn spikes_section(a: &Attacks) -> Section {
    const MACHINE: [&str; 10] = [
        "period",
        "family",
        "attacks",
        "resolved",
        "share",
        "share_low",
        "share_high",
        "baseline",
        "ratio",
        "checks_command",
    ];
    let mut spikes = Section::new(
        "Spikes",
        &[
            "period",
            "family",
            "attacks",
            "resolved",
            "share",
            "95% interval",
            "baseline",
            "ratio",
        ],
    )
    .keyed("spikes")
    .with_machine(&MACHINE);
    for s in &a.spikes {
        spikes.machine_row(
            &MACHINE,
            vec![
                s.period.clone(),
                s.family.clone(),
                s.attacks.to_string(),
                s.resolved.to_string(),
                fraction(Some(s.share)),
                fraction(Some(s.share_low)),
                fraction(Some(s.share_high)),
                fraction(s.baseline_share),
                fraction(s.ratio),
                s.checks_command.clone().unwrap_or_default(),
            ],
        );
        spikes.row_titled(
            vec![
                s.period.clone(),
                s.family.clone(),
                s.attacks.to_string(),
                s.resolved.to_string(),
                pct(Some(s.share)),
                interval(Some(s.share_low), Some(s.share_high)),
                s.baseline_share
                    .map_or_else(|| "absent".into(), |b| pct(Some(b))),
                s.ratio.map_or_else(|| "new".into(), |r| format!("{r:.1}x")),
            ],
            s.checks_command.clone(),
        );
    }
    spikes.notes.push(a.rule.describe());
    spikes
}

/// The table by the input's `--by` attribute: one row per value.
fn dimension_section(a: &Attacks, dim: &str, family_names: &[&str]) -> Section {
    let mut headers = vec![dim, "resolved", "attacks", "share"];
    headers.extend(family_names.iter().copied());
    let mut machine_headers = vec!["value", "resolved", "attacks", "share"];
    machine_headers.extend(family_names.iter().copied());
    machine_headers.push("checks_command");
    let mut s = Section::new(format!("By {dim}"), &headers)
        .keyed("dimension")
        .with_machine(&machine_headers);
    for r in &a.by_dimension {
        let mut tidy = vec![
            r.value.clone(),
            r.resolved.to_string(),
            r.attacks.to_string(),
            fraction(r.attack_share),
        ];
        for f in family_names {
            tidy.push(r.by_family.get(*f).copied().unwrap_or(0).to_string());
        }
        tidy.push(r.checks_command.clone().unwrap_or_default());
        s.machine_row(&machine_headers, tidy);
        let mut row = vec![
            r.value.clone(),
            r.resolved.to_string(),
            r.attacks.to_string(),
            pct(r.attack_share),
        ];
        for f in family_names {
            row.push(r.by_family.get(*f).copied().unwrap_or(0).to_string());
        }
        s.row_titled(row, r.checks_command.clone());
    }
    s.notes.push(
        "attacks: a row's attacks are listed by the `liveaudit checks` line in its CSV/JSON \
         checks_command (HTML: hover the row)"
            .into(),
    );
    s
}

/// The chart of attacks per dated period, one series per family.
fn chart(a: &Attacks, dated: &[usize]) -> Chart {
    Chart {
        title: "Attacks per period by family, and the attack share".into(),
        share: Some(ShareLine {
            name: "attack share of resolved checks (line, right axis; band: 95% interval)".into(),
            values: dated.iter().map(|&i| a.periods[i].attack_share).collect(),
            low: dated.iter().map(|&i| a.periods[i].share_low).collect(),
            high: dated.iter().map(|&i| a.periods[i].share_high).collect(),
            colour: "#1a5276",
        }),
        labels: dated.iter().map(|&i| a.periods[i].period.clone()).collect(),
        series: a
            .families
            .iter()
            .enumerate()
            .map(|(k, f)| {
                (
                    f.family.clone(),
                    dated.iter().map(|&i| f.per_period[i] as f64).collect(),
                    COLOURS[k.min(COLOURS.len() - 1)],
                )
            })
            .collect(),
    }
}

/// The machine table's columns of the families table (new columns only ever at the end).
const FAMILY_COLUMNS: [&str; 7] = [
    "family",
    "attacks",
    "share_of_checks",
    "share_of_attacks",
    "share_low",
    "share_high",
    "checks_command",
];

/// The families table, with each family's trend over the most recent periods.
fn families_section(a: &Attacks, dated: &[usize]) -> Section {
    let mut families = Section::new(
        "By family",
        &[
            "family",
            "attacks",
            "of checks",
            "95% interval",
            "of attacks",
            "trend (last 40 periods)",
        ],
    )
    .keyed("families")
    .with_machine(&FAMILY_COLUMNS);
    // The trend shows the last SPARK_PERIODS periods, so it stays on one line.
    let recent = &dated[dated.len().saturating_sub(SPARK_PERIODS)..];
    for f in &a.families {
        let trend: Vec<f64> = recent.iter().map(|&i| f.per_period[i] as f64).collect();
        families.row_titled(
            vec![
                f.family.clone(),
                f.attacks.to_string(),
                pct(f.share_of_checks),
                interval(f.share_low, f.share_high),
                pct(f.share_of_attacks),
                sparkline(&trend),
            ],
            f.checks_command.clone(),
        );
        families.machine_row(
            &FAMILY_COLUMNS,
            vec![
                f.family.clone(),
                f.attacks.to_string(),
                fraction(f.share_of_checks),
                fraction(f.share_of_attacks),
                fraction(f.share_low),
                fraction(f.share_high),
                f.checks_command.clone().unwrap_or_default(),
            ],
        );
    }
    families
}

/// The per-code table's columns: machine header, people's header.
const CODE_COLUMNS: [Column; 6] = [
    both("code", "code"),
    both("message", "message"),
    both("family", "family"),
    both("count", "count"),
    both("share_of_checks", "of checks"),
    both("share_of_attacks", "of attacks"),
];

/// The per-code table of attack codes.
fn codes_section(a: &Attacks) -> Section {
    let mut grid = Grid::new(&CODE_COLUMNS);
    grid.rows = a
        .codes
        .iter()
        .map(|c| {
            vec![
                Datum::text(Some(c.code)),
                Datum::Text(c.message.clone()),
                Datum::Text(c.family.clone()),
                Datum::text(Some(c.count)),
                Datum::Share(c.share_of_checks),
                Datum::Share(c.share_of_attacks),
            ]
        })
        .collect();
    Section::of_grid("By code", grid).keyed("codes")
}

/// Codes the table does not list: per code, never folded into a family.
fn unknown_section(a: &Attacks) -> Section {
    let mut unknown = Section::new(
        "Unknown codes (not in the code table)",
        &["code", "vendor message", "count", "of checks", "note"],
    )
    .keyed("unknown_codes")
    .with_machine(&["code", "message", "count", "share_of_checks", "note"]);
    for u in &a.unknown_codes {
        unknown.row(vec![
            u.code.to_string(),
            u.message.clone(),
            u.count.to_string(),
            pct(u.share_of_checks),
            u.note.to_string(),
        ]);
        unknown.machine_row(
            &["code", "message", "count", "share_of_checks", "note"],
            vec![
                u.code.to_string(),
                u.message.clone(),
                u.count.to_string(),
                fraction(u.share_of_checks),
                u.note.to_string(),
            ],
        );
    }
    if !a.unknown_codes.is_empty() {
        unknown.notes.push(
            "Counted in no family and in no attack total until the code table says what they are."
                .into(),
        );
    }
    unknown
}

/// Reused faces, riskiest first, with the context that makes them dangerous.
fn faces_section(a: &Attacks) -> Section {
    let columns: Vec<String> = a
        .repeated_faces
        .first()
        .map(|f| f.distinct.keys().cloned().collect())
        .unwrap_or_default();
    let mut people: Vec<String> = ["image sha256", "uses", "passed (200)", "codes"]
        .map(String::from)
        .to_vec();
    people.extend(columns.iter().cloned());
    people.extend(["accounts", "first seen", "last seen"].map(String::from));
    let mut machine: Vec<String> = ["image_sha256", "uses", "passes", "codes"]
        .map(String::from)
        .to_vec();
    machine.extend(columns.iter().map(|c| format!("distinct_{c}")));
    machine.extend(
        [
            "accounts",
            "first_seen",
            "last_seen",
            "liveness_ids",
            "checks_command",
        ]
        .map(String::from),
    );
    let people_refs: Vec<&str> = people.iter().map(String::as_str).collect();
    let machine_refs: Vec<&str> = machine.iter().map(String::as_str).collect();
    let mut faces = Section::new("Reused faces", &people_refs)
        .keyed("faces")
        .with_machine(&machine_refs);
    for f in &a.repeated_faces {
        let distinct: Vec<String> = columns
            .iter()
            .map(|c| f.distinct.get(c).copied().unwrap_or(0).to_string())
            .collect();
        let codes = codes_text(&f.codes, usize::MAX);
        let mut lead = vec![f.uses.to_string(), f.passes.to_string(), codes];
        lead.extend(distinct);
        lead.push(f.accounts.join(" "));
        let seen = |t: &Option<String>| t.clone().unwrap_or_default();
        let mut tidy = vec![f.image_sha256.clone()];
        tidy.extend(lead.iter().cloned());
        tidy.extend([
            seen(&f.first_seen),
            seen(&f.last_seen),
            f.checks
                .iter()
                .map(|c| c.0.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            f.checks_command.clone().unwrap_or_default(),
        ]);
        faces.machine_row(&machine_refs, tidy);
        let mut row = vec![f.image_sha256.chars().take(16).collect()];
        // People see the most frequent codes; CSV and JSON have them all.
        lead[2] = codes_text(&f.codes, 4);
        row.extend(lead);
        row.extend([seen(&f.first_seen), seen(&f.last_seen)]);
        faces.row_titled(row, f.checks_command.clone());
        faces.images.push(f.image.clone());
    }
    if faces.images.iter().all(Option::is_none) {
        faces.images.clear();
    }
    faces.notes.push(
        "One photo on different liveness ids is a strong sign of a replayed or injected image. \
         Ranked by passes (the vendor accepted the reused photo as a live person, code 200), \
         then uses; per input column, how many distinct values its checks had; times in the \
         report's zone. liveness_ids (CSV) holds the first 20; checks_command lists every use."
            .into(),
    );
    faces
}

/// Score quantiles per category.
fn scores_section(a: &Attacks) -> Section {
    let mut scores = Section::new(
        "Scores",
        &[
            "category",
            "with score",
            "without",
            "p05",
            "p25",
            "p50",
            "p75",
            "p95",
        ],
    )
    .keyed("scores")
    .with_machine(&[
        "category",
        "with_score",
        "without_score",
        "p05",
        "p25",
        "p50",
        "p75",
        "p95",
    ]);
    for s in &a.scores {
        // No value is an empty cell for machines, `-` for people.
        let plain = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
        scores.machine_row(
            &[],
            vec![
                s.category.clone(),
                s.with_score.to_string(),
                s.without_score.to_string(),
                plain(s.p05),
                plain(s.p25),
                plain(s.p50),
                plain(s.p75),
                plain(s.p95),
            ],
        );
        scores.row(vec![
            s.category.clone(),
            s.with_score.to_string(),
            s.without_score.to_string(),
            num(s.p05),
            num(s.p25),
            num(s.p50),
            num(s.p75),
            num(s.p95),
        ]);
    }
    scores
}
