-- Event times a later input gave a stored check. Without `fetch --fix-times` the stored time is
-- kept and the run counts how many differed (runs.time_differs); with it the check takes the
-- input's time and the change is recorded here, one row per check and change (the old time,
-- the new, the run and when). The change of checks.event_time is a change `export --cursor`
-- sees (trigger of migration 0006). The code and charge are never touched.
ALTER TABLE runs ADD COLUMN time_differs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN times_fixed INTEGER NOT NULL DEFAULT 0;

CREATE TABLE time_changes (
    id         INTEGER PRIMARY KEY,
    check_id   INTEGER NOT NULL REFERENCES checks (id),
    run        INTEGER NOT NULL REFERENCES runs (id),
    old_time   INTEGER,
    new_time   INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX time_changes_by_check ON time_changes (check_id);
