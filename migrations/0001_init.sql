-- liveaudit schema, version 1.
-- Times are Unix milliseconds (UTC). Charged/category are not stored: they come from the code
-- table at report time, so a corrected table re-prices history without touching the vendor.

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    files         TEXT    NOT NULL,            -- JSON array of input paths
    outcome       TEXT    NOT NULL DEFAULT 'running',
    stop_reason   TEXT,
    rows_read     INTEGER NOT NULL DEFAULT 0,
    ids_read      INTEGER NOT NULL DEFAULT 0,
    blank_ids     INTEGER NOT NULL DEFAULT 0,
    duplicate_ids INTEGER NOT NULL DEFAULT 0,
    to_fetch      INTEGER NOT NULL DEFAULT 0,
    resolved      INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    requests      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE checks (
    id           INTEGER PRIMARY KEY,
    liveness_id  TEXT    NOT NULL UNIQUE,
    status       TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    code         INTEGER,
    message      TEXT,
    score        REAL,
    sequence_id  TEXT,
    image_sha256 TEXT,
    image_bytes  INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    event_time   INTEGER,                      -- from the input's time column
    fetched_at   INTEGER,
    attrs        TEXT,                         -- JSON object: the input's other columns
    source       TEXT,                         -- file:line where the id was first read
    first_run    INTEGER REFERENCES runs (id),
    last_run     INTEGER REFERENCES runs (id),
    last_error   TEXT
);

CREATE INDEX checks_by_last_run ON checks (last_run, status);
CREATE INDEX checks_by_sequence_id ON checks (sequence_id) WHERE sequence_id IS NOT NULL;
CREATE INDEX checks_by_image ON checks (image_sha256) WHERE image_sha256 IS NOT NULL;

-- Every request sent to the vendor: the evidence of how many calls were made.
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    liveness_id TEXT    NOT NULL,
    sent_at     INTEGER NOT NULL,
    latency_ms  INTEGER NOT NULL,
    http_status INTEGER,
    code        INTEGER,
    sequence_id TEXT,
    outcome     TEXT    NOT NULL,              -- final | retry:<kind> | give_up:<kind> | stop
    detail      TEXT
);

CREATE INDEX attempts_by_run ON attempts (run_id);
