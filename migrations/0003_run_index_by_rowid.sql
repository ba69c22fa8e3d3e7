-- liveaudit schema, version 3.
-- The fetcher pages through a run's ids by rowid (`last_run = ? AND id > ? ORDER BY id`). An
-- index on (last_run, status) made SQLite sort every remaining id for each page of 1,000: with
-- a million ids, quadratic time and tens of MB of sort memory. An index on last_run alone keeps
-- rowid order within a run, so each page is a range scan.
DROP INDEX checks_by_last_run;
CREATE INDEX checks_by_run ON checks (last_run);
