//! Text that leaves the program: the one scrubber for the partner key, the one escaper for
//! terminals and text logs, and the one spreadsheet-formula guard for CSV cells.
//!
//! Policy:
//! - The partner key is registered once ([`register_secret`]), by `Secret::new` (config).
//!   [`redact`] replaces it in any text, raw, percent-encoded once or twice (any subset of its
//!   bytes), JSON-escaped (`\/`, `\uXXXX`) and HTML-escaped (named, hex and decimal
//!   references), or any mix of those character by character, in any letter case (Unicode case
//!   folding), with `<redacted>`, in one pass of one regex over the text. Every text that came from
//!   outside the client (vendor messages, error bodies, stop reasons, attempt details) passes
//!   through it before it is stored, logged or printed; the log writer and the final error
//!   line pass it again, so a key that slipped through somewhere else still never reaches a
//!   terminal.
//! - [`escape`] renders control characters (ESC, CR, BEL, DEL, C1 controls, ...) as visible
//!   `\x1b`-style text, so user-, vendor- or statement-supplied strings cannot move the cursor,
//!   retitle the terminal or overwrite a line. Tabs and newlines are escaped too in a single
//!   field; whole log lines keep their final newline.
//! - [`neutralise_formula`] prefixes a `'` to a CSV cell starting with `=`, `+`, `-`, `@`, tab
//!   or CR, the characters spreadsheets read as the start of a formula. Numbers such as `-1.5`
//!   are left alone (they are data, and a number cannot be a formula).

use std::borrow::Cow;
use std::sync::RwLock;

const REDACTED: &str = "<redacted>";

/// The patterns of the secrets in force, and one regex matching any of them.
static SECRETS: RwLock<Option<Matcher>> = RwLock::new(None);

#[derive(Debug)]
struct Matcher {
    patterns: Vec<String>,
    regex: regex::Regex,
}

impl Matcher {
    fn new(patterns: Vec<String>) -> Option<Matcher> {
        let joined = patterns
            .iter()
            .map(|p| format!("(?:{p})"))
            .collect::<Vec<_>>()
            .join("|");
        let regex = regex::RegexBuilder::new(&format!("(?i){joined}"))
            .size_limit(64 << 20)
            .build()
            .ok()?;
        Some(Matcher { patterns, regex })
    }
}

/// One pattern matching every spelling of `key`, character by character, so that spellings
/// that mix escapes (an encoder that escapes some characters and not others) match too. Each
/// character of the key (as given, upper-cased or lower-cased) may appear:
/// - raw, in any letter case (Unicode case folding);
/// - percent-encoded, once (`%2F`) or twice (`%252F`), in either hex case; a space also as `+`
///   (and `%2B` once that is encoded again);
/// - JSON-escaped: `\uXXXX` (UTF-16 units), `\/`, `\"`, `\\`;
/// - HTML-escaped: `&#xHH;`, `&#DDD;` (leading zeros allowed), or a named entity for
///   `& < > " '`.
fn pattern(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        let mut variants: Vec<String> = vec![c.to_string()];
        for v in [c.to_uppercase().to_string(), c.to_lowercase().to_string()] {
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
        let mut alternatives: Vec<String> = Vec::new();
        for v in &variants {
            alternatives.push(regex::escape(v));
            // Percent-encoded bytes, each once or twice encoded.
            alternatives.push(
                v.bytes()
                    .map(|b| format!("%(?:25)?{b:02x}"))
                    .collect::<String>(),
            );
            // JSON \u escapes of every UTF-16 unit; HTML numeric references.
            let mut units = [0u16; 2];
            let mut json = String::new();
            let mut hex = String::new();
            let mut dec = String::new();
            for ch in v.chars() {
                for unit in ch.encode_utf16(&mut units) {
                    json.push_str(&format!(r"\\u{unit:04x}"));
                }
                hex.push_str(&format!("&#x0*{:x};", ch as u32));
                dec.push_str(&format!("&#0*{};", ch as u32));
            }
            alternatives.extend([json, hex, dec]);
        }
        let named = match c {
            ' ' => &[r"\+", "%(?:25)?2b"][..],
            '/' => &[r"\\/"][..],
            '"' => &[r#"\\""#, "&quot;"][..],
            '\\' => &[r"\\\\"][..],
            '&' => &["&amp;"][..],
            '<' => &["&lt;"][..],
            '>' => &["&gt;"][..],
            '\'' => &["&apos;"][..],
            _ => &[][..],
        };
        alternatives.extend(named.iter().map(|n| n.to_string()));
        alternatives.dedup();
        out.push_str(&format!("(?:{})", alternatives.join("|")));
    }
    out
}

/// Registers a secret that [`redact`] removes from every text from now on. Empty keys are
/// ignored.
pub fn register_secret(key: &str) {
    if key.is_empty() {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    let mut patterns = secrets.take().map(|m| m.patterns).unwrap_or_default();
    let new = pattern(key);
    if !patterns.contains(&new) {
        patterns.push(new);
    }
    *secrets = Matcher::new(patterns);
}

/// `text` with every registered secret replaced by `<redacted>`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    match secrets.as_ref() {
        Some(matcher) => redact_with(text, matcher),
        None => Cow::Borrowed(text),
    }
}

