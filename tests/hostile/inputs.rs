//! Hostile and mistaken inputs, one test per finding of the third trust pass: workbook bombs,
//! typo'd years, wide rows, date and boolean cells as ids, odd partner codes, endless cursors,
//! many accounts and the words of workbook errors. Every bomb is built here, byte by byte, tiny
//! on disk; each refusal must exit 2 with nothing sent.

use std::io::Write;

use crate::util::{Env, xls};

/// A ZIP file of `parts` (deflated) at `name` in the test directory.
fn zip_file(env: &Env, name: &str, parts: &[(&str, &[u8])]) {
    let file = std::fs::File::create(env.path(name)).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    for (part, bytes) in parts {
        zip.start_file(*part, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// An .ods whose one sheet is `rows`.
fn ods(env: &Env, name: &str, rows: &str) {
    let content = format!(
        "<?xml version=\"1.0\"?><office:document-content><office:body><office:spreadsheet>\
         <table:table table:name=\"Sheet1\">{rows}</table:table></office:spreadsheet>\
         </office:body></office:document-content>"
    );
    zip_file(
        env,
        name,
        &[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            ("content.xml", content.as_bytes()),
        ],
    );
}

/// An .xlsx of one sheet whose cells are given as XML, with the shared strings given.
fn xlsx(env: &Env, name: &str, rows: &str, strings: &str) {
    let sheet = format!(
        "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\
         <sheetData>{rows}</sheetData></worksheet>"
    );
    zip_file(
        env,
        name,
        &[
            (
                "[Content_Types].xml",
                b"<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>",
            ),
            (
                "_rels/.rels",
                b"<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
                  <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>",
            ),
            (
                "xl/workbook.xml",
                b"<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
                  xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">\
                  <sheets><sheet name=\"Ids\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
            ),
            (
                "xl/_rels/workbook.xml.rels",
                b"<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
                  <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
                  <Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings\" Target=\"sharedStrings.xml\"/></Relationships>",
            ),
            ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
            ("xl/sharedStrings.xml", strings.as_bytes()),
        ],
    );
}

/// Asserts a refused run sent nothing and registered nothing.
fn nothing_sent(env: &Env) {
    assert_eq!(env.mock.stats().result_requests, 0, "a request was sent");
    if env.db().exists() {
        assert!(env.checks().is_empty(), "checks were registered");
    }
}

#[test]
fn workbook_bombs_are_refused_before_they_are_opened_naming_the_limit_and_its_flag() {
    let env = Env::plain();
    // 1,000,000 rows x 20 columns of one repeated cell: a few hundred bytes on disk.
    ods(
        &env,
        "bomb.ods",
        "<table:table-row table:number-rows-repeated=\"1000000\"><table:table-cell \
         office:value-type=\"string\" table:number-columns-repeated=\"20\"><text:p>x</text:p>\
         </table:table-cell></table:table-row>",
    );
    assert!(std::fs::metadata(env.path("bomb.ods")).unwrap().len() < 2000);
    let run = env.fetch("bomb.ods").quick().run();
    run.expect(2);
    run.stderr_has("20,000,000 cells");
    run.stderr_has("--max-cells");
    nothing_sent(&env);

    // One long inline cell, and a shared-string table declaring billions of entries.
    let long = format!(
        "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>{}</t></is></c></row>",
        "a".repeat(5000)
    );
    xlsx(&env, "long.xlsx", &long, "<sst/>");
    let run = env
        .fetch("long.xlsx")
        .quick()
        .flag("--max-cell-bytes", "4096")
        .run();
    run.expect(2);
    run.stderr_has("--max-cell-bytes");
    xlsx(
        &env,
        "sst.xlsx",
        "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c></row>",
        "<sst count=\"1\" uniqueCount=\"4000000000\"><si><t>liveness_id</t></si></sst>",
    );
    let run = env.fetch("sst.xlsx").quick().run();
    run.expect(2);
    run.stderr_has("--max-shared-strings");
    nothing_sent(&env);

    // The same kind of workbook within the limits is read.
    xlsx(
        &env,
        "fine.xlsx",
        "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c></row><row r=\"2\"><c r=\"A2\" t=\"s\"><v>1</v></c></row>",
        "<sst count=\"2\" uniqueCount=\"2\"><si><t>liveness_id</t></si><si><t>lv-00000001</t></si></sst>",
    );
    env.fetch("fine.xlsx").quick().run().expect(0);
    env.assert_all_match_mock();
}

/// An .xls (OLE) file whose `Workbook` stream lists `entries` sheets, all starting at one sheet
/// holding a number in A1 and one in its last row and column.
fn sparse_xls(env: &Env, name: &str, entries: u32) {
    let sheet = [xls::number(0, 0), xls::number(65_535, 255)];
    xls::ole(&env.path(name), &xls::stream(entries, &sheet));
}

/// A sparse .xls (two cells at opposite corners of a sheet, listed 64 times; 20 KB on disk)
/// would make the workbook reader hold 64 whole sheets, over 30 GB: it is refused before it is
/// opened.
#[test]
fn a_sparse_xls_is_refused_before_it_is_opened() {
    let env = Env::plain();
    sparse_xls(&env, "sparse.xls", 64);
    assert!(std::fs::metadata(env.path("sparse.xls")).unwrap().len() < 65_536);
    let run = env.fetch("sparse.xls").quick().run();
    run.expect(2);
    run.stderr_has("sparse.xls (Workbook)");
    run.stderr_has("16,777,216 cells");
    run.stderr_has("--max-cells");
    nothing_sent(&env);
}

#[test]
fn a_typoed_year_is_refused_at_intake_and_a_report_of_far_dates_exits_2_naming_them() {
    let env = Env::plain();
    env.write(
        "year.csv",
        "liveness_id,created_at\nlv-00000001,0026-01-05\nlv-00000002,2026-01-05\n",
    );
    let run = env.fetch("year.csv").quick().run();
    run.expect(2);
    run.stderr_has("\"0026-01-05\" (before 2000)");
    run.stderr_has("correct the year");
    nothing_sent(&env);
    env.write(
        "ahead.csv",
        "liveness_id,created_at\nlv-00000003,9026-01-05\n",
    );
    let run = env.fetch("ahead.csv").quick().run();
    run.expect(2);
    run.stderr_has("more than a day in the future");

    // --bad-times fetch-time dates it by its fetch time, as any unreadable time.
    env.fetch("year.csv")
        .quick()
        .flag("--bad-times", "fetch-time")
        .run()
        .expect(0);
    let basis: Option<String> =
        env.one("SELECT time_basis FROM checks WHERE liveness_id = 'lv-00000001'");
    assert_eq!(basis.as_deref(), Some("fetch"));

    // A database holding such a date from before the check: the report refuses to lay out
    // 730,000 days and names the dates and the flags that narrow it.
    env.conn()
        .execute(
            // 0026-01-05T00:00:00Z, as an older liveaudit stored a typo'd year.
            "UPDATE checks SET event_time = -61346332800000 WHERE liveness_id = 'lv-00000001'",
            [],
        )
        .unwrap();
    let run = env.run(&["report", "billing", "--by", "day", "--tz", "UTC"]);
    run.expect(2);
    run.stderr_has("from 0026-01-05 to 2026-");
    run.stderr_has("--from");
    let run = env.run(&["report", "attacks", "--by", "day", "--tz", "UTC"]);
    run.expect(2);
    // Narrowed to the real dates, the same database reports.
    env.run_line("report billing --by day --from 2026-01-01 --tz UTC")
        .expect(0);
}

#[test]
fn wide_rows_are_refused_by_kept_columns_and_attribute_bytes() {
    let env = Env::plain();
    let header: Vec<String> = std::iter::once("liveness_id".to_string())
        .chain((0..2000).map(|i| format!("c{i}")))
        .collect();
    let row: Vec<&str> = std::iter::once("lv-00000001")
        .chain(std::iter::repeat_n("1", 2000))
        .collect();
    env.write(
        "wide.csv",
        format!("{}\n{}\n", header.join(","), row.join(",")),
    );
    let run = env.fetch("wide.csv").quick().run();
    run.expect(2);
    run.stderr_has("2,000 columns");
    run.stderr_has("--max-columns");
    nothing_sent(&env);
    let run = env
        .fetch("wide.csv")
        .quick()
        .flag("--max-columns", "5000")
        .flag("--max-attr-bytes", "1000")
        .run();
    run.expect(2);
    run.stderr_has("wide.csv:2");
    run.stderr_has("--max-attr-bytes");
    nothing_sent(&env);
}

#[test]
fn date_boolean_and_error_cells_in_the_id_column_are_refused_naming_the_cell() {
    let env = Env::plain();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (name, kind) in [("date.xlsx", "date"), ("bool.xlsx", "TRUE/FALSE")] {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "liveness_id").unwrap();
        sheet.write_string(1, 0, "lv-00000001").unwrap();
        if name == "date.xlsx" {
            sheet
                .write_number_with_format(2, 0, 44197.0, &date)
                .unwrap();
        } else {
            sheet.write_boolean(2, 0, false).unwrap();
        }
        book.save(env.path(name)).unwrap();
        let run = env.fetch(name).quick().run();
        run.expect(2);
        run.stderr_has(&format!("{name}:3 (cell A3)"));
        run.stderr_has(kind);
    }
    nothing_sent(&env);
    // A line break typed into a cell is named as such, not as a quote left open.
    xlsx(
        &env,
        "break.xlsx",
        "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>liveness_id</t></is></c></row>\
         <row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>lv-1\nlv-2</t></is></c></row>",
        "<sst/>",
    );
    let run = env.fetch("break.xlsx").quick().run();
    run.expect(2);
    run.stderr_has("a line break inside the cell");
    assert!(!run.stderr.contains("quote"), "{}", run.stderr);
    nothing_sent(&env);
}

#[test]
fn adopt_takes_only_a_partner_code_the_settings_name_unless_forced() {
    let env = Env::plain().ids(2);
    env.fetch("ids.csv").quick().run().expect(0);
    env.conn()
        .execute("UPDATE checks SET partner_code = 'unknown'", [])
        .unwrap();
    let run = env.run(&["adopt", "--partner-code", "test-partnr"]);
    run.expect(2);
    run.stderr_has("no setting names this partner code");
    run.stderr_has("--force");
    for odd in ["te\u{1b}st", &"x".repeat(5000), "a b"] {
        let run = env.run(&["adopt", "--force", "--partner-code", odd]);
        run.expect(2);
        run.stderr_has("is not a partner code");
    }
    let unknown: u64 = env.one("SELECT count(*) FROM checks WHERE partner_code = 'unknown'");
    assert_eq!(unknown, 2, "a refused adopt changed nothing");
    // The unnamed account's own code (TD_PARTNER_CODE) is known; another code needs --force.
    env.run(&["adopt", "--partner-code", crate::util::CODE])
        .expect(0);
    env.conn()
        .execute("UPDATE checks SET partner_code = 'unknown'", [])
        .unwrap();
    env.run(&["adopt", "--force", "--partner-code", "old-app"])
        .expect(0);
    let codes: u64 = env.one("SELECT count(*) FROM checks WHERE partner_code = 'old-app'");
    assert_eq!(codes, 2);
}

#[test]
fn an_endless_cursor_or_config_ends_at_its_cap_and_many_accounts_load() {
    let env = Env::plain().ids(1);
    env.fetch("ids.csv").quick().run().expect(0);
    let run = env.run(&["export", "--cursor", "/dev/zero", "-o", "out.csv"]);
    run.expect(2);
    run.stderr_has("/dev/zero");
    run.stderr_has("larger than 64 KiB");
    let run = env.run(&["--config", "/dev/zero", "codes"]);
    run.expect(2);
    run.stderr_has("larger than");

    // 20,000 sections load (checked in one pass: the check is linear, BENCHMARKS.md times
    // it), and a name equal to another section's code is still found among them.
    let mut config = String::new();
    for i in 0..20_000 {
        config.push_str(&format!(
            "[accounts.app-{i}]\npartner_code = \"code-{i}\"\n"
        ));
    }
    env.write("many.toml", &config);
    env.ok("--config many.toml report billing --account app-19999");
    config.push_str("[accounts.code-7]\npartner_code = \"other\"\n");
    env.write("clash.toml", &config);
    let run = env.run(&["--config", "clash.toml", "codes"]);
    run.expect(2);
    run.stderr_has("[accounts.code-7]: the name is [accounts.app-7]'s partner code");
}

#[test]
fn workbook_errors_name_what_the_file_is() {
    let env = Env::plain();
    // A password-protected .ods: its manifest marks content.xml encrypted.
    zip_file(
        &env,
        "locked.ods",
        &[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            ("content.xml", b"\x8f\x01 encrypted bytes"),
            (
                "META-INF/manifest.xml",
                b"<manifest:manifest><manifest:file-entry manifest:full-path=\"content.xml\">\
                  <manifest:encryption-data/></manifest:file-entry></manifest:manifest>",
            ),
        ],
    );
    let run = env.fetch("locked.ods").quick().run();
    run.expect(2);
    run.stderr_has("password-protected");
    assert!(!run.stderr.contains("_rels"), "{}", run.stderr);

    // A password-protected .xlsx is an OLE file holding an EncryptedPackage stream.
    let mut ole = vec![0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
    ole.resize(1024, 0);
    ole.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    ole.resize(4096, 0);
    env.write("locked.xlsx", &ole);
    let run = env.fetch("locked.xlsx").quick().run();
    run.expect(2);
    run.stderr_has("password-protected (encrypted) .xlsx");
    assert!(!run.stderr.contains("Cfb"), "{}", run.stderr);

    // An .ods whose content is broken names the .ods, not an .xlsx part.
    zip_file(
        &env,
        "broken.ods",
        &[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            ("content.xml", b"<office:document-content><table:table"),
        ],
    );
    let run = env.fetch("broken.ods").quick().run();
    run.expect(2);
    run.stderr_has(".ods");
    assert!(!run.stderr.contains("_rels"), "{}", run.stderr);
    nothing_sent(&env);
}
