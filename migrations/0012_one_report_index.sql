-- One report index, not two. `checks_by_account_bucket` (migration 0010) holds the partner
-- code and then exactly the grouping of `checks_by_bucket` (migration 0002), so the 15-minute
-- aggregate of every report walks it in order: grouped by account first, then added up across
-- accounts. Every stored answer changes its row in each index that holds its status and code:
-- keeping both cost a fifth of the fetch's throughput at the vendor-free ceiling.
DROP INDEX IF EXISTS checks_by_bucket;
