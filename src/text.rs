//! Text that leaves the program: the one scrubber for the partner key, the one escaper for
//! terminals and text logs, and the one spreadsheet-formula guard for CSV cells.
//!
//! Policy:
//! - The partner key is registered once ([`register_secret`]) when the settings are resolved.
//!   [`redact`] replaces it in any text, raw, percent-encoded once or twice (form, strict,
//!   `quote`, `encodeURI(Component)` forms), JSON-escaped (`\/`, `\uXXXX`) and HTML-escaped
//!   (named, hex and decimal references), in any letter case (Unicode case folding), with
//!   `<redacted>`, in one pass of one automaton over the text. Every text that came from
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

/// The spellings of the secrets in force, case-folded, and a matcher over them.
static SECRETS: RwLock<Option<Matcher>> = RwLock::new(None);

/// Case-folded spellings and one automaton finding the longest at each place in one pass.
#[derive(Debug)]
struct Matcher {
    forms: Vec<String>,
    automaton: aho_corasick::AhoCorasick,
}

impl Matcher {
    fn new(mut forms: Vec<String>) -> Option<Matcher> {
        forms.sort();
        forms.dedup();
        forms.retain(|f| !f.is_empty());
        let automaton = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&forms)
            .ok()?;
        Some(Matcher { forms, automaton })
    }
}

/// Unicode case folding for comparison: upper-case then lower-case, so `ß`, `SS` and `ss`,
/// or `É` and `é`, fold alike.
fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else {
        out.extend(c.to_uppercase().flat_map(char::to_lowercase));
    }
}

fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// Bytes kept as they are by each percent-encoder a client, a proxy or a server may use:
/// form encoding (space as `+`), every non-alphanumeric byte, RFC 3986 unreserved, Python's
/// `quote` (keeps `/`), `encodeURIComponent` and `encodeURI`.
const PERCENT_KEEPS: &[(&[u8], bool)] = &[
    (b"*-._", true),
    (b"", false),
    (b"-_.~", false),
    (b"-_.~/", false),
    (b"-_.!~*'()", false),
    (b"-_.!~*'();/?:@&=+$,#", false),
];

