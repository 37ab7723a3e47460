CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,          -- key_…, safe to log and show
    digest      TEXT NOT NULL UNIQUE,      -- HMAC-SHA256 of the key (the key itself is never stored)
    mode        TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    tier        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    hint        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
