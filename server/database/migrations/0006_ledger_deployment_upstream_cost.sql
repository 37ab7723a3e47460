-- Which deployment delivered each request, and what its upstream charged us for it (integer
-- micro-dollars: the upstream's own figure where it reports one, else its list price), so usage
-- reports can show the margin beside what was billed.
ALTER TABLE usage_ledger ADD COLUMN deployment TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_ledger ADD COLUMN upstream_cost_micros BIGINT NOT NULL DEFAULT 0;
-- Keys of the operator's own (internal) services may see upstream costs and margins in /v1/usage.
ALTER TABLE api_keys ADD COLUMN operator BOOLEAN NOT NULL DEFAULT FALSE;
