-- Async image jobs (server/jobs/) and their signed webhooks. A job is admitted (limits and money
-- reserved: reservation_id, spend_hold) and queued; a worker claims it with a lease it renews; when the
-- worker dies another one takes it over after lease_until and resumes it from upstream_handle (the
-- polling handles of a submit-then-poll upstream), never submitting it upstream again.
CREATE TABLE image_jobs (
    id               TEXT PRIMARY KEY,   -- job_…, time-ordered
    key_id           TEXT NOT NULL,
    kind             TEXT NOT NULL,      -- generation | edit
    model            TEXT NOT NULL,
    pool             TEXT NOT NULL,      -- the worker pool (provider) that runs it
    status           TEXT NOT NULL,      -- queued | running | succeeded | failed | cancelled
    request          BYTEA NOT NULL,     -- the serialized SubmitJobRequest
    request_id       TEXT NOT NULL,
    reservation_id   TEXT NOT NULL,
    spend_hold       TEXT NOT NULL,      -- JSON of the money reservation, '' when the key has no cap
    created_at       BIGINT NOT NULL,
    completed_at     BIGINT NOT NULL,
    worker           TEXT NOT NULL,
    lease_until      DOUBLE PRECISION NOT NULL,
    attempts         INTEGER NOT NULL,
    phase            TEXT NOT NULL,      -- '' | upstream: a worker has called (or is calling) the upstream
    upstream_handle  TEXT NOT NULL,      -- JSON: the deployment and each accepted task's polling handle
    result           BYTEA,              -- the serialized GenerateImagesResponse, once succeeded
    error            TEXT NOT NULL,      -- JSON error object, once failed or cancelled
    webhook_url      TEXT NOT NULL,
    webhook_id       TEXT NOT NULL,      -- the same webhook-id on every attempt
    webhook_status   TEXT NOT NULL,      -- '' (none) | waiting (job not done) | pending | delivered | failed
    webhook_attempts INTEGER NOT NULL,
    webhook_last_status INTEGER NOT NULL,
    webhook_next_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX image_jobs_key ON image_jobs (key_id, id);
CREATE INDEX image_jobs_claim ON image_jobs (pool, status, lease_until);
CREATE INDEX image_jobs_webhook ON image_jobs (webhook_status, webhook_next_at);

-- Each API key's webhook signing secret (whsec_…), made and rotated by `python -m server.keys`.
CREATE TABLE webhook_secrets (
    key_id      TEXT PRIMARY KEY,
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
