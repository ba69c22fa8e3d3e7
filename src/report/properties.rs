//! Property tests over random databases and statements: the numbers of every report agree.
//!
//! - billing's totals equal the sum of its periods and (for answered checks) of its codes;
//! - every check is in exactly one class;
//! - reconcile's `net_difference` equals the sum of `effect × count` over its exclusive buckets;
//! - reconcile's `our_charged` equals billing's `totals.charged` for the same window;
//! - under a price list, billing's periods, codes and tiers add up to its amount, and reconcile
//!   (which prices check by check) gives our checks the same amount billing gives them;
//! - with checks spread over several accounts, billing's and attacks' `--by-account` groups add
//!   up to the report (counts and, under tiered price lists counted per account, amounts), each
//!   group equals that account's report alone, and reconcile's identities hold under
//!   `--account`;
//! - reconcile's bridge ties to the last decimal: `billed - expected` equals its lines plus
//!   rounding, and the three totals, for any statement (itemised or summary), price list,
//!   scale and rounding.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::accounts::{AccountKey, partner_codes};
use super::reconcile::{ReconcileOptions, reconcile};
use super::{DateBy, Period, Window, attacks, billing, load_quarter_hours, undated_outside};
use crate::check::{INTERNAL_ERROR, Status, Status::Done};
use crate::codes::CodeTable;
use crate::statement::StatementColumns;
use crate::store::{OpenMode, Store};

/// 2026-09-28T00:00Z: checks and lines fall from here over about five weeks.
const START_MS: i64 = 1_790_553_600_000;
const SPAN_MS: i64 = 37 * 86_400_000;

mod bridge;

#[derive(Debug, Clone)]
struct Check {
    status: Status,
    code: Option<i64>,
    event: Option<i64>,
    fetched: Option<i64>,
    /// Index in [`ACCOUNTS`] of the partner code it is recorded under.
    account: usize,
}

/// The partner codes checks are spread over (`unknown`: never recorded).
const ACCOUNTS: [&str; 3] = ["acme-id", "acme-ph", crate::check::UNKNOWN_ACCOUNT];

#[derive(Debug, Clone)]
struct Line {
    /// Index of the check it names (modulo the checks), or none: an id we do not know.
    check: Option<usize>,
    by_sequence: bool,
    time: Option<i64>,
    amount: Option<&'static str>,
    /// Its time written as no date at all (`31/13/2026 25:00`): a line that cannot be read.
    garbled: bool,
}

fn check() -> impl Strategy<Value = Check> {
    (
        prop::sample::select(vec![Done, Done, Done, Status::Failed, Status::Pending]),
        prop::sample::select(vec![200, 12202, 12250, 11340, INTERNAL_ERROR, 12299]),
        prop::option::weighted(0.85, 0..SPAN_MS),
        prop::option::weighted(0.9, 0..SPAN_MS),
        0..ACCOUNTS.len(),
    )
        .prop_map(|(status, code, event, fetched, account)| Check {
            status,
            code: (status == Done).then_some(code),
            event: event.map(|t| START_MS + t),
            fetched: fetched.map(|t| START_MS + t),
            account,
        })
}

fn line() -> impl Strategy<Value = Line> {
    (
        prop::option::weighted(0.9, 0usize..1000),
        any::<bool>(),
        prop::option::weighted(0.9, 0..SPAN_MS),
        prop::sample::select(vec![None, Some("0.035"), Some("0.05")]),
    )
        .prop_map(|(check, by_sequence, time, amount)| Line {
            check,
            by_sequence,
            time: time.map(|t| START_MS + t),
            amount,
            garbled: false,
        })
}

fn store(dir: &std::path::Path, checks: &[Check]) -> Store {
    let store = Store::open(&dir.join("p.db"), OpenMode::CreateOrMigrate).unwrap();
    for (i, c) in checks.iter().enumerate() {
        store
            .conn
            .execute(
                "INSERT INTO checks (liveness_id, sequence_id, status, code, event_time, fetched_at,
                                     partner_code)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![
                    format!("id-{i}"),
                    format!("seq-{i}"),
                    c.status.as_str(),
                    c.code,
                    c.event,
                    c.fetched,
                    ACCOUNTS[c.account]
                ],
            )
            .unwrap();
    }
    store
}

