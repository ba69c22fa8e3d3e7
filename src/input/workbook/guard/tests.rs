use std::io::Write;

use super::*;

/// A ZIP file of the given parts, deflated.
fn zip_of(parts: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut zip = zip::ZipWriter::new(file.reopen().unwrap());
    for (name, bytes) in parts {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    file
}

fn ods(table: &str) -> tempfile::NamedTempFile {
    let content = format!(
        "<?xml version=\"1.0\"?><office:document-content><office:body><office:spreadsheet>\
         <table:table table:name=\"Sheet1\">{table}</table:table></office:spreadsheet>\
         </office:body></office:document-content>"
    );
    zip_of(&[
        (
            "mimetype",
            b"application/vnd.oasis.opendocument.spreadsheet",
        ),
        ("content.xml", content.as_bytes()),
    ])
}

fn over(result: Result<ZipKind, Refusal>) -> OverLimit {
    match result {
        Err(Refusal::Over { limit, .. }) => limit,
        other => panic!("not refused over a limit: {other:?}"),
    }
}

#[test]
fn an_ods_cell_repeated_millions_of_times_is_refused_before_calamine_opens_it() {
    let bomb = ods(
        "<table:table-row table:number-rows-repeated=\"1000000\"><table:table-cell \
         office:value-type=\"string\" table:number-columns-repeated=\"20\"><text:p>x</text:p>\
         </table:table-cell></table:table-row>",
    );
    let limit = over(check_zip(bomb.path(), &Limits::default()));
    assert_eq!(limit.setting, Setting::MaxCells, "{limit}");
    assert!(limit.to_string().contains("--max-cells"), "{limit}");
    assert!(limit.seen.starts_with("20,000,000"), "{limit}");
}

#[test]
fn an_ods_with_the_trailing_empty_repeats_spreadsheets_write_is_read() {
    let ok = ods(
        "<table:table-row><table:table-cell office:value-type=\"string\"><text:p>id</text:p>\
         </table:table-cell><table:table-cell table:number-columns-repeated=\"1023\"/>\
         </table:table-row><table:table-row><table:table-cell office:value-type=\"string\">\
         <text:p>lv-1</text:p></table:table-cell><table:table-cell \
         table:number-columns-repeated=\"1023\"/></table:table-row><table:table-row \
         table:number-rows-repeated=\"1048574\"><table:table-cell \
         table:number-columns-repeated=\"1024\"/></table:table-row>",
    );
    assert_eq!(
        check_zip(ok.path(), &Limits::default()).unwrap(),
        ZipKind::Ods
    );
}

#[test]
fn an_ods_long_cell_repeated_across_columns_is_refused_by_its_expanded_text() {
    let text = "y".repeat(100_000);
    let bomb = ods(&format!(
        "<table:table-row table:number-rows-repeated=\"2000\"><table:table-cell \
         office:value-type=\"string\" table:number-columns-repeated=\"16\"><text:p>{text}\
         </text:p></table:table-cell></table:table-row>"
    ));
    let limit = over(check_zip(bomb.path(), &Limits::default()));
    assert!(limit.what.contains("expand to more text"), "{limit}");
}

#[test]
fn a_password_protected_ods_is_named_so() {
    let file = zip_of(&[
        (
            "mimetype",
            b"application/vnd.oasis.opendocument.spreadsheet",
        ),
        ("content.xml", b"\x00\x01binary"),
        (
            "META-INF/manifest.xml",
            b"<manifest:file-entry manifest:full-path=\"content.xml\"><manifest:encryption-data/>",
        ),
    ]);
    match check_zip(file.path(), &Limits::default()) {
        Err(Refusal::Not(m)) => assert!(m.contains("password-protected"), "{m}"),
        other => panic!("{other:?}"),
    }
}

fn xlsx(sheet: &str, strings: &str) -> tempfile::NamedTempFile {
    zip_of(&[
        ("xl/workbook.xml", b"<workbook/>"),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ("xl/sharedStrings.xml", strings.as_bytes()),
    ])
}

#[test]
fn xlsx_cells_and_shared_strings_are_measured() {
    let limits = Limits {
        max_cell_bytes: 1000,
        max_shared_strings: 10,
        ..Limits::default()
    };
    let fine = xlsx(
        "<c><v>1</v></c>",
        "<sst uniqueCount=\"1\"><si><t>a</t></si></sst>",
    );
    assert_eq!(check_zip(fine.path(), &limits).unwrap(), ZipKind::Xlsx);

    let long = xlsx(
        &format!("<c><is><t>{}</t></is></c>", "a".repeat(1001)),
        "<sst/>",
    );
    assert!(over(check_zip(long.path(), &limits)).setting == Setting::MaxCellBytes);
    // A CDATA section is one token however many '<' it holds.
    let cdata = xlsx(
        &format!("<c><![CDATA[{}]]></c>", "<a".repeat(600)),
        "<sst/>",
    );
    assert!(over(check_zip(cdata.path(), &limits)).setting == Setting::MaxCellBytes);
    let tag = xlsx(&format!("<c r=\"{}\"/>", "1".repeat(1001)), "<sst/>");
    assert!(over(check_zip(tag.path(), &limits)).setting == Setting::MaxCellBytes);

    let declared = xlsx("<c/>", "<sst count=\"5\" uniqueCount=\"4000000000\"></sst>");
    assert!(over(check_zip(declared.path(), &limits)).setting == Setting::MaxSharedStrings);
    let many = xlsx(
        "<c/>",
        &format!("<sst>{}</sst>", "<si><t/></si>".repeat(11)),
    );
    let limit = over(check_zip(many.path(), &limits));
    assert!(limit.seen.starts_with("11 "), "{limit}");

    let doctype = xlsx("<!DOCTYPE x [<!ENTITY a \"b\">]><c/>", "<sst/>");
    match check_zip(doctype.path(), &limits) {
        Err(Refusal::Not(m)) => assert!(m.contains("DOCTYPE"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_part_that_unpacks_past_its_limit_is_refused() {
    let limits = Limits {
        max_unpacked_mib: 1,
        max_cell_bytes: 4 << 20,
        ..Limits::default()
    };
    let big = xlsx(&format!("<c>{}</c>", "a".repeat(2 << 20)), "<sst/>");
    assert!(over(check_zip(big.path(), &limits)).setting == Setting::MaxUnpackedMib);
}

#[test]
fn xlsb_records_longer_than_a_cell_and_other_zips_are_named() {
    // One record of type 1 claiming 2,000 bytes (varint 0xd0 0x0f).
    let mut sheet = vec![0x01, 0xd0, 0x0f];
    sheet.extend(vec![0u8; 2000]);
    let file = zip_of(&[
        ("xl/workbook.bin", b""),
        ("xl/worksheets/sheet1.bin", &sheet),
    ]);
    let limits = Limits {
        max_cell_bytes: 1000,
        ..Limits::default()
    };
    assert!(over(check_zip(file.path(), &limits)).setting == Setting::MaxCellBytes);
    assert_eq!(
        check_zip(file.path(), &Limits::default()).unwrap(),
        ZipKind::Xlsb
    );
    let other = zip_of(&[("notes.txt", b"hello")]);
    match check_zip(other.path(), &Limits::default()) {
        Err(Refusal::Not(m)) => assert!(m.contains("not a workbook"), "{m}"),
        other => panic!("{other:?}"),
    }
}
