-- Checks whose input time could not be read, registered under `fetch --bad-times fetch-time`:
-- the user asked to date them by their fetch time. Marked per check (time_basis = 'fetch'),
-- counted per run (runs.bad_times), and dated when their result is stored: the trigger copies
-- fetched_at into the missing event_time, so every report dates them by the fetch without a
-- special case. A check whose time was read keeps time_basis NULL.
ALTER TABLE checks ADD COLUMN time_basis TEXT CHECK (time_basis IN ('fetch'));
ALTER TABLE runs ADD COLUMN bad_times INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER checks_dated_by_fetch AFTER UPDATE OF fetched_at ON checks
WHEN NEW.time_basis = 'fetch' AND NEW.event_time IS NULL AND NEW.fetched_at IS NOT NULL
BEGIN
    UPDATE checks SET event_time = NEW.fetched_at WHERE id = NEW.id;
END;