fn redact_with<'a>(text: &'a str, matcher: &Matcher) -> Cow<'a, str> {
    matcher.regex.replace_all(text, regex::NoExpand(REDACTED))
}

/// `text` with every spelling of `key` replaced, without registering it.
pub fn redact_key<'a>(text: &'a str, key: &str) -> Cow<'a, str> {
    if key.is_empty() {
        return Cow::Borrowed(text);
    }
    match Matcher::new(vec![pattern(key)]) {
        Some(matcher) => redact_with(text, &matcher),
        None => Cow::Borrowed(text),
    }
}

/// `text` with control characters shown as escapes (`\x1b`, `\r`, `\n`, `\t`, `\u{9b}`).
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 && needs_escape(c) => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

/// Redacts, then escapes: the form of an outside string fit for a terminal or a text log.
pub fn clean(text: &str) -> String {
    escape(&redact(text)).into_owned()
}

/// Escapes a whole log line: control characters are shown, except line ends between and
/// after lines.
pub fn escape_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\n' {
            out.push('\n');
        } else {
            push_escaped(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// Like [`escape_line`], but colour sequences (SGR: `ESC [`, digits and `;`, then `m`) are
/// kept: they only change colours, while everything else a terminal obeys is shown escaped.
pub fn escape_line_keeping_colour(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b'
            && let Some(len) = sgr_len(rest)
        {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        if c == '\n' {
            out.push('\n');
        } else {
            push_escaped(&mut out, c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The length of the SGR sequence `text` starts with, if it starts with one (at most 32 bytes
/// of parameters).
fn sgr_len(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(1) != Some(&b'[') {
        return None;
    }
    let params = b[2..]
        .iter()
        .take(33)
        .take_while(|c| c.is_ascii_digit() || **c == b';')
        .count();
    (b.get(2 + params) == Some(&b'm')).then_some(3 + params)
}

/// Whether the cells of a file are guarded against spreadsheet formulas. The one decision:
/// cells written as CSV are, unless the user asked for them as they are (`--raw-cells`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellGuard(bool);

impl CellGuard {
    /// The guard of cells written as CSV when `csv`, as they are when `raw_cells`.
    pub fn new(csv: bool, raw_cells: bool) -> CellGuard {
        CellGuard(csv && !raw_cells)
    }

    /// `cell` as it is written ([`neutralise_formula`] when guarded).
    pub fn apply(self, cell: &str) -> Cow<'_, str> {
        if self.0 {
            neutralise_formula(cell)
        } else {
            Cow::Borrowed(cell)
        }
    }
}

/// A CSV cell made safe to open in a spreadsheet: a leading `= + - @`, tab or CR gets a `'`
/// in front, unless the cell is a number or a lone `-` (a placeholder, not a formula).
pub fn neutralise_formula(cell: &str) -> Cow<'_, str> {
    if cell == "-" {
        return Cow::Borrowed(cell);
    }
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if cell.trim().parse::<f64>().is_err() => {
            Cow::Owned(format!("'{cell}"))
        }
        _ => Cow::Borrowed(cell),
    }
}

/// A writer for logs and messages on stderr: each write is redacted and escaped, and a closed
/// or failing stream is ignored (a dying log collector must not end a run that is saving
/// results).
///
/// With colour on (a terminal, `--color`), the colour sequences the log formatter writes (SGR:
/// `ESC [ digits ; ... m`) pass; every other control sequence (cursor moves, screen clears,
/// window titles, a bare CR) is still shown escaped, whoever wrote it.
#[derive(Debug, Clone, Copy)]
pub struct SafeStderr {
    keep_colour: bool,
}

impl SafeStderr {
    /// Escapes every control character.
    pub const fn plain() -> SafeStderr {
        SafeStderr { keep_colour: false }
    }

    /// Lets colour sequences through; escapes every other control character.
    pub const fn keeping_colour() -> SafeStderr {
        SafeStderr { keep_colour: true }
    }
}

impl std::io::Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let text = redact(&text);
        let text = if self.keep_colour {
            Cow::Owned(escape_line_keeping_colour(&text))
        } else {
            escape_line(&text)
        };
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_sequences_pass_and_every_other_control_sequence_is_escaped() {
        let line = "\x1b[32m INFO\x1b[0m id=\x1b[2J\x1b]0;title\x07\r x\x1b[1;31mred\x1b[0m\n";
        assert_eq!(
            escape_line_keeping_colour(line),
            "\x1b[32m INFO\x1b[0m id=\\x1b[2J\\x1b]0;title\\x07\\r x\x1b[1;31mred\x1b[0m\n"
        );
        assert_eq!(escape_line_keeping_colour("\x1b["), "\\x1b[");
        assert_eq!(escape_line_keeping_colour("\x1b[m"), "\x1b[m");
    }

    #[test]
    fn every_spelling_of_the_key_is_redacted_in_any_case() {
        let key = "Ab/c+d e=f";
        for text in [
            "x Ab/c+d e=f y",
            "x ab/C+D E=F y",
            "url?partner_key=Ab%2Fc%2Bd+e%3Df&x",
            "url?partner_key=ab%2fc%2bd+e%3df&x",
            "Ab%2Fc%2Bd%20e%3Df",
            "Ab/c%2Bd%20e%3Df",
            "Ab%252Fc%252Bd%2Be%253Df",
            r#"{"k":"Ab\/c+d e=f"}"#,
        ] {
            let out = redact_key(text, key);
            assert!(out.contains(REDACTED), "{text} -> {out}");
            assert!(!out.to_ascii_lowercase().contains("c+d e"), "{out}");
            assert!(!out.to_ascii_lowercase().contains("%2bd"), "{out}");
        }
        assert_eq!(redact_key("nothing here", key), "nothing here");
    }

    /// The spellings a server echoed in the field: upper case with non-ASCII letters, JSON
    /// `\u00e9` and `\/`, HTML entities (some characters only), and percent-encoding twice.
    #[test]
    fn echoed_spellings_of_a_key_with_non_ascii_and_markup_characters_are_redacted() {
        let key = "Sk+y/=&%éÄ<x>\"q";
        for text in [
            "echo SK+Y/=&%ÉÄ<X>\"Q end",
            r#"{"m":"Sk+y\/=&%\u00e9\u00c4<x>\"q"}"#,
            r#"{"m":"Sk+y\/=\u0026%\u00E9\u00C4\u003cx\u003e\"q"}"#,
            "<p>Sk+y/=&amp;%&#xe9;&#xc4;&lt;x&gt;&quot;q</p>",
            "<p>Sk+y/=&amp;%éÄ&lt;x&gt;&quot;q</p>",
            "<p>Sk+y/=&amp;%&#xe9;Ä&lt;x&gt;&quot;q</p>",
            "<p>Sk&#43;y&#x2F;=&#38;%&#233;&#xC4;<x>\"q</p>",
            "Sk%252By%252F%253D%2526%2525%25C3%25A9%25C3%2584%253Cx%253E%2522q",
            "sk%2by%2f%3d%26%25%c3%a9%c3%84%3cx%3e%22q",
        ] {
            let out = redact_key(text, key);
            assert!(out.contains(REDACTED), "{text} -> {out}");
            assert!(
                !out.to_lowercase().contains("sk+y") && !out.to_lowercase().contains("sk%"),
                "{out}"
            );
        }
        let plain = "aBcD3fGh1jK/lMn+oP=";
        for text in [
            "aBcD3fGh1jK%252FlMn%252BoP%253D",
            "ABCD3FGH1JK%2FLMN%2BOP%3D",
            "aBcD3fGh1jK/lMn%2BoP%3D",
        ] {
            assert_eq!(redact_key(text, plain), REDACTED, "{text}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// For random keys (ASCII, Latin letters with case, markup characters, astral
        /// characters), each spelling built here independently, in random letter case where
        /// the key is ASCII, embedded in random text, is redacted.
        #[test]
        fn every_spelling_of_a_random_key_embedded_in_text_is_redacted(
            key in "[A-Za-z0-9+/=&%<>\"' éÄßüÖ😀-]{8,24}",
            before in "[a-z ,:={}\"]{0,12}",
            after in "[a-z ,:={}\"]{0,12}",
            which in 0usize..8,
            upper in proptest::bool::ANY,
        ) {
            let cased = if upper { key.to_uppercase() } else { key.clone() };
            let json_every: String = cased.encode_utf16().map(|u| format!("\\u{u:04X}")).collect();
            let strict = percent_encoding::utf8_percent_encode(&cased, percent_encoding::NON_ALPHANUMERIC).to_string();
            let spelling = match which {
                0 => cased.clone(),
                1 => url::form_urlencoded::byte_serialize(cased.as_bytes()).collect(),
                2 => strict.clone(),
                3 => percent_encoding::utf8_percent_encode(&strict, percent_encoding::NON_ALPHANUMERIC).to_string(),
                4 => { let j = serde_json::to_string(&cased).unwrap(); j[1..j.len() - 1].replace('/', "\\/") }
                5 => json_every,
                6 => cased.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;"),
                _ => strict.to_lowercase(),
            };
            let text = format!("{before}{spelling}{after}");
            let out = redact_key(&text, &key);
            proptest::prop_assert!(out.contains(REDACTED), "{} -> {}", text, out);
            proptest::prop_assert!(!out.contains(&spelling), "{} -> {}", text, out);
        }
    }

    #[test]
    fn a_key_with_quotes_is_redacted_in_json_logs() {
        let key = r#"a"b\c"#;
        let json = serde_json::json!({ "message": format!("echo {key}") }).to_string();
        let out = redact_key(&json, key);
        assert!(json.contains(r#"a\"b\\c"#), "{json}");
        assert!(out.contains(REDACTED) && !out.contains(r#"a\"b"#), "{out}");
    }

    #[test]
    fn redaction_keeps_multibyte_text_around_the_key() {
        assert_eq!(redact_key("é key ü", "KEY"), "é <redacted> ü");
        // A letter whose upper case is two letters matches them.
        assert_eq!(redact_key("aßb STRASSE c", "straße"), "aßb <redacted> c");
    }

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escape("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(escape("t\x1b]0;title\x07"), "t\\x1b]0;title\\x07");
        assert_eq!(escape("over\rwrite\n"), "over\\rwrite\\n");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(escape("plain é"), "plain é");
        assert_eq!(escape_line("a\x1bb\nc\n"), "a\\x1bb\nc\n");
    }

    #[test]
    fn formulas_are_neutralised_and_numbers_are_not() {
        assert_eq!(
            neutralise_formula("=HYPERLINK(\"x\")"),
            "'=HYPERLINK(\"x\")"
        );
        assert_eq!(neutralise_formula("+1+2"), "'+1+2");
        assert_eq!(neutralise_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise_formula("-cmd"), "'-cmd");
        assert_eq!(neutralise_formula("-1.5"), "-1.5");
        assert_eq!(neutralise_formula("-"), "-");
        assert_eq!(neutralise_formula("--"), "'--");
        assert_eq!(neutralise_formula("abc"), "abc");
        assert_eq!(neutralise_formula(""), "");
    }
}
