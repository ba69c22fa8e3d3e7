//! Guards the shape ARCHITECTURE.md describes: no import cycle between the top-level modules,
//! nor between the submodules of one module; the status strings and 11350 written in
//! `src/check.rs` only; no production function over 80 lines; and every path ARCHITECTURE.md
//! and README's "Layout" name exists. Each reads whole source files minus their test modules
//! (`util::source`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::source::production_files;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The module path of a file below `src/` (`src/report/mod.rs` -> `["report"]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// `code` without its `//` comments.
fn uncommented(code: &str) -> String {
    code.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a file's code names: `crate::a::b`, `super::a`, `use crate::{a, b}` and
/// `use super::{a, b}`, as absolute module paths.
fn references(module: &[String], code: &str) -> Vec<Vec<String>> {
    let words = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|w| {
                w.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect()
            })
            .take_while(|w: &String| !w.is_empty())
            .collect()
    };
    let mut refs = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let after = &code[i + "crate::".len()..];
        if let Some(list) = after.strip_prefix('{') {
            let list = &list[..list.find('}').unwrap_or(list.len())];
            refs.extend(list.split(',').map(words).filter(|w| !w.is_empty()));
        } else {
            refs.push(words(after));
        }
    }
    for (i, _) in code.match_indices("super::") {
        if code[..i].ends_with("super::") {
            continue;
        }
        let mut after = &code[i..];
        let mut up = 0;
        while let Some(rest) = after.strip_prefix("super::") {
            up += 1;
            after = rest;
        }
        let base = &module[..module.len().saturating_sub(up)];
        let named: Vec<Vec<String>> = match after.strip_prefix('{') {
            Some(list) => {
                let list = &list[..list.find('}').unwrap_or(list.len())];
                list.split(',')
                    .map(words)
                    .filter(|w| !w.is_empty())
                    .collect()
            }
            None => vec![words(after)],
        };
        refs.extend(named.into_iter().map(|w| [base.to_vec(), w].concat()));
    }
    refs
}

