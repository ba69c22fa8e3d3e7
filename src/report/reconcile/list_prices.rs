//! Our charged checks priced by a price list, check by check, for reconcile: the temporary
//! table `priced` (by check id), so memory stays flat however many checks a month holds.
//!
//! Policy: the tier count starts on the first day of the period's first month (before
//! `--from` too), as billing counts it; a check with no period in force has no price; a
//! positive price the list's `rounding = "line"` rounds to 0 is marked (`p_zero`) so the
//! report can say how many checks are billed at 0.

use super::*;

/// The price a list gives one of our charged checks.
pub(super) struct CheckPrice {
    /// What the check is charged at (rounded under `rounding = "line"`).
    pub(super) unit: Decimal,
    pub(super) period: usize,
    pub(super) rate: PriceRate,
}

/// Our charged checks priced by the list, kept in the temporary table `priced` (by check id),
/// so memory stays flat however many checks a month holds.
pub(super) struct ListPrices<'a> {
    pub(super) list: &'a PriceList,
}

impl ListPrices<'_> {
    /// Prices our charged checks dated in `[first, end)` in time order (`first`: the first day
    /// of the period's first month, so the tier count starts on the month's first day).
    pub(super) fn load<'a>(
        conn: &Connection,
        codes: &CodeTable,
        list: &'a PriceList,
        opts: &ReconcileOptions,
        zone: &TimeZone,
        (first, end): (Option<i64>, Option<i64>),
    ) -> Result<ListPrices<'a>, ReconcileError> {
        conn.execute_batch(
            "DROP TABLE IF EXISTS temp.priced;
             CREATE TEMP TABLE priced (cid INTEGER PRIMARY KEY, p_time INTEGER NOT NULL,
                                       p_unit TEXT NOT NULL, p_period INTEGER NOT NULL,
                                       p_tier INTEGER, p_code INTEGER, p_zero INTEGER NOT NULL);",
        )?;
        let t = opts.date_by.time_sql();
        let tx = conn.unchecked_transaction()?;
        {
            let mut insert =
                tx.prepare("INSERT INTO temp.priced VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?;
            let mut stmt = tx.prepare(&format!(
                "SELECT id, {t}, code FROM checks
                 WHERE {} AND {t} IS NOT NULL AND (?1 IS NULL OR {t} >= ?1)
                   AND (?2 IS NULL OR {t} < ?2) AND {}
                 ORDER BY {t}, liveness_id",
                crate::check::charged_sql(codes, ""),
                crate::check::account_sql(opts.account.is_some())
            ))?;
            let mut rows = stmt.query(params![first, end, opts.account])?;
            let mut pricer = Pricer::new(list, zone.clone());
            while let Some(r) = rows.next()? {
                let (id, time, code): (i64, i64, Option<i64>) = (r.get(0)?, r.get(1)?, r.get(2)?);
                if let Some(piece) = pricer
                    .charge(time, code, 1)
                    .and_then(|p| p.first().copied())
                {
                    let (tier, code) = match piece.rate {
                        PriceRate::Tier(t) => (Some(t as i64), None),
                        PriceRate::Code(c) => (None, Some(c)),
                    };
                    insert.execute(params![
                        id,
                        time,
                        piece.unit.to_string(),
                        piece.period as i64,
                        tier,
                        code,
                        piece.billed_at_zero()
                    ])?;
                }
            }
        }
        tx.commit()?;
        Ok(ListPrices { list })
    }

    /// Our charged checks dated in `[from, to)` the list's rounding bills at 0.
    pub(super) fn billed_at_zero(
        &self,
        conn: &Connection,
        (from, to): (Option<i64>, Option<i64>),
    ) -> Result<i64, ReconcileError> {
        Ok(conn.query_row(
            "SELECT count(*) FROM temp.priced WHERE p_zero
               AND (?1 IS NULL OR p_time >= ?1) AND (?2 IS NULL OR p_time < ?2)",
            params![from, to],
            |r| r.get(0),
        )?)
    }

    /// The first instant of the month holding `date` in `zone`.
    pub(super) fn month_start(zone: &TimeZone, date: Option<jiff::civil::Date>) -> Option<i64> {
        date.and_then(|d| d.first_of_month().to_zoned_datetime(zone.clone()).ok())
            .map(|z| z.timestamp().as_millisecond())
    }

    /// The list's price of our check `check`, if it has one.
    pub(super) fn get(
        &self,
        conn: &Connection,
        check: Option<i64>,
    ) -> Result<Option<CheckPrice>, ReconcileError> {
        use rusqlite::OptionalExtension;
        let Some(check) = check else {
            return Ok(None);
        };
        let mut stmt = conn.prepare_cached(
            "SELECT p_unit, p_period, p_tier, p_code FROM temp.priced WHERE cid = ?1",
        )?;
        let row: Option<(String, i64, Option<i64>, Option<i64>)> = stmt
            .query_row(params![check], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        Ok(row.and_then(|(unit, period, tier, code)| {
            Some(CheckPrice {
                unit: unit.parse().ok()?,
                period: usize::try_from(period).ok()?,
                rate: match (tier, code) {
                    (Some(t), _) => PriceRate::Tier(usize::try_from(t).ok()?),
                    (None, Some(c)) => PriceRate::Code(c),
                    (None, None) => return None,
                },
            })
        }))
    }

    /// `from 2026-02-15, tier 1: 1 to 4` or `from 2026-01-01, code 12250`.
    pub(super) fn label(&self, p: &CheckPrice) -> String {
        let rate = match p.rate {
            PriceRate::Tier(_) => format!("tier {}", self.list.rate_label(p.period, p.rate)),
            PriceRate::Code(_) => self.list.rate_label(p.period, p.rate),
        };
        format!("from {}, {rate}", self.list.periods[p.period].from)
    }
}
