"""The SQL behind the admin API, for both stores (`?` placeholders; PostgreSQL's store renumbers them).

Filters are fixed fragments chosen by which fields are set; values only ever travel as parameters.
"""
from __future__ import annotations

from server.database.admin_records import GenerationQuery

UPDATE_KEY = ("UPDATE api_keys SET name = ?, minute_limit = ?, day_limit = ?, monthly_cap_micros = ? "
              "WHERE id = ? AND revoked_at IS NULL")

_GENERATION_COLUMNS = ("l.id, l.request_id, l.key_id, COALESCE(k.name, ''), l.mode, l.model, l.provider, "
                       "l.upstream_model, l.n_requested, l.n_delivered, l.size, l.quality, l.cost_micros, "
                       "l.billed_micros, l.upstream_cost_micros, l.latency_ms, l.status, l.error_type, l.end_user, "
                       "l.created_at, l.prompt, l.images, l.kind")


def generations(query: GenerationQuery) -> tuple[str, tuple[object, ...]]:
    """Ledger rows newest first (created_at, then id, both descending: a stable order for cursors)."""
    where: list[str] = ["l.day >= ?", "l.day <= ?"]
    args: list[object] = [query.start_day, query.end_day]
    for column, value in (("l.key_id", query.key_id), ("l.model", query.model), ("l.status", query.status)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if query.before is not None:
        created, row_id = query.before
        where.append("(l.created_at < ? OR (l.created_at = ? AND l.id < ?))")
        args += [created, created, row_id]
    sql = (f"SELECT {_GENERATION_COLUMNS} FROM usage_ledger l LEFT JOIN api_keys k ON k.id = l.key_id "
           f"WHERE {' AND '.join(where)} ORDER BY l.created_at DESC, l.id DESC LIMIT ?")
    return sql, (*args, query.limit)


def error_counts(start_day: str, end_day: str, key_id: str, mode: str) -> tuple[str, tuple[object, ...]]:
    where: list[str] = ["day >= ?", "day <= ?", "status = 'error'"]
    args: list[object] = [start_day, end_day]
    for column, value in (("key_id", key_id), ("mode", mode)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    return (f"SELECT error_type, CAST(count(*) AS BIGINT) FROM usage_ledger WHERE {' AND '.join(where)} "
            "GROUP BY error_type ORDER BY 2 DESC, 1"), tuple(args)


# Only live keys count: a test key's request never reaches its provider. The day predicate uses the index.
PROVIDER_ACTIVITY = ("SELECT provider, error_type, CAST(count(*) AS BIGINT) FROM usage_ledger "
                     "WHERE day >= ? AND created_at >= ? AND mode = 'live' AND provider <> '' "
                     "GROUP BY provider, error_type")

AUDIT_COLUMNS = "id, at, actor, action, target, address, detail, request_id"
INSERT_AUDIT = f"INSERT INTO admin_audit ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def audit_events(limit: int, before: tuple[int, str] | None) -> tuple[str, tuple[object, ...]]:
    if before is None:
        return f"SELECT {AUDIT_COLUMNS} FROM admin_audit ORDER BY at DESC, id DESC LIMIT ?", (limit,)
    at, event_id = before
    return (f"SELECT {AUDIT_COLUMNS} FROM admin_audit WHERE at < ? OR (at = ? AND id < ?) "
            "ORDER BY at DESC, id DESC LIMIT ?"), (at, at, event_id, limit)