fn statement(dir: &std::path::Path, lines: &[Line], checks: usize) -> std::path::PathBuf {
    let mut text = String::from("billed_at,liveness_id,sequence_id,amount\n");
    for l in lines {
        let time = match l.garbled {
            true => "31/13/2026 25:00".to_string(),
            false => l.time.map(crate::timestamp::format_utc).unwrap_or_default(),
        };
        let (id, seq) = match l.check.filter(|_| checks > 0) {
            Some(i) if l.by_sequence => (String::new(), format!("seq-{}", i % checks)),
            Some(i) => (format!("id-{}", i % checks), String::new()),
            None => ("nobody".to_string(), String::new()),
        };
        text.push_str(&format!(
            "{time},{id},{seq},{}\n",
            l.amount.unwrap_or_default()
        ));
    }
    let path = dir.join("statement.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn window_strategy() -> impl Strategy<Value = (&'static str, Option<&'static str>, DateBy)> {
    (
        prop::sample::select(vec!["UTC", "Asia/Singapore", "America/New_York"]),
        prop::sample::select(vec![None, Some("2026-10-01"), Some("2026-10-15")]),
        prop::sample::select(vec![DateBy::Event, DateBy::EventOrFetch, DateBy::Fetch]),
    )
}

/// The reconcile identity's right side: Σ effect × count over the exclusive buckets.
fn explained(r: &super::reconcile::Reconciliation) -> i64 {
    r.buckets
        .values()
        .filter(|b| !b.overlaps)
        .map(|b| b.effect.unwrap_or(0) * b.count as i64)
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn billing_adds_up_and_every_check_has_one_class(
        checks in prop::collection::vec(check(), 0..60),
        (tz, from, date_by) in window_strategy(),
        by in prop::sample::select(vec![Period::Day, Period::Week, Period::Month]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &checks);
        let codes = CodeTable::shipped();
        let to = from.map(|_| "2026-10-31");
        let window = Window::new(tz, by, from, to).unwrap().dated_by(date_by);
        let quarter_hours = load_quarter_hours(&store.conn, &window).unwrap();
        let outside = undated_outside(&store.conn, &window).unwrap();
        let price = Decimal::new(35, 3);
        let b = billing::from_quarter_hours(&quarter_hours, &[], &codes, &window, &billing::Pricing::Flat(price, "USD".into()), outside);
        let t = b.totals.counts;
        // Every check in exactly one class.
        prop_assert_eq!(t.checks, t.charged + t.uncharged + t.unknown_code + t.unresolved);
        prop_assert!(t.provisional <= t.uncharged);
        if from.is_none() {
            prop_assert_eq!(t.checks, checks.len() as i64);
        }
        // Totals are the sum of the periods...
        let mut sum = billing::Counts::default();
        for p in &b.periods {
            sum.checks += p.counts.checks;
            sum.charged += p.counts.charged;
            sum.uncharged += p.counts.uncharged;
            sum.provisional += p.counts.provisional;
            sum.unknown_code += p.counts.unknown_code;
            sum.unresolved += p.counts.unresolved;
            prop_assert_eq!(p.amount, Some(price * Decimal::from(p.counts.charged)));
        }
        prop_assert_eq!(sum, t);
        // ... and, for answered checks, of the codes.
        let by_code: i64 = b.codes.iter().map(|c| c.count).sum();
        prop_assert_eq!(by_code, t.charged + t.uncharged + t.unknown_code);
        let charged_by_code: i64 =
            b.codes.iter().filter(|c| c.charged == Some(true)).map(|c| c.count).sum();
        prop_assert_eq!(charged_by_code, t.charged);
        prop_assert_eq!(b.totals.amount, Some(price * Decimal::from(t.charged)));
        // No period is invented after the last one with data.
        if let Some(last) = b.periods.iter().rfind(|p| p.period != super::UNDATED) {
            prop_assert!(last.counts.checks > 0);
        }
    }

    #[test]
    fn a_price_list_prices_alike_in_billing_and_reconcile(
        checks in prop::collection::vec(check(), 0..60),
        (tz, from, date_by) in window_strategy(),
        by in prop::sample::select(vec![Period::Day, Period::Week, Period::Month]),
        rounding in prop::sample::select(vec!["line", "total"]),
        up_to in 1u32..12,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(dir.path(), &checks);
        let codes = CodeTable::shipped();
        // A price change inside October, tiers small enough to be crossed, a per-code price.
        let list_path = dir.path().join("prices.toml");
        std::fs::write(&list_path, format!(
            "currency = \"USD\"\nrounding = \"{rounding}\"\nscale = 2\n\
             [[period]]\nfrom = \"2026-09-01\"\n\
             tiers = [ {{ up_to = {up_to}, price = \"0.035\" }}, {{ price = \"0.025\" }} ]\n\
             codes = {{ 12250 = \"0.015\" }}\n\
             [[period]]\nfrom = \"2026-10-10\"\n\
             tiers = [ {{ up_to = {}, price = \"0.045\" }}, {{ price = \"0.005\" }} ]\n",
            up_to + 2
        )).unwrap();
        let list = crate::prices::PriceList::load(&list_path).unwrap();
        let to = from.map(|_| "2026-10-31");
        let window = Window::new(tz, by, from, to).unwrap().dated_by(date_by);
        let quarter_hours = load_quarter_hours(&store.conn, &window).unwrap();
        let lead = billing::lead_in(&store.conn, &window).unwrap();
        let b = billing::from_quarter_hours(&quarter_hours, &lead, &codes, &window, &billing::Pricing::List(list.clone()), 0);
        let l = b.prices.clone().unwrap();
        let periods: Decimal = b.periods.iter().filter_map(|p| p.amount).sum();
        let by_code: Decimal = b.codes.iter().filter_map(|c| c.amount).sum();
        let tiers: Decimal = l.tiers.iter().map(|t| t.amount).sum();
        let tier_checks: i64 = l.tiers.iter().map(|t| t.checks).sum();
        prop_assert_eq!(periods, l.unrounded);
        prop_assert_eq!(by_code, l.unrounded);
        prop_assert_eq!(tiers, l.unrounded);
        prop_assert_eq!(tier_checks + l.unpriced, b.totals.counts.charged);
        prop_assert_eq!(b.totals.amount, Some(list.money.total(l.unrounded)));
        if from.is_some() {
            // Reconcile prices our charged checks one by one: the same amount.
            let statement = statement(dir.path(), &[], checks.len());
            let opts = ReconcileOptions {
                statement,
                columns: StatementColumns::default(),
                zone: crate::zone::Zone::parse(tz, "--tz").unwrap(),
                statement_zone: None,
                dispute: false,
                from: from.map(str::to_string),
                to: to.map(str::to_string),
                price: None,
                prices: Some(list.clone()),
                boundary_hours: 0,
                details: None,
                raw_cells: false,
                date_by,
                account: None,
            };
            let r = reconcile(&mut store.conn, &codes, &opts).unwrap();
            prop_assert_eq!(r.our_charged, b.totals.counts.charged);
            prop_assert_eq!(r.our_amount, b.totals.amount);
        }
    }

    #[test]
    fn reconcile_adds_up_and_agrees_with_billing(
        checks in prop::collection::vec(check(), 0..50),
        lines in prop::collection::vec(line(), 0..50),
        (tz, from, date_by) in window_strategy(),
        boundary_hours in 0u32..30,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(dir.path(), &checks);
        let codes = CodeTable::shipped();
        let to = from.map(|_| "2026-10-31");
        let opts = ReconcileOptions {
            statement: statement(dir.path(), &lines, checks.len()),
            columns: StatementColumns::default(),
            zone: crate::zone::Zone::parse(tz, "--tz").unwrap(),
            statement_zone: None,
            dispute: false,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            price: Some(Decimal::new(35, 3)),
            prices: None,
            boundary_hours,
            details: None,
            raw_cells: false,
            date_by,
            account: None,
        };
        let r = reconcile(&mut store.conn, &codes, &opts).unwrap();
        prop_assert_eq!(r.net_difference, explained(&r), "{:?}", r.buckets);
        prop_assert_eq!(r.net_difference, r.lines as i64 - r.our_charged);
        // Every line is in the period, outside it, a shift of one of ours, or malformed.
        let outside = r.buckets.get("outside_period").map_or(0, |b| b.count);
        let shifted_out = r.buckets.get("shifted_out").map_or(0, |b| b.count);
        prop_assert_eq!(
            r.lines + outside + shifted_out + r.malformed.len() as u64,
            lines.len() as u64
        );
        // Our side is billing's charged for the same window.
        if let (Some(f), Some(t)) = (&r.period_from, &r.period_to) {
            let window = Window::new(tz, Period::Day, Some(f), Some(t)).unwrap().dated_by(date_by);
            let quarter_hours = load_quarter_hours(&store.conn, &window).unwrap();
            let b = billing::from_quarter_hours(&quarter_hours, &[], &codes, &window, &billing::Pricing::Unpriced("USD".into()), 0);
            prop_assert_eq!(r.our_charged, b.totals.counts.charged);
        }
    }

    #[test]
    fn billing_by_account_adds_up_and_each_group_is_the_account_alone(
        checks in prop::collection::vec(check(), 0..60),
        (tz, from, date_by) in window_strategy(),
        by in prop::sample::select(vec![Period::Day, Period::Week, Period::Month]),
        rounding in prop::sample::select(vec!["line", "total"]),
        up_to in 1u32..8,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &checks);
        let codes = CodeTable::shipped();
        let list = |name: &str, low: &str, high: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!(
                "currency = \"USD\"\nrounding = \"{rounding}\"\nscale = 2\n\
                 [[period]]\nfrom = \"2026-09-01\"\n\
                 tiers = [ {{ up_to = {up_to}, price = \"{low}\" }}, {{ price = \"{high}\" }} ]\n\
                 codes = {{ 12250 = \"0.015\" }}\n"
            )).unwrap();
            billing::Pricing::List(crate::prices::PriceList::load(&path).unwrap())
        };
        // Two accounts share a list (each counts its own tiers), one has its own.
        let shared = list("shared.toml", "0.0355", "0.0251");
        let own = list("own.toml", "0.041", "0.0125");
        let accounts: Vec<(AccountKey, billing::Pricing)> = partner_codes(&store.conn)
            .unwrap()
            .into_iter()
            .map(|code| {
                let pricing = if code == ACCOUNTS[1] { own.clone() } else { shared.clone() };
                (AccountKey { account: code.clone(), partner_code: code }, pricing)
            })
            .collect();
        let to = from.map(|_| "2026-10-31");
        let window = Window::new(tz, by, from, to).unwrap().dated_by(date_by);
        let over = |by_account| {
            billing::report(&store.conn, &codes, &window, &accounts, &shared, by_account)
                .unwrap()
        };
        let (total, grouped) = (over(false), over(true));
        prop_assert_eq!(&total.totals, &grouped.totals);
        prop_assert_eq!(&total.periods, &grouped.periods);
        let groups = grouped.accounts.clone().unwrap();
        prop_assert_eq!(groups.len(), accounts.len());
        let mut counts = billing::Counts::default();
        let mut amount = Decimal::ZERO;
        for (g, (key, pricing)) in groups.iter().zip(&accounts) {
            // Each group is the report narrowed to its account alone.
            let narrowed = window.clone().for_account(Some(key.partner_code.clone()));
            let alone = billing::window_report(&store.conn, &codes, &narrowed, pricing).unwrap();
            prop_assert_eq!(&g.key, key);
            prop_assert_eq!(&g.totals, &alone.totals);
            prop_assert_eq!(&g.periods, &alone.periods);
            prop_assert_eq!(&g.codes, &alone.codes);
            // ... and the report of a database holding only its checks.
            let own_dir = tempfile::tempdir().unwrap();
            let own: Vec<Check> = checks
                .iter()
                .filter(|x| ACCOUNTS[x.account] == key.partner_code)
                .cloned()
                .collect();
            let own_store = self::store(own_dir.path(), &own);
            let apart = billing::window_report(&own_store.conn, &codes, &window, pricing).unwrap();
            prop_assert_eq!(&g.totals, &apart.totals);
            prop_assert_eq!(&g.periods, &apart.periods);
            let c = g.totals.counts;
            counts.checks += c.checks;
            counts.charged += c.charged;
            counts.uncharged += c.uncharged;
            counts.provisional += c.provisional;
            counts.unknown_code += c.unknown_code;
            counts.unresolved += c.unresolved;
            amount += g.totals.amount.unwrap_or_default();
            let n = checks.iter().filter(|x| ACCOUNTS[x.account] == key.partner_code).count();
            if from.is_none() {
                prop_assert_eq!(c.checks, n as i64);
            }
        }
        prop_assert_eq!(counts, total.totals.counts);
        if !accounts.is_empty() {
            prop_assert_eq!(total.totals.amount, Some(amount));
        }
        // Periods and codes: each the sum of the groups' own.
        for p in &total.periods {
            let sum: Decimal = groups
                .iter()
                .flat_map(|g| g.periods.iter().filter(|q| q.period == p.period))
                .filter_map(|q| q.amount)
                .sum();
            let charged: i64 = groups
                .iter()
                .flat_map(|g| g.periods.iter().filter(|q| q.period == p.period))
                .map(|q| q.counts.charged)
                .sum();
            prop_assert_eq!(p.counts.charged, charged);
            if accounts.len() > 1 {
                prop_assert_eq!(p.amount, Some(sum));
            }
        }
        if let Some(l) = &total.prices {
            let tiers: Decimal = l.tiers.iter().map(|t| t.amount).sum();
            prop_assert_eq!(tiers, l.unrounded);
        }
    }

    #[test]
    fn attacks_by_account_add_up_and_each_group_is_the_account_alone(
        checks in prop::collection::vec(check(), 0..60),
        (tz, from, date_by) in window_strategy(),
        by in prop::sample::select(vec![Period::Day, Period::Week]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &checks);
        let codes = CodeTable::shipped();
        let keys: Vec<AccountKey> = partner_codes(&store.conn)
            .unwrap()
            .into_iter()
            .map(|code| AccountKey { account: code.clone(), partner_code: code })
            .collect();
        let to = from.map(|_| "2026-10-31");
        let window = Window::new(tz, by, from, to).unwrap().dated_by(date_by);
        let opts = attacks::AttackOptions {
            dimension: None,
            top: 5,
            rule: attacks::SpikeRule { factor: 2.0, min_count: 1, baseline_periods: 3 },
            face_columns: None,
        };
        let a = attacks::compute_over(&store.conn, &codes, &window, &keys, &opts, true).unwrap();
        let groups = a.accounts.clone().unwrap();
        prop_assert_eq!(groups.iter().map(|g| g.resolved).sum::<i64>(), a.resolved);
        prop_assert_eq!(groups.iter().map(|g| g.attacks).sum::<i64>(), a.attacks);
        for p in &a.periods {
            let of = |f: &dyn Fn(&attacks::PeriodRow) -> i64| -> i64 {
                groups
                    .iter()
                    .flat_map(|g| g.periods.iter().filter(|q| q.period == p.period))
                    .map(f)
                    .sum()
            };
            prop_assert_eq!(of(&|q| q.resolved), p.resolved);
            prop_assert_eq!(of(&|q| q.attacks), p.attacks);
        }
        for g in &groups {
            let narrowed = window.clone().for_account(Some(g.key.partner_code.clone()));
            let alone = attacks::compute(&store.conn, &codes, &narrowed, &opts).unwrap();
            prop_assert_eq!((g.resolved, g.attacks), (alone.resolved, alone.attacks));
            prop_assert_eq!(&g.periods, &alone.periods);
            // ... and the report of a database holding only its checks.
            let own_dir = tempfile::tempdir().unwrap();
            let own: Vec<Check> = checks
                .iter()
                .filter(|x| ACCOUNTS[x.account] == g.key.partner_code)
                .cloned()
                .collect();
            let own_store = self::store(own_dir.path(), &own);
            let apart = attacks::compute(&own_store.conn, &codes, &window, &opts).unwrap();
            prop_assert_eq!(&g.periods, &apart.periods);
        }
    }

    #[test]
    fn reconcile_of_one_account_adds_up_and_agrees_with_its_billing(
        checks in prop::collection::vec(check(), 0..50),
        lines in prop::collection::vec(line(), 0..50),
        (tz, from, date_by) in window_strategy(),
        account in 0..ACCOUNTS.len(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(dir.path(), &checks);
        let codes = CodeTable::shipped();
        let to = from.map(|_| "2026-10-31");
        let code = ACCOUNTS[account].to_string();
        let opts = ReconcileOptions {
            statement: statement(dir.path(), &lines, checks.len()),
            columns: StatementColumns::default(),
            zone: crate::zone::Zone::parse(tz, "--tz").unwrap(),
            statement_zone: None,
            dispute: false,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            price: Some(Decimal::new(35, 3)),
            prices: None,
            boundary_hours: 6,
            details: None,
            raw_cells: false,
            date_by,
            account: Some(code.clone()),
        };
        let r = reconcile(&mut store.conn, &codes, &opts).unwrap();
        prop_assert_eq!(r.net_difference, explained(&r), "{:?}", r.buckets);
        prop_assert_eq!(r.net_difference, r.lines as i64 - r.our_charged);
        // A line naming another account's check is not ours: unknown to us, never matched.
        let matched = r.buckets.get("matched").map_or(0, |b| b.count);
        let ours_named = lines
            .iter()
            .filter(|l| l.check.is_some_and(|i| {
                !checks.is_empty() && ACCOUNTS[checks[i % checks.len()].account] == code
            }))
            .count() as u64;
        prop_assert!(matched <= ours_named);
        if let (Some(f), Some(t)) = (&r.period_from, &r.period_to) {
            let window = Window::new(tz, Period::Day, Some(f), Some(t))
                .unwrap()
                .dated_by(date_by)
                .for_account(Some(code.clone()));
            let flat = billing::Pricing::Flat(Decimal::new(35, 3), "USD".into());
            let b = billing::window_report(&store.conn, &codes, &window, &flat).unwrap();
            prop_assert_eq!(r.our_charged, b.totals.counts.charged);
            prop_assert_eq!(r.our_amount, b.totals.amount);
        }
    }
}
