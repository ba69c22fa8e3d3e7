//! Text that leaves the program: the one scrubber for the partner key, the one escaper for
//! terminals and text logs, and the one spreadsheet-formula guard for CSV cells.
//!
//! Policy:
//! - The partner key is registered once ([`register_secret`]) when the settings are resolved.
//!   [`redact`] replaces it in any text, raw, URL-encoded (form and percent forms), and
//!   JSON-escaped, in any letter case, with `<redacted>`. Every text that came from outside the
//!   client (vendor messages, error bodies, stop reasons, attempt details) passes through it
//!   before it is stored, logged or printed; the log writer and the final error line pass it
//!   again, so a key that slipped through somewhere else still never reaches a terminal.
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

/// The forms of the secrets in force, lower-cased for case-insensitive matching.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Every spelling of `key` a server, a proxy or a JSON encoder may echo back.
fn spellings(key: &str) -> Vec<String> {
    use url::form_urlencoded::byte_serialize;
    let mut forms = vec![key.to_string()];
    forms.push(byte_serialize(key.as_bytes()).collect());
    // Percent-encoding of every byte that is not alphanumeric (what `encodeURIComponent`-style
    // encoders and some proxies emit), with spaces as %20 rather than +.
    let mut every = String::new();
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            every.push(b as char);
        } else {
            every.push_str(&format!("%{b:02X}"));
        }
    }
    forms.push(every);
    // JSON may escape a slash as `\/`, and escapes quotes, backslashes and control characters.
    forms.push(key.replace('/', "\\/"));
    if let Ok(json) = serde_json::to_string(key) {
        let inner = &json[1..json.len() - 1];
        forms.push(inner.to_string());
        forms.push(inner.replace('/', "\\/"));
    }
    let mut forms: Vec<String> = forms.into_iter().map(|f| f.to_ascii_lowercase()).collect();
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
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
    for form in spellings(key) {
        if !secrets.contains(&form) {
            secrets.push(form);
        }
    }
    secrets.sort_by_key(|f| std::cmp::Reverse(f.len()));
}

/// `text` with every registered secret replaced by `<redacted>`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    redact_with(text, &secrets)
}

fn redact_with<'a>(text: &'a str, forms: &[String]) -> Cow<'a, str> {
    if forms.is_empty() || text.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out: Cow<'a, str> = Cow::Borrowed(text);
    // ASCII lower-casing keeps byte offsets, so positions found in the lowered copy are
    // positions in the original.
    let mut lowered = text.to_ascii_lowercase();
    for form in forms {
        if !lowered.contains(form.as_str()) {
            continue;
        }
        let mut replaced = String::with_capacity(out.len());
        let mut last = 0;
        for (at, _) in lowered.match_indices(form.as_str()) {
            replaced.push_str(&out[last..at]);
            replaced.push_str(REDACTED);
            last = at + form.len();
        }
        replaced.push_str(&out[last..]);
        lowered = replaced.to_ascii_lowercase();
        out = Cow::Owned(replaced);
    }
    out
}

/// `text` with every spelling of `key` replaced, without registering it.
pub fn redact_key<'a>(text: &'a str, key: &str) -> Cow<'a, str> {
    if key.is_empty() {
        return Cow::Borrowed(text);
    }
    redact_with(text, &spellings(key))
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
        let forms = spellings("Ab/c+d e=f");
        for text in [
            "x Ab/c+d e=f y",
            "x ab/C+D E=F y",
            "url?partner_key=Ab%2Fc%2Bd+e%3Df&x",
            "url?partner_key=ab%2fc%2bd+e%3df&x",
            "Ab%2Fc%2Bd%20e%3Df",
            r#"{"k":"Ab\/c+d e=f"}"#,
        ] {
            let out = redact_with(text, &forms);
            assert!(out.contains(REDACTED), "{text} -> {out}");
            assert!(!out.to_ascii_lowercase().contains("c+d e"), "{out}");
            assert!(!out.to_ascii_lowercase().contains("%2bd"), "{out}");
        }
        assert_eq!(redact_with("nothing here", &forms), "nothing here");
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
        let forms = spellings("KEY");
        assert_eq!(redact_with("é key ü", &forms), "é <redacted> ü");
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
