-- liveaudit schema, version 10.
-- Reports narrowed to one account (`--account`, `--by-account`, and billing under price lists
-- over several accounts, which prices each account on its own) group that account's checks by
-- 15-minute bucket, status and code: this index holds the partner code and then exactly the
-- grouping of `checks_by_bucket`, so such a report walks the account's range in order instead
-- of reading every row of the table. Its first column serves every lookup by partner code, so it
-- replaces `checks_by_partner_code`.
DROP INDEX IF EXISTS checks_by_partner_code;
CREATE INDEX checks_by_account_bucket
    ON checks (partner_code, coalesce(event_time, fetched_at) / 900000, event_time IS NULL,
               status, code);
