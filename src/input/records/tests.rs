//! Unit tests of reading rows into ids: columns, headers, lines, id rules.

use super::id_rules::spreadsheet_damage;
use super::*;
use crate::input::{BadTimes, Source, read_ids};
use std::io::Write;

fn read(content: &[u8], opts: &InputOptions) -> Result<(Vec<IdRow>, InputStats), InputError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content).unwrap();
    let mut stats = InputStats::default();
    let mut rows = Vec::new();
    read_ids::<()>(&Source::File(f.path().into()), opts, &mut stats, |r| {
        rows.push(r);
        Ok(())
    })?
    .unwrap();
    Ok((rows, stats))
}

fn ids(rows: &[IdRow]) -> Vec<&str> {
    rows.iter().map(|r| r.liveness_id.as_str()).collect()
}

#[test]
fn messy_export() {
    let content = b"\xEF\xBB\xBFliveness_id,created_at,channel,note\r\n\
        \"  abc-1 \",2024-05-01 10:00:00,web,\"a, quoted\nnote\"\r\n\
        \r\n\
        ,2024-05-01 10:00:00,web,blank id\r\n\
        0012345678901234567890,1714557600,app,caf\xe9\r\n\
        ragged-1,2024-05-01T10:00:00Z\r\n\
        abc-1,not a time,web,dup\r\n";
    let (rows, stats) = read(content, &InputOptions::default()).unwrap();
    assert_eq!(
        ids(&rows),
        ["abc-1", "0012345678901234567890", "ragged-1", "abc-1"]
    );
    assert_eq!(rows[0].event_time_ms, Some(1_714_557_600_000));
    assert_eq!(rows[1].event_time_ms, Some(1_714_557_600_000));
    assert_eq!(rows[3].event_time_ms, None);
    assert_eq!(
        rows[0].attrs.as_deref(),
        Some(r#"{"channel":"web","note":"a, quoted\nnote"}"#)
    );
    assert_eq!(
        rows[1].attrs.as_deref(),
        Some(r#"{"channel":"app","note":"café"}"#)
    );
    let lines: Vec<&str> = rows
        .iter()
        .map(|r| r.source.rsplit(':').next().unwrap())
        .collect();
    assert_eq!(lines, ["2", "6", "7", "8"]);
    assert_eq!(stats.blank_ids, 1);
    assert_eq!(stats.latin1_fields, 1);
    assert_eq!(stats.ragged_rows, 1);
    assert_eq!(stats.bad_times, 1);
    assert_eq!(stats.rows, 5);
    assert_eq!(stats.ids, 4);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    /// Whatever the quoting, line endings, BOM, blank lines, padding and duplicates, the set
    /// of ids read is exactly the set written.
    #[test]
    fn the_ids_read_are_exactly_the_ids_written(
        ids in proptest::collection::vec("[A-Za-z0-9_./:-][A-Za-z0-9_.\"/:-]{0,20}[A-Za-z0-9_.-]", 1..40),
        quote_all in proptest::bool::ANY,
        eol in proptest::sample::select(vec!["\n", "\r\n"]),
        bom in proptest::bool::ANY,
        pads in proptest::collection::vec(0usize..3, 40),
        blanks in proptest::collection::vec(0usize..3, 40),
        dups in proptest::collection::vec(proptest::bool::ANY, 40),
    ) {
        // Ids shaped like spreadsheet damage are refused on purpose (tested on their own).
        let ids: Vec<String> = ids.into_iter().filter(|id| spreadsheet_damage(id).is_none()).collect();
        proptest::prop_assume!(!ids.is_empty());
        let mut content = Vec::new();
        if bom {
            content.extend_from_slice(b"\xEF\xBB\xBF");
        }
        content.extend_from_slice(format!("liveness_id,note{eol}").as_bytes());
        for (i, id) in ids.iter().enumerate() {
            let padded = format!("{}{id}{}", " ".repeat(pads[i]), "\t".repeat(pads[i] % 2));
            let needs_quotes = quote_all || id.contains([',', '"', '\n']);
            let field = if needs_quotes {
                format!("\"{}\"", padded.replace('"', "\"\""))
            } else {
                padded
            };
            let line = format!("{field},n{i}{eol}");
            content.extend_from_slice(line.as_bytes());
            if dups[i] {
                content.extend_from_slice(line.as_bytes());
            }
            for _ in 0..blanks[i] {
                content.extend_from_slice(eol.as_bytes());
            }
        }
        let (rows, stats) = read(&content, &InputOptions::default()).unwrap();
        let read_set: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.liveness_id.as_str()).collect();
        let want: std::collections::BTreeSet<&str> = ids.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
        proptest::prop_assert_eq!(read_set, want);
        proptest::prop_assert_eq!(stats.ids as usize, ids.len() + dups.iter().take(ids.len()).filter(|d| **d).count());
    }
}

#[test]
fn lines_are_physical_lines_whatever_the_line_endings() {
    for eol in ["\n", "\r\n", "\r"] {
        let content = [
            "liveness_id,note",
            "a,x",
            "b,\"two",
            "lines\"",
            "",
            "",
            "c,y",
            "  ",
            "d,z",
        ]
        .join(eol);
        let (rows, _) = read(content.as_bytes(), &InputOptions::default()).unwrap();
        let lines: Vec<&str> = rows
            .iter()
            .map(|r| r.source.rsplit(':').next().unwrap())
            .collect();
        assert_eq!(lines, ["2", "3", "7", "9"], "{eol:?}");
    }
}

#[test]
fn headerless_single_column() {
    let (rows, _) = read(b"\xEF\xBB\xBF123\n456\n\n 789 \n", &InputOptions::default()).unwrap();
    assert_eq!(ids(&rows), ["123", "456", "789"]);
    assert_eq!(rows[0].attrs, None);
    let (rows, _) = read(b"uuid\nab12\n", &InputOptions::default()).unwrap();
    assert_eq!(ids(&rows), ["ab12"]);
    // A first row that names no id column is the first id, even without digits.
    let (rows, _) = read(b"abcdef\nab12\n", &InputOptions::default()).unwrap();
    assert_eq!(ids(&rows), ["abcdef", "ab12"]);
}

#[test]
fn named_columns() {
    let opts = InputOptions {
        id_column: Some("Check Ref".into()),
        time_column: Some("when".into()),
        ..InputOptions::default()
    };
    let (rows, _) = read(b"when,Check Ref\n2024-05-01,x1\n", &opts).unwrap();
    assert_eq!(ids(&rows), ["x1"]);
    assert_eq!(rows[0].event_time_ms, Some(1_714_521_600_000));
}

#[test]
fn unreadable_input_names_file_line_and_fix() {
    let err = read(b"user,channel\nu1,web\n", &InputOptions::default()).unwrap_err();
    assert!(matches!(err, InputError::NoIdColumn { .. }), "{err}");
    assert!(err.to_string().contains("--id-column"), "{err}");

    let err = read(b"liveness_id\nok\nbad\xff\n", &InputOptions::default()).unwrap_err();
    assert!(
        matches!(err, InputError::IdNotUtf8 { line: 3, .. }),
        "{err}"
    );

    let long = format!("liveness_id\n{}\n", "x".repeat(600));
    let err = read(long.as_bytes(), &InputOptions::default()).unwrap_err();
    assert!(
        matches!(err, InputError::IdTooLong { line: 2, .. }),
        "{err}"
    );

    let err = read(b"", &InputOptions::default()).unwrap_err();
    assert!(matches!(err, InputError::Empty { .. }), "{err}");

    let opts = InputOptions {
        id_column: Some("nope".into()),
        ..InputOptions::default()
    };
    let err = read(b"liveness_id\n1\n", &opts).unwrap_err().to_string();
    assert!(
        err.contains("\"nope\"") && err.contains("--id-column"),
        "{err}"
    );
}

fn read_err(content: &[u8]) -> String {
    read(content, &InputOptions::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn each_delimiter_and_encoding_gives_the_same_ids_and_times() {
    let want = ["a869ed01", "b2", "c3"];
    let t = Some(1_792_998_306_000); // 2026-10-26T07:05:06Z
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for d in [",", ";", "\t", "|"] {
        let text = format!(
            "liveness_id{d}created_at{d}note\r\na869ed01{d}2026-10-26T14:05:06+07:00{d}x\r\n\
             b2{d}2026-10-26T07:05:06Z{d}\"p{d} q\"\r\nc3{d}1792998306{d}z\r\n"
        );
        inputs.push(text.clone().into_bytes());
        let mut le = vec![0xff, 0xfe];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        inputs.push(le);
        let mut be = vec![0xfe, 0xff];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        inputs.push(be);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&inputs[inputs.len() - 2]).unwrap();
        inputs.push(gz.finish().unwrap());
        // zstd in two frames, as pzstd or appended files write it.
        let (a, b) = text.as_bytes().split_at(text.len() / 2);
        let level = ruzstd::encoding::CompressionLevel::Fastest;
        let mut zst = ruzstd::encoding::compress_to_vec(a, level);
        zst.extend(ruzstd::encoding::compress_to_vec(b, level));
        inputs.push(zst);
    }
    for (i, input) in inputs.iter().enumerate() {
        let (rows, stats) = read(input, &InputOptions::default()).unwrap();
        assert_eq!(ids(&rows), want, "input {i}");
        assert!(rows.iter().all(|r| r.event_time_ms == t), "input {i}");
        assert_eq!(stats.columns.len(), 1);
        assert!(
            stats.columns[0].contains("(detected)"),
            "{}",
            stats.columns[0]
        );
    }
    let (_, stats) = read(&inputs[8], &InputOptions::default()).unwrap();
    assert!(
        stats.columns[0].contains("UTF-16LE text (BOM), gzip, delimiter ';'"),
        "{}",
        stats.columns[0]
    );
}

#[test]
fn ids_with_control_space_or_delimiter_characters_are_refused_escaped() {
    // A semicolon file read as one column: the delimiter is in the id.
    let err = read_err(b"liveness_id\nabc;2026-10-13\n");
    assert!(
        err.contains(":2: the id \"abc;2026-10-13\" holds a delimiter character"),
        "{err}"
    );
    assert!(err.contains("--delimiter"), "{err}");
    let err = read_err(b"liveness_id\nok\nab\x1b[2Jc\n");
    assert!(
        err.contains(":3:") && err.contains("'\\u{1b}' at character 3"),
        "{err}"
    );
    assert!(!err.contains('\x1b'), "{err}");
    assert!(err.contains("encoding"), "{err}");
    let err = read_err("liveness_id\nab\u{85}c\n".as_bytes());
    assert!(err.contains("\\u{85}"), "{err}");
    let err = read_err(b"liveness_id\nab c\n");
    assert!(err.contains("whitespace inside"), "{err}");
    // Non-UTF-8 bytes are shown escaped, never raw.
    let err = read_err(b"liveness_id\nab\x9b2J\n");
    assert!(err.contains("\\u{9b}") && !err.contains('\u{9b}'), "{err}");
}

#[test]
fn ids_a_spreadsheet_damaged_are_refused_and_real_ids_are_not() {
    for (bad, what) in [
        ("1.23457E+17", "scientific notation"),
        ("1.2e+17", "scientific notation"),
        ("4.5E-3", "scientific notation"),
        ("1E+17", "scientific notation"),
        ("-1.5e3", "scientific notation"),
        ("123456789012345678.0", "decimal point"),
        ("42.00", "decimal point"),
        ("'0123456789", "apostrophe"),
        ("#N/A", "error value"),
        ("#VALUE!", "error value"),
        ("#####", "error value"),
    ] {
        let err = read_err(
            format!("liveness_id,created_at\nok-1,2026-10-05\n{bad},2026-10-05\n").as_bytes(),
        );
        assert!(
            err.contains(&format!(":3: the id \"{bad}\" ")),
            "{bad}: {err}"
        );
        assert!(err.contains(what), "{bad}: {err}");
    }
    let err = read_err(b"1.23457E+17\n");
    assert!(
        err.contains("Excel turned a long number into scientific notation"),
        "{err}"
    );
    assert!(
        err.contains("format the column as Text and export again"),
        "{err}"
    );
    // Hex, uuids and digits-only ids (with an `e` or not) are ids.
    let real = [
        "123456789012345678",
        "12e45",
        "1e10",
        "deadbeefe1234",
        "0e5c7a1f-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
        "abc.def",
        "12.5",
        "v1.0",
    ];
    let text = format!("liveness_id\n{}\n", real.join("\n"));
    let (rows, _) = read(text.as_bytes(), &InputOptions::default()).unwrap();
    assert_eq!(ids(&rows), real);
}

#[test]
fn a_broken_quote_stops_at_its_line() {
    let err = read_err(b"liveness_id,created_at,note\nlv-0001,2026-01-01,\"open\nlv-0002,2026-01-01,x\nlv-0003,2026-01-01,y\"\nlv-0004,2026-01-01,z\n");
    assert!(err.contains(":2: a field runs over several lines"), "{err}");
    // A real multi-line note is kept.
    let (rows, _) = read(
        b"liveness_id,note\na1,\"two\nlines, fine\"\na2,x\n",
        &InputOptions::default(),
    )
    .unwrap();
    assert_eq!(ids(&rows), ["a1", "a2"]);
}

#[test]
fn an_ambiguous_id_column_is_refused_unless_id_column_settles_it() {
    let err = read_err(b"liveness_id,created_at,liveness_id\na,2026-01-01,b\n");
    assert!(
        err.contains(":1: several columns could be the id column: \"liveness_id\" (column 1), \"liveness_id\" (column 3); rename one"),
        "{err}"
    );
    let content = b"liveness_id,Liveness ID\na,b\n";
    let err = read_err(content);
    assert!(err.contains("--id-column"), "{err}");
    let opts = InputOptions {
        id_column: Some("Liveness ID".into()),
        ..InputOptions::default()
    };
    let (rows, _) = read(content, &opts).unwrap();
    assert_eq!(ids(&rows), ["b"]);
    // A preferred name beside a generic one is no ambiguity.
    let (rows, _) = read(b"id,liveness_id\n1,a\n", &InputOptions::default()).unwrap();
    assert_eq!(ids(&rows), ["a"]);
}

#[test]
fn a_broken_quote_in_a_one_column_file_is_named_as_one() {
    for content in [
        &b"liveness_id\n\"abc\nrow2\n"[..],
        b"liveness_id\r\nok\r\n\"abc\r\nrow2\r\nrow3\r\n",
        b"\"abc\nrow2\n",
    ] {
        let err = read_err(content);
        let line = if content.starts_with(b"liveness_id\r") {
            3
        } else if content.starts_with(b"\"") {
            1
        } else {
            2
        };
        assert!(
            err.contains(&format!(":{line}: a field runs over several lines")),
            "{err}"
        );
        assert!(
            err.contains("(\"row2\")") && err.contains("quote opened and not closed"),
            "{err}"
        );
        assert!(!err.contains("control or invisible"), "{err}");
    }
}

#[test]
fn repeated_headers_are_skipped_and_counted() {
    let (rows, stats) = read(
        b"liveness_id,created_at\na1,2026-01-01\nliveness_id,created_at\na2,2026-01-02\n liveness_id , created_at\n",
        &InputOptions::default(),
    )
    .unwrap();
    assert_eq!(ids(&rows), ["a1", "a2"]);
    assert_eq!(stats.repeated_headers, 2);
}

#[test]
fn line_numbers_stay_right_and_memory_flat_over_blank_lines() {
    let mut content = b"liveness_id\n".to_vec();
    content.extend(std::iter::repeat_n(b'\n', 300_000));
    content.extend(b"a1\n\r\n\r\n  \nb2\n");
    let (rows, _) = read(&content, &InputOptions::default()).unwrap();
    let lines: Vec<&str> = rows
        .iter()
        .map(|r| r.source.rsplit(':').next().unwrap())
        .collect();
    assert_eq!(lines, ["300002", "300006"]);
    // The index keeps one run for a block of blank lines.
    let mut index = LineIndex::default();
    for i in 0..1000 {
        index.push_break(i, b'\n');
    }
    assert_eq!(index.runs.len(), 1);
    assert_eq!(index.line_at(1000), 1001);
}

#[test]
fn a_record_past_the_cap_stops_the_run() {
    let mut content = b"liveness_id\n".to_vec();
    content.extend(std::iter::repeat_n(b'a', MAX_RECORD_BYTES + 100_000));
    let err = read_err(&content);
    assert!(err.contains("without the end of a row"), "{err}");
    let mut content = b"liveness_id,note\na1,\"".to_vec();
    for _ in 0..200_000 {
        content.extend(b"short line\n");
    }
    let err = read_err(&content);
    assert!(err.contains("without the end of a row"), "{err}");
}

#[test]
fn what_is_not_an_id_list_is_refused_by_what_it_is() {
    let utf16: Vec<u8> = "liveness_id\nabc\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert!(read_err(&utf16).contains("UTF-16 (little-endian) without a byte-order mark"));
    let all: Vec<u8> = (0..=255).collect();
    assert!(read_err(&all).contains("binary data"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&all).unwrap();
    let err = read_err(&gz.finish().unwrap());
    assert!(err.contains("binary data"), "{err}");
    assert!(read_err(b"PK\x03\x04rest").contains("not a workbook"));
    assert!(read_err(b"\x1f\x8b\x08\x00garbage").contains("cannot read"));
    assert!(read_err(b"\x28\xb5\x2f\xfd\xff\xff\xff").contains("cannot read"));
}

#[test]
fn unreadable_times_are_counted_with_examples_and_a_suggestion() {
    let (rows, stats) = read(
        b"liveness_id,created_at\na1,26/10/2026 14:05\na2,01/02/2026 10:00\na3,2026-10-26T00:00:00Z\n",
        &InputOptions::default(),
    )
    .unwrap();
    assert_eq!(stats.bad_times, 2);
    assert_eq!(rows[0].event_time_ms, None);
    assert!(!rows[0].dated_by_fetch);
    assert_eq!(
        rows[0].attrs.as_deref(),
        Some(r#"{"created_at":"26/10/2026 14:05"}"#)
    );
    let err = stats
        .bad_times_error(&InputOptions::default())
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("2 time(s) could not be read, e.g. "),
        "{err}"
    );
    assert!(err.contains(":2: \"26/10/2026 14:05\""), "{err}");
    assert!(err.contains("--time-format '%d/%m/%Y %H:%M'"), "{err}");
    let opts = InputOptions {
        bad_times: BadTimes::FetchTime,
        ..InputOptions::default()
    };
    assert!(stats.bad_times_error(&opts).is_none());
    let (rows, _) = read(b"liveness_id,created_at\na1,26/10/2026 14:05\n", &opts).unwrap();
    assert!(rows[0].dated_by_fetch);
    let opts = InputOptions {
        time_formats: vec!["%d/%m/%Y %H:%M".into()],
        ..InputOptions::default()
    };
    let (rows, stats) = read(b"liveness_id,created_at\na1,26/10/2026 14:05\n", &opts).unwrap();
    assert_eq!(stats.bad_times, 0);
    assert_eq!(rows[0].event_time_ms, Some(1_793_023_500_000));
}

#[test]
fn a_title_above_the_header_is_skipped_and_the_table_read_whole() {
    // Comma-padded (Excel's CSV of a sheet with a title), and bare over a `;` table.
    let padded = b"CRM_EXPORT,,\n2026-11-01,,\n\nliveness_id,created_at,channel\n\
        a1,2026-11-01 10:00,web\nb2,2026-11-01 11:00,app\n";
    let bare = b"CRM export\nliveness_id;created_at;channel\na1;2026-11-01 10:00;web\n";
    for (content, first_line) in [(&padded[..], 4), (&bare[..], 2)] {
        let (rows, stats) = read(content, &InputOptions::default()).unwrap();
        assert_eq!(ids(&rows)[0], "a1");
        assert!(rows.iter().all(|r| r.event_time_ms.is_some()), "times kept");
        assert_eq!(stats.above_header.len(), 1);
        assert!(
            stats.above_header[0].contains(&format!("above the header on line {first_line}")),
            "{:?}",
            stats.above_header
        );
        assert!(stats.columns[0].contains("time column \"created_at\""));
    }
    // A headerless id list is not a title: its first row is an id.
    let (rows, stats) = read(b"a1\nb2\nliveness_id\nc3\n", &InputOptions::default()).unwrap();
    assert_eq!(ids(&rows), ["a1", "b2", "liveness_id", "c3"]);
    assert!(stats.above_header.is_empty());
}

#[test]
fn footer_rows_after_the_table_are_skipped_and_rows_like_them_inside_it_kept() {
    let content = b"liveness_id,created_at,amount\n\
        a1,2026-11-01 10:00,1\n\
        b2,,\n\
        c3,2026-11-01 11:00,1\n\
        TOTAL,,2\n\
        Generated_by_CRM_v2,,\n";
    let (rows, stats) = read(content, &InputOptions::default()).unwrap();
    // b2 has no time and nothing else, but a check follows it: it is a check.
    assert_eq!(ids(&rows), ["a1", "b2", "c3"]);
    assert_eq!(stats.footer_rows, 2);
    assert_eq!(stats.footers.len(), 1);
    assert!(stats.footers[0].contains(":5-6"), "{:?}", stats.footers);
    // A file without a time column has no footer rule: every row is an id.
    let (rows, stats) = read(b"liveness_id,note\na1,x\nb2,\n", &InputOptions::default()).unwrap();
    assert_eq!(ids(&rows), ["a1", "b2"]);
    assert_eq!(stats.footer_rows, 0);
    // Undated checks shaped like the table's ids at its end are checks, digits or not.
    let (rows, stats) = read(
        b"liveness_id,created_at\nold-done,2026-11-01\nold-pending,\nnew-one,,\n",
        &InputOptions::default(),
    )
    .unwrap();
    assert_eq!(ids(&rows), ["old-done", "old-pending", "new-one"]);
    assert_eq!(stats.footer_rows, 0);
    // Undated rows only (the time column empty throughout): none is a footer.
    let (rows, _) = read(
        b"liveness_id,created_at\na1,\nb2,\n",
        &InputOptions::default(),
    )
    .unwrap();
    assert_eq!(ids(&rows), ["a1", "b2"]);
}
