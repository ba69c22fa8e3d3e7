-- liveaudit schema, version 14.
-- The report index is named for what it groups by, the quarter hour of the 15-minute aggregate
-- (`QUARTER_HOUR_MS`); "bucket" names reconcile's classes only. SQLite cannot rename an index,
-- so it is built again under the new name with the same columns (once, when an older database
-- is opened).
DROP INDEX IF EXISTS checks_by_account_bucket;
CREATE INDEX checks_by_account_quarter_hour
    ON checks (partner_code, coalesce(event_time, fetched_at) / 900000, event_time IS NULL,
               status, code);
