"""The SQL of async jobs and webhook secrets, `?` placeholders (PostgreSQL's store renumbers them).

Claims are one statement each: the row is picked and marked in the same UPDATE, so two replicas can
never both take one (PostgreSQL skips rows another claim has locked; SQLite has one writer)."""
from __future__ import annotations

JOB_COLUMNS = ("id, key_id, kind, model, pool, status, request, request_id, reservation_id, spend_hold, created_at, "
               "completed_at, worker, lease_until, attempts, phase, upstream_handle, result, error, webhook_url, "
               "webhook_id, webhook_status, webhook_attempts, webhook_last_status, webhook_next_at")
INSERT_JOB = f"INSERT INTO image_jobs ({JOB_COLUMNS}) VALUES ({', '.join('?' * 25)})"
GET_JOB = f"SELECT {JOB_COLUMNS} FROM image_jobs WHERE id = ?"
LIST_JOBS = f"SELECT {JOB_COLUMNS} FROM image_jobs WHERE key_id = ? AND id < ? ORDER BY id DESC LIMIT ?"

# A queued job, or a running one whose worker stopped renewing its lease; oldest first.
_CLAIMABLE = ("SELECT id FROM image_jobs WHERE pool = ? AND (status = 'queued' OR (status = 'running' AND "
              "lease_until < ?)) ORDER BY id LIMIT 1")
_CLAIM = ("UPDATE image_jobs SET status = 'running', worker = ?, lease_until = ?, attempts = attempts + 1 "
          "WHERE id = ({pick}) RETURNING " + JOB_COLUMNS)
CLAIM_JOB_SQLITE = _CLAIM.format(pick=_CLAIMABLE)
CLAIM_JOB_POSTGRES = _CLAIM.format(pick=_CLAIMABLE + " FOR UPDATE SKIP LOCKED")

_MINE = "WHERE id = ? AND worker = ? AND status = 'running'"
RENEW_JOB = f"UPDATE image_jobs SET lease_until = ? {_MINE}"
SET_JOB_PHASE = f"UPDATE image_jobs SET phase = ? {_MINE}"
SAVE_JOB_HANDLE = f"UPDATE image_jobs SET upstream_handle = ? {_MINE}"
# Finishing also arms the webhook. A success lands even over a cancel that came too late to stop the
# upstream: those images were delivered and billed, so the caller sees them.
_FINISH = ("UPDATE image_jobs SET status = ?, result = ?, error = ?, completed_at = ?, lease_until = 0, "
           "webhook_status = CASE WHEN webhook_url <> '' THEN 'pending' ELSE '' END, webhook_next_at = ? "
           "WHERE id = ? AND worker = ? AND status IN ({states})")
SUCCEED_JOB = _FINISH.format(states="'running', 'cancelled'")
FAIL_JOB = _FINISH.format(states="'running'")
CANCEL_JOB = ("UPDATE image_jobs SET status = 'cancelled', error = ?, completed_at = ?, "
              "webhook_status = CASE WHEN webhook_url <> '' THEN 'pending' ELSE '' END, webhook_next_at = ? "
              "WHERE id = ? AND key_id = ? AND status = ?")

_DUE_WEBHOOK = ("SELECT id FROM image_jobs WHERE webhook_status = 'pending' AND webhook_next_at <= ? "
                "ORDER BY webhook_next_at LIMIT 1")
_CLAIM_WEBHOOK = "UPDATE image_jobs SET webhook_next_at = ? WHERE id = ({pick}) RETURNING " + JOB_COLUMNS
CLAIM_WEBHOOK_SQLITE = _CLAIM_WEBHOOK.format(pick=_DUE_WEBHOOK)
CLAIM_WEBHOOK_POSTGRES = _CLAIM_WEBHOOK.format(pick=_DUE_WEBHOOK + " FOR UPDATE SKIP LOCKED")
WEBHOOK_ATTEMPTED = ("UPDATE image_jobs SET webhook_status = ?, webhook_attempts = webhook_attempts + 1, "
                     "webhook_last_status = ?, webhook_next_at = ? WHERE id = ?")

GET_WEBHOOK_SECRET = "SELECT secret FROM webhook_secrets WHERE key_id = ?"
SET_WEBHOOK_SECRET = ("INSERT INTO webhook_secrets (key_id, secret, created_at) VALUES (?, ?, ?) "
                      "ON CONFLICT (key_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at")
