//! Unit tests of the statement reader: amounts, periods, columns and shapes.

use super::*;

#[test]
fn amounts_in_the_forms_statements_use() {
    assert_eq!(parse_amount("0.035"), Some(Decimal::new(35, 3)));
    assert_eq!(parse_amount("$1,234.50"), Some(Decimal::new(123_450, 2)));
    assert_eq!(parse_amount("12 USD"), Some(Decimal::from(12)));
    assert_eq!(parse_amount("0,035"), Some(Decimal::new(35, 3)));
    assert_eq!(parse_amount("1.234,50 EUR"), Some(Decimal::new(123_450, 2)));
    assert_eq!(parse_amount("12,5"), Some(Decimal::new(125, 1)));
    assert_eq!(parse_amount("-0,5"), Some(Decimal::new(-5, 1)));
    assert_eq!(parse_amount("1,234,567"), Some(Decimal::from(1_234_567)));
    assert_eq!(
        parse_amount("1,234"),
        None,
        "thousands or decimal: not guessed"
    );
    assert_eq!(
        parse_amount("79228162514264337593543950335"),
        None,
        "a damaged cell, not an amount to add up"
    );
    assert_eq!(parse_amount("n/a"), None);
    assert_eq!(parse_amount(""), None);
}

#[test]
fn periods() {
    let utc = TimeZone::UTC;
    assert_eq!(
        parse_period("2026-10", &utc),
        Some(PeriodKey::Month(2026, 10))
    );
    assert_eq!(
        parse_period("2026-10-05", &utc),
        Some(PeriodKey::Day("2026-10-05".parse().unwrap()))
    );
    let sgt = TimeZone::get("Asia/Singapore").unwrap();
    assert_eq!(
        parse_period("2026-10-05T20:00:00Z", &sgt),
        Some(PeriodKey::Day("2026-10-06".parse().unwrap()))
    );
    assert_eq!(parse_period("2026-13", &utc), None);
}
