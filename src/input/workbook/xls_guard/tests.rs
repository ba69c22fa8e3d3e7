use std::io::Write;

use super::*;

#[path = "../../../../tests/util/xls.rs"]
mod xls;

use xls::{bof, number, rec, stream};

/// An OLE file in `dir` holding `stream` as its `Workbook`.
fn ole(dir: &Path, stream: &[u8]) -> std::path::PathBuf {
    let path = dir.join("book.xls");
    xls::ole(&path, stream);
    path
}

fn cells_refused(result: Result<(), Refusal>) -> String {
    match result {
        Err(Refusal::Over { part, limit }) => {
            assert_eq!(part, "Workbook");
            assert_eq!(limit.setting, Setting::MaxCells, "{limit}");
            limit.seen
        }
        other => panic!("not refused over cells: {other:?}"),
    }
}

#[test]
fn a_real_xls_passes_and_is_measured_by_its_used_area() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/inputs/legacy.xls");
    check_xls(&path, &Limits::default()).unwrap();
    let tight = Limits {
        max_cells: 2,
        ..Limits::default()
    };
    cells_refused(check_xls(&path, &tight));
}

#[test]
fn two_far_apart_cells_count_as_the_whole_rectangle_between_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = ole(dir.path(), &stream(1, &[number(0, 0), number(65_535, 255)]));
    assert_eq!(
        cells_refused(check_xls(&path, &Limits::default())),
        "16,777,216 cells"
    );
    let path = ole(dir.path(), &stream(1, &[number(0, 0), number(9, 1)]));
    check_xls(&path, &Limits::default()).unwrap();
}

#[test]
fn sheet_entries_pointing_at_one_sheet_count_once_each() {
    let dir = tempfile::tempdir().unwrap();
    // Each entry is parsed (and held) again: 100 x 1,000 cells each, refused at the 21st.
    let path = ole(dir.path(), &stream(40, &[number(0, 0), number(99, 999)]));
    assert_eq!(
        cells_refused(check_xls(&path, &Limits::default())),
        "2,100,000 cells"
    );
    let path = ole(dir.path(), &stream(20, &[number(0, 0), number(99, 999)]));
    check_xls(&path, &Limits::default()).unwrap();
}

#[test]
fn a_dimensions_record_ending_before_it_starts_claims_what_calamine_reserves() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    data.extend(10u32.to_le_bytes());
    data.extend(5u32.to_le_bytes());
    data.extend(0u16.to_le_bytes());
    data.extend(1u16.to_le_bytes());
    data.extend(0u16.to_le_bytes());
    let path = ole(dir.path(), &stream(1, &[rec(record::DIMENSIONS, &data)]));
    let seen = cells_refused(check_xls(&path, &Limits::default()));
    assert_eq!(seen, "4,294,967,291 cells");
}

#[test]
fn a_sheet_past_the_stream_end_is_damaged_and_no_workbook_stream_is_left_to_calamine() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = 1_000_000u32.to_le_bytes().to_vec();
    data.extend([0, 0, 1, 0, b'S']);
    let mut s = bof(5);
    s.extend(rec(record::BOUND_SHEET, &data));
    s.extend(rec(record::EOF, &[]));
    let path = ole(dir.path(), &s);
    match check_xls(&path, &Limits::default()) {
        Err(Refusal::Not(message)) => assert!(message.contains("damaged"), "{message}"),
        other => panic!("{other:?}"),
    }

    let path = dir.path().join("other.xls");
    let mut book = cfb::create(&path).unwrap();
    book.create_stream("/EncryptedPackage")
        .unwrap()
        .write_all(b"x")
        .unwrap();
    book.flush().unwrap();
    check_xls(&path, &Limits::default()).unwrap();
}
