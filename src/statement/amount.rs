//! A statement's amount cells: a number, maybe a currency, maybe accounting notation for a
//! credit; anything else is a malformed line, never a guess.
//!
//! Policy: an amount cell holds one number (digits with an optional sign, a decimal point or
//! decimal comma, thousands separators), optionally a currency symbol stuck to it (`$1,234.50`,
//! `€0.035`) and optionally one currency code as its only other word (`0.035 EUR`, `EUR 0.035`).
//! `(0.035)` is a credit of 0.035 (read as -0.035). Any other words (`0.035 USD per check, 1
//! of 2`) make the cell unreadable. Separators: with both `.` and `,`, the later one is the
//! decimal separator; a lone `,` is a decimal comma unless it stands before exactly three
//! digits after a non-zero whole part (`1,234`), which could be either and is refused rather
//! than guessed; `,` groups of three (`1,234,567`) are thousands. Amounts above a quadrillion
//! are refused as damaged cells.

use rust_decimal::Decimal;

/// The largest amount a statement cell may hold; a larger one is a damaged cell, and sums over
/// a billion lines stay far inside exact decimal range.
const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

/// Currency symbols a number may carry, with the code each one names (`None`: the symbol is
/// shared by several currencies, so it says nothing to compare).
const SYMBOLS: &[(char, Option<&str>)] = &[
    ('$', None),
    ('€', Some("EUR")),
    ('£', Some("GBP")),
    ('¥', None),
];

/// An amount cell read: its value and the currency it names, if any.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Amount {
    pub value: Decimal,
    pub currency: Option<String>,
}

/// Reads an amount cell, or says why it is not one.
pub(crate) fn read_amount(text: &str) -> Result<Amount, String> {
    let t = text.trim();
    let (inner, credit) = match t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner) => (inner.trim(), true),
        None => (t, false),
    };
    let refused = || {
        format!(
            "amount {text:?} is not an amount (write 0.035, 0,035, (0.035) for a credit, or \
             0.035 EUR; `1,234` could be either and is not guessed; no other words)"
        )
    };
    let words: Vec<&str> = inner.split_whitespace().collect();
    let (number, code) = match words.as_slice() {
        [n] => (*n, None),
        [a, b] if is_code(b) => (*a, Some(b.to_ascii_uppercase())),
        [a, b] if is_code(a) => (*b, Some(a.to_ascii_uppercase())),
        _ => return Err(refused()),
    };
    let (number, symbol) = strip_symbol(number);
    let mut value = parse_number(number).ok_or_else(refused)?;
    if credit {
        if value.is_sign_negative() {
            return Err(refused());
        }
        value = -value;
    }
    let currency = match (code, symbol) {
        (Some(c), Some(s)) if c != s => return Err(refused()),
        (c, s) => c.or(s.map(str::to_string)),
    };
    Ok(Amount { value, currency })
}

/// A plain number's value (the summary's counts use it too); `None` for anything else.
pub(crate) fn parse_amount(text: &str) -> Option<Decimal> {
    read_amount(text).ok().map(|a| a.value)
}

/// A three-letter currency code (`EUR`, `usd`).
fn is_code(word: &str) -> bool {
    word.len() == 3 && word.chars().all(|c| c.is_ascii_alphabetic())
}

/// The number without a currency symbol before or after it, and the code the symbol names.
fn strip_symbol(word: &str) -> (&str, Option<&'static str>) {
    for (symbol, code) in SYMBOLS {
        if let Some(rest) = word
            .strip_prefix(*symbol)
            .or_else(|| word.strip_suffix(*symbol))
        {
            return (rest, *code);
        }
    }
    (word, None)
}

/// A number: an optional sign, digits, `.` and `,` by the rules of the module doc.
fn parse_number(word: &str) -> Option<Decimal> {
    let unsigned = word.strip_prefix(['-', '+']).unwrap_or(word);
    if unsigned.is_empty()
        || !unsigned
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | ','))
        || !unsigned.chars().any(|c| c.is_ascii_digit())
    {
        return None;
    }
    let kept = word.trim_start_matches('+');
    let plain = match (kept.rfind('.'), kept.rfind(',')) {
        (Some(dot), Some(comma)) if dot > comma => kept.replace(',', ""),
        (Some(_), Some(_)) => kept.replace('.', "").replace(',', "."),
        (None, Some(_)) => {
            let parts: Vec<&str> = kept.split(',').collect();
            let whole = parts[0].trim_start_matches('-');
            let groups_of_three = parts[1..].iter().all(|p| p.len() == 3);
            match parts.len() {
                2 if parts[1].len() != 3 || whole.chars().all(|c| c == '0') => {
                    kept.replace(',', ".")
                }
                2 => return None,
                _ if groups_of_three && !whole.is_empty() => kept.replace(',', ""),
                _ => return None,
            }
        }
        _ => kept.to_string(),
    };
    let amount: Decimal = plain.parse().ok()?;
    (amount.abs() <= Decimal::from(MAX_AMOUNT)).then_some(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<(String, Option<String>)> {
        read_amount(text)
            .ok()
            .map(|a| (a.value.to_string(), a.currency))
    }

    #[test]
    fn a_number_with_a_currency_and_nothing_else() {
        assert_eq!(
            read("0.035 EUR"),
            Some(("0.035".into(), Some("EUR".into())))
        );
        assert_eq!(
            read("usd 0.035"),
            Some(("0.035".into(), Some("USD".into())))
        );
        assert_eq!(read("€0,035"), Some(("0.035".into(), Some("EUR".into()))));
        assert_eq!(read("$1,234.50"), Some(("1234.50".into(), None)));
        assert_eq!(read("0.035"), Some(("0.035".into(), None)));
        assert_eq!(read("+0.035"), Some(("0.035".into(), None)));
        assert_eq!(read("0.035 USD per check, 1 of 2"), None, "never 35.12");
        assert_eq!(read("0.035 per check"), None);
        assert_eq!(read("0.035 EUR USD"), None);
        assert_eq!(read("€0.035 USD"), None, "two currencies");
        assert_eq!(read("n/a"), None);
        assert_eq!(read("1-2"), None);
    }

    #[test]
    fn accounting_notation_is_a_credit() {
        assert_eq!(read("(0.035)"), Some(("-0.035".into(), None)));
        assert_eq!(
            read("(0.035 EUR)"),
            Some(("-0.035".into(), Some("EUR".into())))
        );
        assert_eq!(read("(-0.035)"), None);
        assert_eq!(read("(0.035"), None);
    }
}