fn percent_encode(text: &str, keep: &[u8], space_as_plus: bool) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else if b == b' ' && space_as_plus {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// JSON string content of `text`: quotes, backslashes and controls always escaped; `/`,
/// non-ASCII (as `\uXXXX`, surrogate pairs past the BMP), HTML-sensitive `<>&'` (as Go does),
/// or every character escaped as asked.
fn json_escape(text: &str, slash: bool, non_ascii: bool, html: bool, every: bool) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        let u = |out: &mut String, c: char| {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        };
        match c {
            _ if every => u(&mut out, c),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if slash => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => u(&mut out, c),
            '<' | '>' | '&' | '\'' if html => u(&mut out, c),
            c if non_ascii && !c.is_ascii() => u(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// HTML-escaped `text`: `& < > "` as named entities and `'` as `&#39;`, `&#x27;` or `&apos;`;
/// optionally non-ASCII (or every non-alphanumeric character) as hex or decimal references.
fn html_escape(text: &str, apostrophe: &str, numeric: Option<bool>, every: bool) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        let reference = |out: &mut String, c: char| match numeric {
            Some(false) => out.push_str(&format!("&#{};", c as u32)),
            _ => out.push_str(&format!("&#x{:x};", c as u32)),
        };
        match c {
            c if every && !c.is_ascii_alphanumeric() => reference(&mut out, c),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apostrophe),
            c if numeric.is_some() && !c.is_ascii() => reference(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Every spelling of `key` a server, a proxy, a JSON encoder or an HTML page may echo back,
/// case-folded: the key as given, upper- and lower-cased, each raw, percent-encoded once and
/// twice (every common encoder), JSON-escaped (`\/`, `\uXXXX` for non-ASCII or for every
/// character) and HTML-escaped (named, hex and decimal references). Letter case inside each
/// spelling (hex digits, entity names, the key's own letters) is matched by folding.
fn spellings(key: &str) -> Vec<String> {
    let mut cased = vec![key.to_string(), key.to_uppercase(), key.to_lowercase()];
    cased.dedup();
    let mut forms = Vec::new();
    for k in &cased {
        forms.push(k.clone());
        for (keep, plus) in PERCENT_KEEPS {
            let once = percent_encode(k, keep, *plus);
            for (keep2, plus2) in PERCENT_KEEPS {
                forms.push(percent_encode(&once, keep2, *plus2));
            }
            forms.push(once);
        }
        for slash in [false, true] {
            for non_ascii in [false, true] {
                for html in [false, true] {
                    forms.push(json_escape(k, slash, non_ascii, html, false));
                }
            }
        }
        forms.push(json_escape(k, false, false, false, true));
        for apostrophe in ["&#39;", "&#x27;", "&apos;"] {
            for numeric in [None, Some(true), Some(false)] {
                forms.push(html_escape(k, apostrophe, numeric, false));
            }
        }
        forms.push(html_escape(k, "", Some(true), true));
        forms.push(html_escape(k, "", Some(false), true));
    }
    let mut forms: Vec<String> = forms.iter().map(|f| fold(f)).collect();
    forms.sort();
    forms.dedup();
    forms
}

/// Registers a secret that [`redact`] removes from every text from now on. Empty keys are
/// ignored.
pub fn register_secret(key: &str) {
    if key.is_empty() {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    let mut forms = secrets.take().map(|m| m.forms).unwrap_or_default();
    forms.extend(spellings(key));
    *secrets = Matcher::new(forms);
}

/// `text` with every registered secret replaced by `<redacted>`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    match secrets.as_ref() {
        Some(matcher) => redact_with(text, matcher),
        None => Cow::Borrowed(text),
    }
}

/// Replaces every spelling in `text`. Matching runs on a case-folded copy; for non-ASCII text
/// each folded byte remembers where its character starts in `text`, and a match is widened to
/// whole characters of `text`.
fn redact_with<'a>(text: &'a str, matcher: &Matcher) -> Cow<'a, str> {
    if text.is_empty() {
        return Cow::Borrowed(text);
    }
    let (folded, origins) = if text.is_ascii() {
        (text.to_ascii_lowercase(), None)
    } else {
        let mut folded = String::with_capacity(text.len());
        let mut origins = Vec::with_capacity(text.len() + 1);
        for (at, c) in text.char_indices() {
            let before = folded.len();
            fold_char(c, &mut folded);
            origins.resize(origins.len() + folded.len() - before, at);
        }
        (folded, Some(origins))
    };
    let original = |folded_at: usize, end: bool| -> usize {
        match &origins {
            None => folded_at,
            Some(_) if end && folded_at == folded.len() => text.len(),
            Some(o) if end => {
                // The character holding the last matched byte ends the match.
                let start = o[folded_at - 1];
                start + text[start..].chars().next().map_or(0, char::len_utf8)
            }
            Some(o) => o[folded_at],
        }
    };
    let mut out = String::new();
    let mut last = 0;
    for m in matcher.automaton.find_iter(&folded) {
        let (start, end) = (original(m.start(), false), original(m.end(), true));
        if start < last {
            continue;
        }
        out.push_str(&text[last..start]);
        out.push_str(REDACTED);
        last = end;
    }
    if last == 0 && out.is_empty() {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// `text` with every spelling of `key` replaced, without registering it.
pub fn redact_key<'a>(text: &'a str, key: &str) -> Cow<'a, str> {
    match Matcher::new(spellings(key)) {
        Some(matcher) if !key.is_empty() => redact_with(text, &matcher),
        _ => Cow::Borrowed(text),
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

/// A CSV cell made safe to open in a spreadsheet: a leading `= + - @`, tab or CR gets a `'`
/// in front, unless the cell is a number.
pub fn neutralise_formula(cell: &str) -> Cow<'_, str> {
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
    /// `\u00e9` and `\/`, HTML entities, and percent-encoding twice.
    #[test]
    fn echoed_spellings_of_a_key_with_non_ascii_and_markup_characters_are_redacted() {
        let key = "Sk+y/=&%éÄ<x>\"q";
        for text in [
            "echo SK+Y/=&%ÉÄ<X>\"Q end",
            r#"{"m":"Sk+y\/=&%\u00e9\u00c4<x>\"q"}"#,
            r#"{"m":"Sk+y\/=\u0026%\u00E9\u00C4\u003cx\u003e\"q"}"#,
            "<p>Sk+y/=&amp;%&#xe9;&#xc4;&lt;x&gt;&quot;q</p>",
            "<p>Sk+y/=&amp;%éÄ&lt;x&gt;&quot;q</p>",
            "Sk%252By%252F%253D%2526%2525%25C3%25A9%25C3%2584%253Cx%253E%2522q",
            "sk%2by%2f%3d%26%25%c3%a9%c3%84%3cx%3e%22q",
        ] {
            let out = redact_key(text, key);
            assert!(out.contains(REDACTED), "{text} -> {out}");
            assert!(
                !fold(&out).contains("sk+y") && !fold(&out).contains("sk%"),
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
        // A folded match that starts or ends inside a character's folding takes the character.
        assert_eq!(redact_key("aßb STRASSE c", "straße"), "aßb <redacted> c");
        assert_eq!(redact_key("İx", "i̇X"), REDACTED);
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
        assert_eq!(neutralise_formula("abc"), "abc");
        assert_eq!(neutralise_formula(""), "");
    }
}