/// A cycle of the graph, if it has one.
fn cycle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(n, 1);
        stack.push(n);
        for &m in next.get(n).into_iter().flatten() {
            match state.get(m) {
                Some(1) => {
                    let from = stack.iter().position(|s| *s == m).unwrap_or(0);
                    let mut c: Vec<String> = stack[from..].iter().map(|s| s.to_string()).collect();
                    c.push(m.to_string());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, next, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    let nodes: Vec<&str> = next.keys().copied().collect();
    for n in nodes {
        if !state.contains_key(n)
            && let Some(c) = visit(n, &next, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

/// The edges between top-level modules, and between sibling submodules of one module (a
/// module and its own parent are one unit: a child uses its parent's items by design).
/// Edges between modules, as (from, to) module paths.
type Edges = BTreeSet<(String, String)>;

fn import_edges() -> (Edges, Edges) {
    let src = root().join("src");
    let is_module = |m: &[String]| {
        let p = m.iter().fold(src.clone(), |p, s| p.join(s));
        p.with_extension("rs").is_file() || p.is_dir()
    };
    let (mut top, mut sub) = (BTreeSet::new(), BTreeSet::new());
    for (file, code) in production_files(&src) {
        let module = module_of(&src, &file);
        if module.is_empty() {
            continue;
        }
        for r in references(&module, &uncommented(&code)) {
            let Some(first) = r.first() else { continue };
            if *first != module[0] {
                if is_module(&r[..1]) {
                    top.insert((module[0].clone(), first.clone()));
                }
            } else if module.len() >= 2 && r.len() >= 2 && module[1] != r[1] && is_module(&r[..2]) {
                sub.insert((module[..2].join("::"), r[..2].join("::")));
            }
        }
    }
    (top, sub)
}

#[test]
fn the_import_graph_has_no_cycle() {
    let (top, sub) = import_edges();
    // The graph is read for real: the data path's edges are in it.
    for edge in [("commands", "report"), ("report", "store"), ("fetch", "td")] {
        assert!(
            top.contains(&(edge.0.to_string(), edge.1.to_string())),
            "{edge:?} not found in {top:?}"
        );
    }
    assert!(
        sub.contains(&(
            "report::reconcile".to_string(),
            "report::render".to_string()
        )),
        "{sub:?}"
    );
    assert_eq!(cycle(&top), None, "a cycle between top-level modules");
    assert_eq!(
        cycle(&sub),
        None,
        "a cycle between the submodules of one module"
    );
    let looped: BTreeSet<(String, String)> = [("a", "b"), ("b", "c"), ("c", "a")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(cycle(&looped).map(|c| c.len()), Some(4));
}

/// Paths such as `src/report/scope.rs`, `tests/util/` or `migrations/` in `text`.
fn named_paths(text: &str) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for word in text.split(|c: char| c.is_whitespace() || "`(),;:".contains(c)) {
        if [
            "src/",
            "tests/",
            "migrations/",
            "contrib/",
            "scripts/",
            "examples/",
        ]
        .iter()
        .any(|p| word.starts_with(p))
        {
            paths.insert(word.trim_end_matches('.').to_string());
        }
    }
    paths
}

/// README's "Layout" section, up to the next section.
fn readme_layout() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let layout = readme
        .split("## Layout")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a Layout section");
    layout.to_string()
}

#[test]
fn every_path_the_docs_name_exists() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut named = named_paths(&architecture);
    named.extend(named_paths(&readme_layout()));
    assert!(named.contains("src/report/scope.rs"), "{named:?}");
    let missing: Vec<&String> = named
        .iter()
        .filter(|p| !p.contains("000N") && !root().join(p).exists())
        .collect();
    assert!(missing.is_empty(), "named but not in the tree: {missing:?}");
}

/// The status strings and the 11350 code are written in `src/check.rs` only (outside tests and
/// comments), so no other module re-derives a class by hand. Whole files are read: the code
/// after an inline test helper is seen too.
#[test]
fn status_strings_and_11350_live_in_check_rs_only() {
    let needles = [
        "'done'",
        "'failed'",
        "'pending'",
        "\"done\"",
        "\"failed\"",
        "\"pending\"",
        "b\"done\"",
    ];
    // The code as a number of its own (not inside a name such as `internal_11350`).
    let has_code = |line: &str| {
        line.match_indices("11350").any(|(i, _)| {
            let before = line[..i].chars().next_back();
            let after = line[i + 5..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    };
    // The other "done"s: a run's outcome (every id resolved), and the nightly inbox's
    // folder of files read; neither is a check's status.
    let others = [
        "None => \"done\",",
        "pub(crate) const DONE_FOLDER: &str = \"done\";",
    ];
    let src = root().join("src");
    let mut found = Vec::new();
    let mut read = 0;
    for (path, code) in production_files(&src) {
        if path == src.join("check.rs") {
            continue;
        }
        read += code.lines().count();
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            if others.contains(&line.trim()) {
                continue;
            }
            if has_code(line) || needles.iter().any(|needle| line.contains(needle)) {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(read > 10_000, "only {read} lines of production code read");
    assert!(
        found.is_empty(),
        "outside src/check.rs:\n{}",
        found.join("\n")
    );
}

/// The functions over `most` lines in production code (`#[cfg(test)]` modules and test files
/// left out), as `file:line name (lines)`. A function runs from its `fn` line to the brace that
/// closes its body (strings, characters and comments skipped when counting braces).
fn long_functions(most: usize) -> Vec<String> {
    let src = root().join("src");
    let mut long = Vec::new();
    for (path, code) in production_files(&src) {
        let starts: Vec<usize> = code
            .match_indices("fn ")
            .map(|(i, _)| i)
            .filter(|&i| {
                let line_start = code[..i].rfind('\n').map_or(0, |n| n + 1);
                let head = code[line_start..i].trim();
                head.split_whitespace().all(|w| {
                    [
                        "pub",
                        "pub(crate)",
                        "pub(super)",
                        "async",
                        "const",
                        "unsafe",
                    ]
                    .contains(&w)
                })
            })
            .collect();
        for at in starts {
            let name: String = code[at + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // The body opens at the first `{` outside the signature's brackets, unless a `;`
            // ends a bodiless declaration first.
            let mut depth = 0i32;
            let mut open = None;
            for (i, c) in code[at..].char_indices() {
                match c {
                    '(' | '[' | '<' => depth += 1,
                    ')' | ']' => depth -= 1,
                    '>' if !code[at..at + i].ends_with('-') => depth -= 1,
                    '{' if depth <= 0 => {
                        open = Some(at + i);
                        break;
                    }
                    ';' if depth <= 0 => break,
                    _ => {}
                }
            }
            let Some(open) = open else { continue };
            let end = crate::util::source::block_end(code.as_bytes(), open);
            let first = code[..at].matches('\n').count() + 1;
            let lines = code[at..end].matches('\n').count() + 1;
            if lines > most {
                let rel = path.strip_prefix(root()).unwrap().display().to_string();
                long.push(format!("{rel}:{first} {name} ({lines} lines)"));
            }
        }
    }
    long
}

/// No function outside tests is over 80 lines: a long one is split into named parts.
#[test]
fn no_production_function_is_over_80_lines() {
    // The scan finds functions for real: the long `main` of old would show at 20 lines.
    assert!(
        long_functions(20).iter().any(|f| f.contains(" main ")),
        "{:?}",
        long_functions(20)
    );
    let long = long_functions(80);
    assert!(long.is_empty(), "over 80 lines: {long:?}");
}

/// The files README's "Layout" names by their short name (`records/layout.rs` in the
/// `src/input/` entry) exist below that entry's folder, and every end-to-end test file and
/// every script is named there.
#[test]
fn every_file_the_layout_names_exists_and_every_test_and_script_is_named() {
    let layout = readme_layout();
    let files_below = |dir: &Path| -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        out
    };
    let mut entry = String::new();
    let mut named = Vec::new();
    let mut missing = Vec::new();
    for line in layout.lines() {
        if let Some(first) = line.split_whitespace().next()
            && !line.starts_with(' ')
            && first.contains('/')
        {
            entry = first.to_string();
        }
        let words = line.split(|c: char| c.is_whitespace() || "`(),;:".contains(c));
        for word in words.filter(|w| [".rs", ".py", ".sh"].iter().any(|e| w.ends_with(e))) {
            named.push(word.rsplit('/').next().unwrap_or(word).to_string());
            let dir = if entry.ends_with('/') {
                root().join(&entry)
            } else {
                root().join(&entry).parent().unwrap().to_path_buf()
            };
            let found = root().join(word).exists()
                || files_below(&dir)
                    .iter()
                    .any(|f| f.ends_with(&format!("/{word}")));
            if !found {
                missing.push(format!("{entry}: {word}"));
            }
        }
    }
    assert!(named.len() > 80, "{named:?}");
    assert!(
        missing.is_empty(),
        "named in Layout, not in the tree: {missing:?}"
    );
    let unnamed: Vec<String> = ["tests", "tests/hostile", "tests/util", "scripts"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root().join(d)).unwrap().flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| [".rs", ".py", ".sh"].iter().any(|e| n.ends_with(e)))
        .filter(|n| n != "mod.rs" && !named.contains(n))
        .collect();
    assert!(unnamed.is_empty(), "not named in Layout: {unnamed:?}");
}
