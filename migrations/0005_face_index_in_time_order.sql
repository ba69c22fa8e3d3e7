-- Repeated faces: a digest's checks in time order straight from the index, so a face replayed
-- thousands of times is counted within a report's window and its first uses listed without
-- reading those checks' rows.
DROP INDEX checks_by_image;
CREATE INDEX checks_by_image
    ON checks (image_sha256, coalesce(event_time, fetched_at), liveness_id)
    WHERE image_sha256 IS NOT NULL;
