//! Reading the crate's own source as text, for the tests that guard its shape: every `.rs`
//! file below a folder, and a file's production code (its `#[cfg(test)]` modules cut out, the
//! files of its `#[cfg(test)] mod name;` declarations listed), read whole, so a guard sees the
//! code after an inline test helper as well.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The production code of every `.rs` file below `dir`, by path (blank lines where test
/// blocks were, so line numbers stay true); a file that is a test module as a whole (declared
/// `#[cfg(test)] mod name;`, and every file below it) is left out.
pub fn production_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut test_files = BTreeSet::new();
    let mut scanned = Vec::new();
    for path in rust_files(dir) {
        let text = std::fs::read_to_string(&path).unwrap();
        let (code, test_children) = production_text(&text);
        let parent = path.parent().unwrap().to_path_buf();
        let children_dir = match path.file_stem().and_then(|s| s.to_str()) {
            Some("mod" | "lib" | "main") => parent,
            Some(stem) => parent.join(stem),
            None => continue,
        };
        test_files.extend(
            test_children
                .iter()
                .flat_map(|c| [children_dir.join(format!("{c}.rs")), children_dir.join(c)]),
        );
        scanned.push((path, code));
    }
    scanned
        .into_iter()
        .filter(|(path, _)| {
            !test_files
                .iter()
                .any(|t| path == t || (t.extension().is_none() && path.starts_with(t)))
        })
        .collect()
}

/// `text` with every `#[cfg(test)] mod name { ... }` block blanked (lines kept, so line
/// numbers stay true), and the names of `#[cfg(test)] mod name;` file modules. Strings,
/// characters and comments are skipped when counting braces.
pub fn production_text(text: &str) -> (String, Vec<String>) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut children = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let item = after["#[cfg(test)]".len()..].trim_start();
        let Some(decl) = item
            .strip_prefix("mod ")
            .or(item.strip_prefix("pub(crate) mod "))
        else {
            out.push_str("#[cfg(test)]");
            rest = &after["#[cfg(test)]".len()..];
            continue;
        };
        let name: String = decl
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let tail = decl[name.len()..].trim_start();
        if tail.starts_with(';') {
            children.push(name);
            out.push_str("#[cfg(test)]");
            rest = &after["#[cfg(test)]".len()..];
            continue;
        }
        let start = text.len() - after.len();
        let end = block_end(bytes, text.len() - tail.len());
        out.extend(text[start..end].chars().filter(|c| *c == '\n'));
        rest = &text[end..];
    }
    out.push_str(rest);
    (out, children)
}

/// The index just past the `{ ... }` block opening at `open`.
pub fn block_end(b: &[u8], open: usize) -> usize {
    let (mut i, mut depth) = (open, 0usize);
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                // A raw string (`r"`, `r#"`) ends at its quote and hashes, another at the
                // first unescaped quote.
                let hashes = b[..i].iter().rev().take_while(|c| **c == b'#').count();
                let raw = i > hashes && b[i - hashes - 1] == b'r';
                i += 1;
                while i < b.len() {
                    if !raw && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'"' && b[i + 1..].iter().take(hashes).all(|c| *c == b'#') {
                        i += hashes;
                        break;
                    }
                    i += 1;
                }
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\\') => {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    panic!("a `#[cfg(test)] mod` block is not closed");
}

#[test]
fn test_blocks_are_cut_and_the_code_after_them_kept() {
    let text =
        "a\n#[cfg(test)]\nmod t {\n    let s = \"}\"; let c = '{';\n}\nb\n#[cfg(test)]\nmod x;\n";
    let (code, children) = production_text(text);
    assert_eq!(code, "a\n\n\n\n\nb\n#[cfg(test)]\nmod x;\n");
    assert_eq!(children, ["x"]);
}
