//! Property tests of reconcile's bridge: it ties to the last decimal (`billed - expected`
//! equals its lines plus rounding, and the three totals) for any statement, itemised or
//! summary, price list, scale and rounding; a summary's dispute rows add up to its amount to
//! dispute.

use super::*;

/// A summary statement: one line per day (or month) with a count and maybe an amount.
fn summary_statement(
    dir: &std::path::Path,
    lines: &[(u32, i64, Option<&str>, bool)],
    garbled: &[bool],
) -> std::path::PathBuf {
    let mut text = String::from("date,checks,amount\n");
    for (i, (day, count, amount, monthly)) in lines.iter().enumerate() {
        let date = jiff::Timestamp::from_millisecond(START_MS + i64::from(*day) * 86_400_000)
            .unwrap()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date();
        // A garbled line's period is no date: the line cannot be read.
        let period = if garbled.get(i).copied().unwrap_or(false) {
            "2026-13-40".to_string()
        } else if *monthly {
            format!("{:04}-{:02}", date.year(), date.month())
        } else {
            date.to_string()
        };
        text.push_str(&format!(
            "{period},{count},{}\n",
            amount.unwrap_or_default()
        ));
    }
    let path = dir.join("summary.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// A price list at two periods, tiered, with a per-code price: `rounding` at `scale`.
fn price_list(
    dir: &std::path::Path,
    rounding: &str,
    scale: u32,
    up_to: u32,
) -> crate::prices::PriceList {
    let list_path = dir.join("prices.toml");
    std::fs::write(
        &list_path,
        format!(
            "currency = \"USD\"\nrounding = \"{rounding}\"\nscale = {scale}\n\
         [[period]]\nfrom = \"2026-09-01\"\n\
         tiers = [ {{ up_to = {up_to}, price = \"0.0355\" }}, {{ price = \"0.0251\" }} ]\n\
         codes = {{ 12250 = \"0.015\" }}\n\
         [[period]]\nfrom = \"2026-10-10\"\n\
         tiers = [ {{ price = \"0.04449\" }} ]\n"
        ),
    )
    .unwrap();
    crate::prices::PriceList::load(&list_path).unwrap()
}

/// What the lines that could not be read bill: the amounts that can be read of them.
fn readable(amounts: impl Iterator<Item = Option<&'static str>>) -> Decimal {
    amounts
        .flatten()
        .filter_map(|a| a.parse::<Decimal>().ok())
        .sum()
}

/// The bridge starts from the statement's total: every line counted, those outside the
/// period taken off to give `billed`, and the lines that could not be read (`malformed`) in
/// `unreadable` at the amounts that can be read of them (`unreadable_amount`).
fn bridge_starts_from_the_statement(
    r: &crate::report::reconcile::Reconciliation,
    lines: usize,
    unreadable_amount: Decimal,
) -> Result<(), TestCaseError> {
    let b = r.bridge.clone().unwrap();
    prop_assert_eq!(b.statement.count, lines as u64);
    prop_assert_eq!(b.statement.amount, b.billed + b.outside_period.amount);
    let line = b.lines.iter().find(|l| l.bucket.as_str() == "unreadable");
    let line = line.map(|l| (l.count, l.amount));
    prop_assert_eq!(
        line,
        Some((r.malformed.len() as u64, unreadable_amount)),
        "{:?}",
        r.malformed
    );
    Ok(())
}

/// The bridge's identities: it ties to the last decimal, its totals add up, and each
/// exclusive bucket counts lines or checks once.
fn bridge_ties(
    r: &crate::report::reconcile::Reconciliation,
    flat: bool,
) -> Result<(), TestCaseError> {
    let b = r.bridge.clone().unwrap();
    prop_assert_eq!(b.billed, r.billed_amount);
    prop_assert_eq!(Some(b.expected), r.our_amount);
    prop_assert_eq!(b.difference, r.billed_amount - b.expected);
    prop_assert_eq!(b.difference, b.explained(), "{:?}", b);
    prop_assert_eq!(
        b.difference,
        b.to_dispute.amount - b.owed.amount + b.to_check.amount + b.rounding
    );
    if flat {
        prop_assert_eq!(b.rounding, Decimal::ZERO);
    }
    prop_assert_eq!(explained(r), r.net_difference);
    Ok(())
}

proptest! {
    #[test]
    fn the_bridge_ties_to_the_last_decimal(
        checks in prop::collection::vec(check(), 0..50),
        lines in prop::collection::vec(
            (line(), prop::sample::select(vec![
                None, Some("0.035"), Some("0.05"), Some("0.0349"), Some("0.02"), Some("-0.035"),
                Some("0.1234"), Some("0.035 a check"),
            ]), prop::bool::weighted(0.1))
                .prop_map(|(l, amount, garbled)| Line { amount, garbled, ..l }),
            0..50,
        ),
        (tz, from, date_by) in window_strategy(),
        (rounding, scale, up_to) in (
            prop::sample::select(vec!["line", "total"]), 0u32..5, 1u32..8,
        ),
        flat in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(dir.path(), &checks);
        let codes = CodeTable::shipped();
        let list = price_list(dir.path(), rounding, scale, up_to);
        let to = from.map(|_| "2026-10-31");
        let opts = ReconcileOptions {
            statement: statement(dir.path(), &lines, checks.len()),
            columns: StatementColumns::default(),
            zone: crate::zone::Zone::parse(tz, "--tz").unwrap(),
            statement_zone: None,
            dispute: false,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            price: flat.then(|| Decimal::new(355, 4)),
            prices: (!flat).then_some(list),
            boundary_hours: 6,
            details: None,
            raw_cells: false,
            date_by,
            account: None,
        };
        let r = reconcile(&mut store.conn, &codes, &opts).unwrap();
        bridge_ties(&r, flat)?;
        // A line cannot be read when its date or its amount cannot.
        let unread = |l: &&Line| l.garbled || l.amount == Some("0.035 a check");
        let unreadable = readable(lines.iter().filter(unread).map(|l| l.amount));
        bridge_starts_from_the_statement(&r, lines.len(), unreadable)?;
        let b = r.bridge.clone().unwrap();
        if flat {
            // The file's total: each amount read, a blank one at the price (none on a line
            // that cannot be read).
            let price = Decimal::new(355, 4);
            let total: Decimal = lines.iter().map(|l| match (unread(&l), l.amount) {
                (true, _) => readable([l.amount].into_iter()),
                (false, None) => price,
                (false, Some(a)) => a.parse().unwrap(),
            }).sum();
            prop_assert_eq!(b.statement.amount, total);
        }
        // Every exclusive bucket of the bridge counts lines or checks once.
        let in_bridge: u64 = b.lines.iter()
            .filter(|l| !l.bucket.overlaps())
            .map(|l| l.count)
            .sum();
        let matched = r.buckets.get("matched").map_or(0, |m| m.count);
        let unbilled: u64 = ["underbilled", "shifted_out"]
            .iter()
            .map(|k| r.buckets.get(*k).map_or(0, |m| m.count))
            .sum();
        prop_assert_eq!(in_bridge + matched, r.lines + unbilled + r.malformed.len() as u64);
    }

    #[test]
    fn the_bridge_of_a_summary_statement_ties_to_the_last_decimal(
        checks in prop::collection::vec(check(), 0..60),
        lines in prop::collection::vec(
            (0u32..37, 0i64..8, prop::sample::select(vec![
                None, Some("0.035"), Some("0.1"), Some("0.2449"), Some("0"),
            ]), prop::bool::weighted(0.15)),
            0..20,
        ),
        garbled in prop::collection::vec(prop::bool::weighted(0.1), 20),
        (tz, from, date_by) in window_strategy(),
        (rounding, scale, up_to) in (
            prop::sample::select(vec!["line", "total"]), 0u32..5, 1u32..8,
        ),
        flat in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(dir.path(), &checks);
        let codes = CodeTable::shipped();
        let list = price_list(dir.path(), rounding, scale, up_to);
        let opts = ReconcileOptions {
            statement: summary_statement(dir.path(), &lines, &garbled),
            columns: StatementColumns::default(),
            zone: crate::zone::Zone::parse(tz, "--tz").unwrap(),
            statement_zone: None,
            dispute: true,
            from: from.map(str::to_string),
            to: from.map(|_| "2026-10-31".to_string()),
            price: flat.then(|| Decimal::new(355, 4)),
            prices: (!flat).then_some(list),
            boundary_hours: 6,
            details: None,
            raw_cells: false,
            date_by,
            account: None,
        };
        let r = reconcile(&mut store.conn, &codes, &opts).unwrap();
        prop_assert_eq!(r.shape, "summary");
        bridge_ties(&r, flat)?;
        let unreadable = readable(lines.iter().zip(&garbled).filter(|(_, g)| **g).map(|(l, _)| l.2));
        bridge_starts_from_the_statement(&r, lines.len(), unreadable)?;
        // The dispute rows add up to the bridge's amount to dispute.
        let b = r.bridge.clone().unwrap();
        let disputed = r.disputes.as_ref().map(|d| d.total);
        prop_assert_eq!(disputed, Some(b.to_dispute.amount));
        // The counts: billed checks = ours + beyond ours - ours not billed.
        let count = |k: &str| r.buckets.get(k).map_or(0, |m| m.count) as i64;
        prop_assert_eq!(
            r.net_difference,
            count("billed_over") + count("provisional") + count("provisional_confirmed")
                - count("underbilled")
        );
    }
}
