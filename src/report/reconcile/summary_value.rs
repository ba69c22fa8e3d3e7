//! What a summary statement's counts are worth: the expected amount of our charged checks of a
//! period, of the last of them, and of checks billed beyond ours.
//!
//! Policy (the summary bridge's prices, see `summary.rs`):
//! - under `--price`, every check is worth the price;
//! - under a price list, our checks are worth what the list charges them (their tier by their
//!   place in their calendar month, as billing prices them: the temporary table `priced`); the
//!   checks of a period not billed are its *last* ones (the latest places of the month); a check
//!   billed beyond ours is worth what the list charges the next places of the month after our
//!   checks up to the period's end (a tier price on the period's last day; 0 when no period of
//!   the list is in force then).

use super::*;

/// How counts of a period are turned into amounts.
pub(super) enum Valuer<'a> {
    /// `--price`.
    Flat(Decimal),
    /// A price list, its places counted per calendar month in `zone`.
    List { list: &'a PriceList, zone: TimeZone },
}

impl<'a> Valuer<'a> {
    /// The valuer of a reconcile with a price list or `--price` (none without either), a
    /// list's places counted in the account's zone (`--tz`).
    pub(super) fn of(opts: &'a ReconcileOptions) -> Option<Valuer<'a>> {
        match (&opts.prices, opts.price) {
            (Some(list), _) => Some(Valuer::List {
                list,
                // Tiers count per calendar month in the account's zone.
                zone: opts.zone.tz.clone(),
            }),
            (None, Some(p)) => Some(Valuer::Flat(p)),
            (None, None) => None,
        }
    }

    /// The expected amount of our last `k` charged checks dated in `[start, end)` (before any
    /// rounding of the total).
    pub(super) fn last(
        &self,
        conn: &Connection,
        (start, end): (i64, i64),
        k: i64,
    ) -> Result<Decimal, ReconcileError> {
        match self {
            Valuer::Flat(p) => Ok(*p * Decimal::from(k)),
            Valuer::List { .. } => {
                let mut stmt = conn.prepare_cached(
                    "SELECT p_unit FROM temp.priced WHERE p_time >= ?1 AND p_time < ?2
                     ORDER BY p_time DESC, cid DESC LIMIT ?3",
                )?;
                let mut rows = stmt.query(params![start, end, k])?;
                let mut sum = Decimal::ZERO;
                while let Some(r) = rows.next()? {
                    sum += r.get::<_, String>(0)?.parse().unwrap_or(Decimal::ZERO);
                }
                Ok(sum)
            }
        }
    }

    /// What the next `k` checks beyond ours in `[start, end)` cost, after the `before` checks
    /// billed beyond ours already valued in the same period.
    pub(super) fn beyond(
        &self,
        conn: &Connection,
        (start, end): (i64, i64),
        before: i64,
        k: i64,
    ) -> Result<Decimal, ReconcileError> {
        let (list, zone) = match self {
            Valuer::Flat(p) => return Ok(*p * Decimal::from(k)),
            Valuer::List { list, zone } => (*list, zone),
        };
        let last_ms = end - 1;
        let month_start = ListPrices::month_start(
            zone,
            jiff::Timestamp::from_millisecond(start)
                .ok()
                .map(|t| t.to_zoned_datetime(zone.clone()).date()),
        )
        .unwrap_or(start);
        // Our tiered checks of the month up to the period's end hold the first places.
        let placed: i64 = conn.query_row(
            "SELECT count(*) FROM temp.priced
             WHERE p_tier IS NOT NULL AND p_time >= ?1 AND p_time < ?2",
            params![month_start, end],
            |r| r.get(0),
        )?;
        let mut pricer = Pricer::new(list, zone.clone());
        if pricer.charge(last_ms, None, placed + before).is_none() {
            return Ok(Decimal::ZERO);
        }
        Ok(pricer
            .charge(last_ms, None, k)
            .map(|pieces| pieces.iter().map(|p| p.amount()).sum())
            .unwrap_or(Decimal::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_price_values_every_check_alike() {
        let conn = Connection::open_in_memory().unwrap();
        let v = Valuer::Flat("0.035".parse().unwrap());
        assert_eq!(v.last(&conn, (0, 1), 3).unwrap(), "0.105".parse().unwrap());
        assert_eq!(
            v.beyond(&conn, (0, 1), 5, 2).unwrap(),
            "0.070".parse().unwrap()
        );
    }
}
