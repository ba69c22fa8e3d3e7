-- liveaudit schema, version 2.
-- Reports group checks by 15-minute bucket, status and code; this index holds exactly that
-- expression, so a report walks it in order instead of sorting a million rows.
CREATE INDEX checks_by_bucket
    ON checks (coalesce(event_time, fetched_at) / 900000, event_time IS NULL, status, code);

-- When `liveaudit purge` removed a check's biometric-derived data (score, face digest).
ALTER TABLE checks ADD COLUMN purged_at INTEGER;
