-- Ledger rows get their own id: request ids can come from callers (x-request-id) and may repeat,
-- and a repeated id must never cost a ledger row.
CREATE TABLE usage_ledger_v3 (
    id              TEXT PRIMARY KEY,
    request_id      TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    mode            TEXT NOT NULL,
    model           TEXT NOT NULL,
    provider        TEXT NOT NULL,
    upstream_model  TEXT NOT NULL,
    n_requested     BIGINT NOT NULL,
    n_delivered     BIGINT NOT NULL,
    size            TEXT NOT NULL,
    quality         TEXT NOT NULL,
    cost_micros     BIGINT NOT NULL,
    billed_micros   BIGINT NOT NULL,
    latency_ms      BIGINT NOT NULL,
    status          TEXT NOT NULL,
    error_type      TEXT NOT NULL,
    end_user        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    day             TEXT NOT NULL
);
INSERT INTO usage_ledger_v3
    SELECT request_id, request_id, key_id, mode, model, provider, upstream_model, n_requested, n_delivered, size,
           quality, cost_micros, billed_micros, latency_ms, status, error_type, end_user, created_at, day
    FROM usage_ledger;
DROP TABLE usage_ledger;
ALTER TABLE usage_ledger_v3 RENAME TO usage_ledger;
CREATE INDEX usage_ledger_key_day ON usage_ledger (key_id, day);
CREATE INDEX usage_ledger_day ON usage_ledger (day);
CREATE INDEX usage_ledger_request ON usage_ledger (request_id);

-- Each in-flight spend reservation, with a lease: if a replica dies holding one, the next
-- reservation for that key moves it to spent (the upstream may have charged) instead of leaving
-- the money reserved forever.
CREATE TABLE spend_holds (
    id          TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    month       TEXT NOT NULL,
    micros      BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX spend_holds_key_month ON spend_holds (key_id, month, expires_at);
