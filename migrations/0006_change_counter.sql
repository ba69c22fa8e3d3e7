-- A change log of checks, for `export --cursor`: every new check and every change of an
-- exported column appends the check's id under the next number (`seq`), so "changed since the
-- last export" is a comparison of numbers, never of clocks. Kept by triggers, so no writer has
-- to remember it. An append-only log rather than a counter column on checks: a change costs one
-- append, not a second write of the check's row and of an index. Rows are never deleted, so
-- `seq` only grows. Checks from before this migration have no entry: a cursor only
-- exists after a first, full export.

CREATE TABLE check_changes (
    seq      INTEGER PRIMARY KEY,
    check_id INTEGER NOT NULL
);

CREATE TRIGGER checks_change_on_insert AFTER INSERT ON checks
BEGIN
    INSERT INTO check_changes (check_id) VALUES (NEW.id);
END;

-- Fires only when a value really changed: a rerun that re-reads an id (setting last_run, and
-- event_time/attrs to what they already were) is not a change.
CREATE TRIGGER checks_change_on_update
AFTER UPDATE OF liveness_id, status, code, message, score, sequence_id, image_sha256, image_bytes,
                attempts, event_time, fetched_at, attrs, source, last_error ON checks
WHEN OLD.liveness_id IS NOT NEW.liveness_id OR OLD.status IS NOT NEW.status
  OR OLD.code IS NOT NEW.code OR OLD.message IS NOT NEW.message OR OLD.score IS NOT NEW.score
  OR OLD.sequence_id IS NOT NEW.sequence_id OR OLD.image_sha256 IS NOT NEW.image_sha256
  OR OLD.image_bytes IS NOT NEW.image_bytes OR OLD.attempts IS NOT NEW.attempts
  OR OLD.event_time IS NOT NEW.event_time OR OLD.fetched_at IS NOT NEW.fetched_at
  OR OLD.attrs IS NOT NEW.attrs OR OLD.source IS NOT NEW.source
  OR OLD.last_error IS NOT NEW.last_error
BEGIN
    INSERT INTO check_changes (check_id) VALUES (NEW.id);
END;
