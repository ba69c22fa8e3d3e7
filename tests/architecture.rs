//! Guards the shape ARCHITECTURE.md describes: no import cycle between the top-level modules,
//! nor between the submodules of one module, and every path ARCHITECTURE.md and README's
//! "Layout" name exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
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

/// `text` without its `#[cfg(test)] mod name { ... }` blocks and `//` comments, and the names
/// of its `#[cfg(test)] mod name;` file modules.
fn production(text: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut children = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let item = after.trim_start();
        let item = item.strip_prefix("pub(crate) ").unwrap_or(item);
        let Some(decl) = item.strip_prefix("mod ") else {
            rest = after;
            continue;
        };
        let name: String = decl
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let tail = decl[name.len()..].trim_start();
        if tail.starts_with(';') {
            children.push(name);
            rest = after;
            continue;
        }
        let mut depth = 0;
        let mut end = tail.len();
        for (i, c) in tail.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    let code = out
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    (code, children)
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
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut texts = Vec::new();
    let mut test_modules = BTreeSet::new();
    for file in &files {
        let module = module_of(&src, file);
        let (code, children) = production(&std::fs::read_to_string(file).unwrap());
        for c in children {
            test_modules.insert([module.clone(), vec![c]].concat());
        }
        texts.push((module, code));
    }
    let is_module = |m: &[String]| {
        let p = m.iter().fold(src.clone(), |p, s| p.join(s));
        p.with_extension("rs").is_file() || p.is_dir()
    };
    let (mut top, mut sub) = (BTreeSet::new(), BTreeSet::new());
    for (module, code) in texts {
        if module.is_empty() || test_modules.iter().any(|t| module.starts_with(t)) {
            continue;
        }
        for r in references(&module, &code) {
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

#[test]
fn every_path_the_docs_name_exists() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let layout = readme
        .split("## Layout")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a Layout section");
    let mut named = named_paths(&architecture);
    named.extend(named_paths(layout));
    assert!(named.contains("src/report/scope.rs"), "{named:?}");
    let missing: Vec<&String> = named
        .iter()
        .filter(|p| !p.contains("000N") && !root().join(p).exists())
        .collect();
    assert!(missing.is_empty(), "named but not in the tree: {missing:?}");
}
