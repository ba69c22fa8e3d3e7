//! Unit tests of the renderers: wrapping, whole numbers at narrow widths, every format.
#[test]
fn notes_wrap_at_spaces_within_the_width() {
    let lines = super::wrap("spike rule: a family fires in a period when it has", 20);
    assert_eq!(
        lines,
        ["spike rule: a family", "fires in a period", "when it has"]
    );
    assert!(lines.iter().all(|l| l.chars().count() <= 20));
    assert_eq!(
        super::wrap("averyveryverylongword x", 5),
        ["averyveryverylongword", "x"]
    );
    assert_eq!(super::wrap("", 5), [""]);
}

use super::*;

#[test]
fn summary_lines_and_notes_wrap_at_a_narrow_terminal_and_not_in_a_file() {
    let long = "periods: day in Asia/Singapore; all dates; dated by event time from the \
                input (checks without one are undated); billed 1234 checks, net difference +3";
    let mut d = doc();
    d.summary.push(long.into());
    d.sections[0].notes.push(long.into());
    let mut out = Vec::new();
    render_table(&d, Some(60), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
    assert!(text.contains("  periods: day in Asia/Singapore;"), "{text}");
    let mut out = Vec::new();
    render_table(&d, None, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches(long).count(), 2, "{text}");
}

/// Every word with a digit in `section`'s cells, checked whole on one line of `text`.
fn assert_numbers_whole(section: &Section, text: &str) {
    for word in section
        .rows
        .iter()
        .flatten()
        .flat_map(|c| c.split_whitespace())
        .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
    {
        assert!(
            text.lines().any(|l| l.contains(word)),
            "{word} is broken:\n{text}"
        );
    }
}

#[test]
fn numbers_dates_and_periods_are_never_broken_at_a_narrow_terminal() {
    let mut periods = Section::new(
        "Per period",
        &[
            "period",
            "checks",
            "charged",
            "uncharged",
            "provisional",
            "amount",
        ],
    );
    periods.row(vec![
        "2026-10-01".into(),
        "1480".into(),
        "2026".into(),
        "133".into(),
        "49".into(),
        "98.350".into(),
    ]);
    periods.row(vec![
        "undated".into(),
        "12".into(),
        "11".into(),
        "0".into(),
        "0".into(),
        "0.385 USD".into(),
    ]);
    let mut codes = Section::new(
        "Per code",
        &["code", "message", "category", "count", "amount"],
    );
    codes.row(vec![
        "12208".into(),
        "Identified as a frame (including paper or phone frame) at 2026-10-02T14:10:52Z".into(),
        "request_error".into(),
        "202610".into(),
        "1234567.125".into(),
    ]);
    let mut d = doc();
    d.sections = vec![periods, codes];
    // Both tables fit their longest words from 70 columns on; below, each row is a block.
    for width in [40, 60, 80, 200] {
        let mut out = Vec::new();
        render_table(&d, Some(width), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for section in &d.sections {
            assert_numbers_whole(section, &text);
        }
        // A column of single words (codes, categories) keeps them whole too.
        assert!(text.contains("request_error"), "{text}");
        assert!(
            text.lines()
                .all(|l| l.chars().count() <= usize::from(width)),
            "{text}"
        );
        let expanded = text
            .lines()
            .any(|l| l.starts_with(" code ") && l.ends_with("12208"));
        assert_eq!(expanded, width < 80, "{text}");
        // Text stays on one line where the table fits whole (200), and wraps where it fits
        // only so (80) or in a block.
        let message =
            "Identified as a frame (including paper or phone frame) at 2026-10-02T14:10:52Z";
        assert_eq!(text.contains(message), width == 200, "{text}");
    }
}

fn doc() -> Document {
    let mut s = Section::new("Totals", &["what", "count"]);
    s.row(vec!["charged".into(), "12".into()]);
    s.row(vec!["a|b <x>".into(), "3".into()]);
    s.notes.push("rule: x".into());
    let mut second = Section::new("Per code", &["code", "count", "share"]);
    second.row(vec!["200".into(), "12".into(), "80%".into()]);
    Document {
        title: "Billing".into(),
        summary: vec!["zone UTC".into()],
        sections: vec![s, second],
        charts: vec![Chart {
            title: "Chart".into(),
            share: None,
            labels: vec!["2024-05-01".into(), "2024-05-02".into()],
            series: vec![("charged".into(), vec![3.0, 5.0], "#36c")],
        }],
        json: serde_json::json!({"totals": {"checks": 15}}),
        money: None,
        flagged: Vec::new(),
    }
}

fn rendered(format: Format) -> String {
    let mut out = Vec::new();
    render(&doc(), format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn every_format_carries_the_numbers() {
    assert_eq!(rendered(Format::Csv), "what,count\ncharged,12\na|b <x>,3\n");
    let mut section = doc().sections[1].clone();
    section.machine_row(
        &["code", "count", "share"],
        vec!["200".into(), "12".into(), "0.8".into()],
    );
    let mut out = Vec::new();
    render_csv(&section, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "code,count,share\n200,12,0.8\n"
    );
    assert_eq!(doc().keys(), ["totals", "per_code"]);
    let md = rendered(Format::Markdown);
    assert!(
        md.contains("| what | count |\n| --- | ---: |\n| charged | 12 |\n| a\\|b &lt;x&gt; | 3 |"),
        "{md}"
    );
    // Text from the input never becomes markup in a Markdown viewer (`<script>`, `<img>`).
    assert!(!md.contains('<'), "{md}");
    let table = rendered(Format::Table);
    assert!(table.contains("charged") && table.contains("12") && table.contains("rule: x"));
    assert_eq!(
        rendered(Format::Json).trim(),
        "{\n  \"totals\": {\n    \"checks\": 15\n  }\n}"
    );
}

#[test]
fn html_is_self_contained_and_escaped() {
    let html = rendered(Format::Html);
    assert!(html.contains("<svg"));
    assert!(html.contains("a|b &lt;x&gt;"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("https://"), "no network references");
    assert!(!html.contains("<link"));
}

#[test]
fn chart_gridlines_are_round_numbers() {
    use super::html::nice_step;
    assert_eq!(nice_step(709.0 / 4.0), 200.0);
    assert_eq!(nice_step(57.0 / 4.0), 20.0);
    assert_eq!(nice_step(0.3), 1.0);
    assert_eq!(nice_step(2.2), 2.5);
    assert_eq!(nice_step(1000.0), 1000.0);
}

#[test]
fn sparkline_scales_to_the_maximum() {
    assert_eq!(sparkline(&[0.0, 1.0, 2.0]), "▁▅█");
    assert_eq!(sparkline(&[0.0, 0.0]), "▁▁");
    assert_eq!(sparkline(&[]), "");
}

/// Guards the word rule: no header word ("stat" over "us") and no cell word is ever broken. A
/// table whose longest words fit the terminal wraps its text at spaces; one whose words cannot
/// all fit is shown expanded, a block per row, within the terminal but for a word longer than
/// the terminal itself, which keeps a line of its own, whole.
#[test]
fn no_word_is_ever_broken_and_a_table_too_wide_is_shown_expanded() {
    let section = |attributes: &str| {
        let mut checks = Section::new("Checks", &["liveness id", "status", "attributes"]);
        checks.row(vec![
            "2f79307206eee337c5038f31".into(),
            "done".into(),
            attributes.into(),
        ]);
        checks
    };
    let render = |section: Section, width: u16| {
        let mut d = doc();
        d.sections = vec![section];
        let mut out = Vec::new();
        render_table(&d, Some(width), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let is_table = |text: &str| {
        text.lines()
            .any(|l| l.contains("liveness id") && l.contains("status"))
    };
    // An unbreakable 52-character JSON word: at 60 columns, a block whose JSON keeps its line.
    let json = "{\"app_version\":\"5.3.0\",\"channel\":\"ios\",\"country\":\"SG\"}";
    let text = render(section(json), 60);
    assert!(!is_table(&text), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(" status ") && l.ends_with("done")),
        "{text}"
    );
    assert!(text.contains(json), "{text}");
    // Words that wrap: a table at 60 columns, "status" whole, the attributes wrapped at spaces.
    let words = "app_version=5.3.0 channel=ios country=SG user_id=u11737 a long tail of words";
    let text = render(section(words), 60);
    assert!(is_table(&text), "{text}");
    assert!(text.contains("country=SG"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
    // 40 columns cannot hold the id, "status" and "plain" side by side: a block, no word broken.
    let text = render(section("a long tail of plain words"), 40);
    assert!(!is_table(&text), "{text}");
    assert!(
        text.contains("2f79307206eee337c5038f31") && text.contains("status"),
        "{text}"
    );
    assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
}
