-- Face digests that more than one check carries (a replayed or injected photo), kept by the
-- writer as results arrive, so the attack report lists repeated faces without reading every
-- digest in the database. Purge removes the digests it clears from here too.
CREATE TABLE repeated_faces (
    image_sha256 TEXT PRIMARY KEY
) WITHOUT ROWID;

INSERT INTO repeated_faces
    SELECT image_sha256 FROM checks
    WHERE image_sha256 IS NOT NULL
    GROUP BY image_sha256
    HAVING count(*) > 1;
