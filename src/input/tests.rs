use super::*;

#[test]
fn shown_escapes_everything_invisible() {
    assert_eq!(shown("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
    assert_eq!(shown("x\ty\r\n\\"), "x\\ty\\r\\n\\\\");
    assert_eq!(shown("\u{85}\u{202e}\u{feff}"), "\\u{85}\\u{202e}\\u{feff}");
    assert_eq!(shown("café 身份"), "café 身份");
    assert_eq!(shown(&"x".repeat(100)).chars().count(), 81);
}

#[test]
fn folders_give_their_input_files_sorted_and_name_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "b.csv",
        "a.TSV",
        "c.txt.gz",
        "d.xlsx",
        "notes.pdf",
        ".hidden.csv",
        "~$d.xlsx",
        "e.ods",
        "f.json",
        "g.csv.zst",
        "h.json.gz",
    ] {
        std::fs::write(dir.path().join(name), "x").unwrap();
    }
    std::fs::create_dir(dir.path().join("sub.csv")).unwrap();
    let (sources, notes) = sources_from_args(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<String> = sources
        .iter()
        .map(|s| match s {
            Source::File(p) => p.file_name().unwrap().to_string_lossy().into_owned(),
            Source::Stdin => "-".into(),
        })
        .collect();
    assert_eq!(
        names,
        ["a.TSV", "b.csv", "c.txt.gz", "d.xlsx", "e.ods", "g.csv.zst"]
    );
    assert_eq!(notes.len(), 1);
    for skipped in [
        ".hidden.csv",
        "f.json",
        "h.json.gz",
        "notes.pdf",
        "sub.csv/",
        "~$d.xlsx",
    ] {
        assert!(notes[0].contains(skipped), "{}", notes[0]);
    }
    let empty = tempfile::tempdir().unwrap();
    let err = sources_from_args(&[empty.path().to_path_buf()]).unwrap_err();
    assert!(err.to_string().contains("holds no input files"), "{err}");
    let err = sources_from_args(&["-".into(), "-".into()]).unwrap_err();
    assert!(err.to_string().contains("once"), "{err}");
}
