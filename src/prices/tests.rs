use std::path::Path;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;

use super::*;
use crate::money::Rounding;
use proptest::prelude::*;

const LIST: &str = r#"
currency = "USD"
rounding = "total"
scale = 2
[[period]]
from = "2026-01-01"
tiers = [ { up_to = 3, price = "0.035" }, { up_to = 5, price = "0.030" }, { price = "0.025" } ]
codes = { 12250 = "0.010" }
[[period]]
from = "2026-02-15"
tiers = [ { up_to = 4, price = "0.020" }, { price = "0.015" } ]
"#;

fn list(text: &str) -> PriceList {
    PriceList::parse(text, Path::new("p.toml")).unwrap()
}

fn ms(date: &str, hour: i8) -> i64 {
    let d: Date = date.parse().unwrap();
    d.at(hour, 0, 0, 0)
        .to_zoned_datetime(TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_millisecond()
}

fn total(pieces: &[Piece]) -> Decimal {
    pieces.iter().map(Piece::amount).sum()
}

#[test]
fn tier_edges_split_a_month() {
    let l = list(LIST);
    let mut p = Pricer::new(&l, TimeZone::UTC);
    // 2 checks: places 1-2 in tier 1.
    let a = p.charge(ms("2026-01-05", 1), Some(200), 2).unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].rate, PriceRate::Tier(0));
    // 4 more: place 3 in tier 1, 4-5 in tier 2, 6 in tier 3.
    let b = p.charge(ms("2026-01-06", 1), Some(200), 4).unwrap();
    let counts: Vec<(PriceRate, i64)> = b.iter().map(|x| (x.rate, x.count)).collect();
    assert_eq!(
        counts,
        [
            (PriceRate::Tier(0), 1),
            (PriceRate::Tier(1), 2),
            (PriceRate::Tier(2), 1)
        ]
    );
    // 0.035 + 2 x 0.030 + 0.025 = 0.120
    assert_eq!(total(&b), "0.120".parse().unwrap());
    // A per-code check is outside the tiers: it does not move the count.
    let c = p.charge(ms("2026-01-07", 1), Some(12250), 5).unwrap();
    assert_eq!(c[0].rate, PriceRate::Code(12250));
    assert_eq!(total(&c), "0.050".parse().unwrap());
    let d = p.charge(ms("2026-01-08", 1), Some(200), 1).unwrap();
    assert_eq!(d[0].rate, PriceRate::Tier(2));
    // A new month starts counting again at 1.
    let e = p.charge(ms("2026-02-01", 1), Some(200), 1).unwrap();
    assert_eq!(e[0].rate, PriceRate::Tier(0));
    assert_eq!(l.rate_label(0, PriceRate::Tier(1)), "2: 4 to 5");
    assert_eq!(l.rate_label(0, PriceRate::Tier(2)), "3: 6 and over");
}

#[test]
fn a_month_crossing_a_price_change_keeps_one_count() {
    let l = list(LIST);
    let mut p = Pricer::new(&l, TimeZone::UTC);
    // February: 3 checks under period 0 (places 1-3, tier 1 at 0.035).
    let a = p.charge(ms("2026-02-14", 23), Some(200), 3).unwrap();
    assert_eq!(
        (a[0].period, a[0].rate, a[0].count),
        (0, PriceRate::Tier(0), 3)
    );
    // From the 15th period 1 is in force: places 4-6 take its tiers (up_to 4, then rest).
    let b = p.charge(ms("2026-02-15", 0), Some(200), 3).unwrap();
    let got: Vec<(usize, PriceRate, i64)> = b.iter().map(|x| (x.period, x.rate, x.count)).collect();
    assert_eq!(
        got,
        [(1, PriceRate::Tier(0), 1), (1, PriceRate::Tier(1), 2)]
    );
    // 0.020 + 2 x 0.015 = 0.050
    assert_eq!(total(&b), "0.050".parse().unwrap());
    // Period 1 has no per-code price: 12250 is tiered there.
    let c = p.charge(ms("2026-02-16", 0), Some(12250), 1).unwrap();
    assert_eq!((c[0].period, c[0].rate), (1, PriceRate::Tier(1)));
    // Before the first period: no price.
    let mut q = Pricer::new(&l, TimeZone::UTC);
    assert!(q.charge(ms("2025-12-31", 23), Some(200), 1).is_none());
}

#[test]
fn the_month_and_the_period_follow_the_zone() {
    let l = list(LIST);
    let jakarta = TimeZone::get("Asia/Jakarta").unwrap();
    let mut p = Pricer::new(&l, jakarta);
    // 2026-02-14T18:00Z is the 15th in Jakarta (+07): period 1.
    let a = p.charge(ms("2026-02-14", 18), Some(200), 1).unwrap();
    assert_eq!(a[0].period, 1);
    // 2025-12-31T18:00Z is already 2026-01-01 there: priced.
    let mut q = Pricer::new(&l, TimeZone::get("Asia/Jakarta").unwrap());
    assert!(q.charge(ms("2025-12-31", 18), Some(200), 1).is_some());
}

