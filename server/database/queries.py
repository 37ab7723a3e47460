"""The SQL both stores run, written once with `?` placeholders (PostgreSQL's store renumbers them)."""
from __future__ import annotations

KEY_COLUMNS = ("id, mode, tier, name, hint, created_at, revoked_at, minute_limit, day_limit, monthly_cap_micros, "
               "operator")
FIND_KEY = f"SELECT {KEY_COLUMNS} FROM api_keys WHERE digest = ?"
GET_KEY = f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?"
INSERT_KEY = f"INSERT INTO api_keys ({KEY_COLUMNS}, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
REVOKE_KEY = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
ROTATE_KEY = "UPDATE api_keys SET digest = ?, hint = ? WHERE id = ? AND revoked_at IS NULL"
LIST_KEYS = f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
COUNT_KEYS = "SELECT count(*) FROM api_keys"

LEDGER_COLUMNS = ("id, request_id, key_id, mode, model, provider, upstream_model, n_requested, n_delivered, size, "
                  "quality, cost_micros, billed_micros, latency_ms, status, error_type, end_user, created_at, day, "
                  "deployment, upstream_cost_micros, kind, prompt, images")
# Idempotent by row id, so a row replayed from the spool (server/accounting/spool.py) lands once.
INSERT_LEDGER = (f"INSERT INTO usage_ledger ({LEDGER_COLUMNS}) VALUES ({', '.join('?' * 24)}) "
                 "ON CONFLICT (id) DO NOTHING")
USAGE = """
SELECT key_id, mode, day, model, CAST(count(*) AS BIGINT),
       CAST(sum(CASE WHEN status IN ('ok', 'replayed') THEN 0 ELSE 1 END) AS BIGINT), CAST(sum(n_delivered) AS BIGINT),
       CAST(sum(cost_micros) AS BIGINT), CAST(sum(billed_micros) AS BIGINT), provider,
       CAST(sum(upstream_cost_micros) AS BIGINT)
FROM usage_ledger
WHERE day >= ? AND day <= ? {key_filter}
GROUP BY key_id, mode, day, model, provider
ORDER BY key_id, day, model, provider
"""

# Spend: settled plus reserved per key and month. The cap check and the reservation are one
# conditional upsert (the month's row is created by the first reservation, and locked by every one),
# so concurrent requests cannot overspend. Each reservation is also a row in spend_holds with a
# lease; the sweeper moves one orphaned by a crash to spent (spent + reserved is unchanged by that,
# so the cap check never has to wait for it). Arguments: key_id, month, micros, micros, cap, cap.
RESERVE_SPEND = ("INSERT INTO spend_months AS s (key_id, month, spent_micros, reserved_micros) "
                 "SELECT ?, ?, 0, CAST(? AS BIGINT) WHERE CAST(? AS BIGINT) <= CAST(? AS BIGINT) "
                 "ON CONFLICT (key_id, month) DO UPDATE SET reserved_micros = s.reserved_micros + excluded.reserved_micros "
                 "WHERE s.spent_micros + s.reserved_micros + excluded.reserved_micros <= ?")
INSERT_HOLD = "INSERT INTO spend_holds (id, key_id, month, micros, expires_at) VALUES (?, ?, ?, ?, ?)"
DELETE_HOLD = "DELETE FROM spend_holds WHERE id = ?"
SETTLE_SPEND = ("UPDATE spend_months SET reserved_micros = reserved_micros - ?, spent_micros = spent_micros + ? "
                "WHERE key_id = ? AND month = ?")
EXPIRED_HOLDS = ("SELECT key_id, month, CAST(sum(micros) AS BIGINT) FROM spend_holds WHERE expires_at <= ? "
                 "GROUP BY key_id, month")
DELETE_EXPIRED_HOLDS = "DELETE FROM spend_holds WHERE expires_at <= ?"  # then SETTLE_SPEND for each (key, month)
MONTH_SPEND = "SELECT spent_micros, reserved_micros FROM spend_months WHERE key_id = ? AND month = ?"

IDEMPOTENCY_COLUMNS = "key_id, idem_key, fingerprint, state, request_id, response, created_at, lease_until"
CLAIM_IDEMPOTENCY = (f"INSERT INTO idempotency_keys ({IDEMPOTENCY_COLUMNS}) VALUES (?, ?, ?, 'started', ?, NULL, ?, ?) "
                     "ON CONFLICT (key_id, idem_key) DO NOTHING")
# A claim whose lease ran out is taken over only if nothing was ever completed under it.
TAKE_OVER_IDEMPOTENCY = ("UPDATE idempotency_keys SET fingerprint = ?, request_id = ?, created_at = ?, lease_until = ? "
                         "WHERE key_id = ? AND idem_key = ? AND state = 'started' AND lease_until <= ?")
GET_IDEMPOTENCY = f"SELECT {IDEMPOTENCY_COLUMNS} FROM idempotency_keys WHERE key_id = ? AND idem_key = ?"
COMPLETE_IDEMPOTENCY = ("UPDATE idempotency_keys SET state = 'done', response = ? "
                        "WHERE key_id = ? AND idem_key = ? AND request_id = ?")
RELEASE_IDEMPOTENCY = "DELETE FROM idempotency_keys WHERE key_id = ? AND idem_key = ? AND request_id = ? AND state = 'started'"
PURGE_IDEMPOTENCY = "DELETE FROM idempotency_keys WHERE created_at < ?"

# What the in-process limiter had admitted, to rebuild it after a restart (server/accounting/restore.py).
# A settled reservation keeps its n counted and always delivered something (n_delivered > 0, whatever
# the status: a cancellation during settlement still leaves it settled); a released one delivered
# nothing and a replay reserved nothing. created_at is taken when the row is written, after the
# reservation, so each group's end is an upper bound on its reservation times: the row's second + 1
# for rows since the second parameter (the minute window's precision), its minute's end before that
# (fewer groups for the day). The day predicate lets both stores use the (day) index.
ADMITTED_IMAGES = """
SELECT key_id, CASE WHEN created_at >= ? THEN created_at + 1 ELSE created_at - created_at % 60 + 60 END AS until_s,
       CAST(sum(n_requested) AS BIGINT)
FROM usage_ledger
WHERE day >= ? AND created_at >= ? AND n_delivered > 0 AND status <> 'replayed'
GROUP BY key_id, until_s
"""
