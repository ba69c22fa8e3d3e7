-- The rate each run kept: the setting as given (`auto`, `0` for no limit, or per second) and,
-- under `auto`, the vendor limit the search found and the rate it settled on (per second), so
-- the next night can be given that number with `--rate`.
ALTER TABLE runs ADD COLUMN rate TEXT;
ALTER TABLE runs ADD COLUMN limit_found REAL;
ALTER TABLE runs ADD COLUMN settled_rate REAL;
