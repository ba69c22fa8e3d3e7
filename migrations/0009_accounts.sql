-- Accounts: which vendor account (partner code, and the host of the endpoint it was asked at)
-- each run used and each check belongs to. Never the partner key.
--
-- Runs before this version did not record their account, so nothing is known of the rows they
-- wrote: their checks get the partner code 'unknown' until a run under a named account reads
-- the same id again (which adopts it without asking the vendor), and their runs keep NULL.
ALTER TABLE runs ADD COLUMN account TEXT;            -- the config file's account name, if named
ALTER TABLE runs ADD COLUMN partner_code TEXT;
ALTER TABLE runs ADD COLUMN endpoint_host TEXT;
ALTER TABLE checks ADD COLUMN partner_code TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE checks ADD COLUMN endpoint_host TEXT;
CREATE INDEX checks_by_partner_code ON checks (partner_code);
