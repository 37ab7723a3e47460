-- Idempotency-Key claims, scoped to the API key. A row is claimed (state 'started', with a lease)
-- before any work and completed with the response it must replay; failed requests delete theirs.
CREATE TABLE idempotency_keys (
    key_id       TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    state        TEXT NOT NULL,      -- started | done
    request_id   TEXT NOT NULL,
    response     BYTEA,              -- the serialized GenerateImagesResponse, once done
    created_at   BIGINT NOT NULL,
    lease_until  BIGINT NOT NULL,
    PRIMARY KEY (key_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