#[test]
fn line_rounding_rounds_each_price_half_even() {
    let l = list(&LIST.replace("\"total\"", "\"line\""));
    let mut p = Pricer::new(&l, TimeZone::UTC);
    let a = p.charge(ms("2026-01-05", 1), Some(200), 3).unwrap();
    // 0.035 -> 0.04 (half to even), 3 x 0.04
    assert_eq!(a[0].unit.to_string(), "0.04");
    assert_eq!(total(&a), "0.12".parse().unwrap());
    // 0.025 -> 0.02 (half to even)
    assert_eq!(l.money.unit("0.025".parse().unwrap()).to_string(), "0.02");
    assert_eq!(l.money.total("0.125".parse().unwrap()).to_string(), "0.12");
}

#[test]
fn malformed_lists_name_the_key() {
    let err = |text: &str| {
        PriceList::parse(text, Path::new("p.toml"))
            .unwrap_err()
            .to_string()
    };
    let base = "currency = \"USD\"\n[[period]]\nfrom = \"2026-01-01\"\n";
    let e = err(&format!("{base}tiers = [ {{ price = 0.035 }} ]"));
    assert!(
        e.contains("p.toml") && e.contains("period[0].tiers[0].price"),
        "{e}"
    );
    assert!(e.contains("quote"), "{e}");
    let e = err(&format!(
        "{base}tiers = [ {{ up_to = 5, price = \"1\" }}, {{ up_to = 5, price = \"1\" }}, {{ price = \"1\" }} ]"
    ));
    assert!(e.contains("period[0].tiers[1].up_to"), "{e}");
    let e = err(&format!("{base}tiers = [ {{ up_to = 5, price = \"1\" }} ]"));
    assert!(e.contains("period[0].tiers[0].up_to"), "{e}");
    let e = err(&format!("{base}tiers = [ {{ price = \"-1\" }} ]"));
    assert!(e.contains("price"), "{e}");
    let e = err(&format!(
        "{base}tiers = [ {{ price = \"1\" }} ]\ncodes = {{ abc = \"1\" }}"
    ));
    assert!(e.contains("period[0].codes.abc"), "{e}");
    let e = err("currency = \"USD\"\n[[period]]\nfrom = \"Jan 1\"\ntiers = [ { price = \"1\" } ]");
    assert!(e.contains("period[0].from"), "{e}");
    let e = err(&format!(
        "rounding = \"up\"\n{base}tiers = [ {{ price = \"1\" }} ]"
    ));
    assert!(e.contains("`rounding`"), "{e}");
    let e =
        err(&format!("{base}tiers = [ {{ price = \"1\" }} ]").replace("currency = \"USD\"\n", ""));
    assert!(e.contains("`currency`"), "{e}");
    let e = err("currency = \"USD\"\n");
    assert!(e.contains("`period`"), "{e}");
    let e = err(&format!("{base}tiers = [ {{ price = \"1\" }} ]\nextra = 1"));
    assert!(e.contains("extra"), "{e}");
    let two = format!("{base}tiers = [ {{ price = \"1\" }} ]\n{}", &base[17..]);
    let e = err(&format!("{two}tiers = [ {{ price = \"1\" }} ]"));
    assert!(e.contains("period[1].from"), "{e}");
    // A TOML date literal is a date too.
    let l =
        list("currency = \"EUR\"\n[[period]]\nfrom = 2026-01-01\ntiers = [ { price = \"1\" } ]");
    assert_eq!(l.periods[0].from.to_string(), "2026-01-01");
    assert_eq!(l.money.rounding, Rounding::Total);
}

proptest! {
    /// Under `rounding = "line"` the amount is the sum of the per-check amounts: pricing
    /// checks in batches gives what pricing them one by one (each rounded) gives.
    #[test]
    fn line_amount_is_the_sum_of_its_lines(
        batches in proptest::collection::vec((0i64..90, 0u8..3, 1i64..40), 1..30),
        p1 in 0u32..100_000, p2 in 0u32..100_000, p3 in 0u32..100_000, up in 1u64..60,
    ) {
        let price = |n: u32| Decimal::new(n.into(), 4);
        let text = format!(
            "currency = \"USD\"\nrounding = \"line\"\nscale = 2\n[[period]]\nfrom = \"2026-01-01\"\n\
             tiers = [ {{ up_to = {up}, price = \"{}\" }}, {{ price = \"{}\" }} ]\n\
             codes = {{ 12250 = \"{}\" }}\n[[period]]\nfrom = \"2026-02-10\"\n\
             tiers = [ {{ up_to = {}, price = \"{}\" }}, {{ price = \"{}\" }} ]\n",
            price(p1), price(p2), price(p3), up + 3, price(p2), price(p1)
        );
        let l = list(&text);
        let mut batches = batches;
        batches.sort();
        let start = ms("2026-01-01", 0);
        let code = |c: u8| [200, 12250, 200][c as usize];
        let mut whole = Pricer::new(&l, TimeZone::UTC);
        let mut single = Pricer::new(&l, TimeZone::UTC);
        let (mut amount, mut lines) = (Decimal::ZERO, Decimal::ZERO);
        for (day, c, n) in batches {
            let t = start + day * 86_400_000;
            amount += total(&whole.charge(t, Some(code(c)), n).unwrap());
            for _ in 0..n {
                let one = single.charge(t, Some(code(c)), 1).unwrap();
                prop_assert_eq!(one.len(), 1);
                let line = l.money.round(one[0].price);
                prop_assert_eq!(line, one[0].unit);
                lines += line;
            }
        }
        prop_assert_eq!(amount, lines);
        prop_assert_eq!(l.money.total(amount), amount);
    }
}
