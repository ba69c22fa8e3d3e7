-- A change counter on checks, for `export --cursor`: every new check and every change of an
-- exported column takes the next number, so "changed since the last export" is a comparison of
-- numbers, never of clocks. Kept by triggers, so no writer has to remember it. Existing checks
-- start at 0: a cursor only exists after a first, full export.

ALTER TABLE checks ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;

CREATE INDEX checks_by_change ON checks (change_seq);

CREATE TRIGGER checks_change_on_insert AFTER INSERT ON checks
BEGIN
    UPDATE checks SET change_seq = (SELECT max(change_seq) FROM checks) + 1 WHERE id = NEW.id;
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
    UPDATE checks SET change_seq = (SELECT max(change_seq) FROM checks) + 1 WHERE id = NEW.id;
END;
