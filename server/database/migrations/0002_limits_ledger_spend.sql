-- Per-key limits (NULL: the tier's numbers) and an optional monthly spend cap.
ALTER TABLE api_keys ADD COLUMN minute_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN day_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN monthly_cap_micros BIGINT;

-- One row per generation request, written before the response leaves. Money in micro-dollars.
CREATE TABLE usage_ledger (
    request_id      TEXT PRIMARY KEY,
    key_id          TEXT NOT NULL,
    mode            TEXT NOT NULL,
    model           TEXT NOT NULL,
    provider        TEXT NOT NULL,
    upstream_model  TEXT NOT NULL,
    n_requested     BIGINT NOT NULL,
    n_delivered     BIGINT NOT NULL,
    size            TEXT NOT NULL,
    quality         TEXT NOT NULL,
    cost_micros     BIGINT NOT NULL,    -- list price of the delivered images
    billed_micros   BIGINT NOT NULL,    -- what the key is charged: cost for live keys, 0 for test keys
    latency_ms      BIGINT NOT NULL,
    status          TEXT NOT NULL,      -- ok | error
    error_type      TEXT NOT NULL,
    end_user        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    day             TEXT NOT NULL       -- UTC date, so both stores group by day the same way
);
CREATE INDEX usage_ledger_key_day ON usage_ledger (key_id, day);
CREATE INDEX usage_ledger_day ON usage_ledger (day);

-- Monthly spend per key: settled plus reserved by requests in flight, checked in one UPDATE.
CREATE TABLE spend_months (
    key_id          TEXT NOT NULL,
    month           TEXT NOT NULL,
    spent_micros    BIGINT NOT NULL,
    reserved_micros BIGINT NOT NULL,
    PRIMARY KEY (key_id, month)
);
