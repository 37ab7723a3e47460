"""The embedded store: one SQLite file in WAL mode, schema from versioned migrations.

Queries are single indexed lookups that take microseconds, so they run inline on the event loop
rather than paying a thread hop each.
"""
from __future__ import annotations

import sqlite3
import time
from importlib import resources
from pathlib import Path

from server.store.records import ApiKey

_KEY_COLUMNS = "id, mode, tier, name, hint, created_at, revoked_at"


def migrations() -> list[tuple[int, str]]:
    """(version, sql) in order, from the files NNNN_name.sql beside this module."""
    folder = resources.files("server.store") / "migrations"
    found = [(int(f.name.split("_", 1)[0]), f.read_text()) for f in folder.iterdir() if f.name.endswith(".sql")]
    return sorted(found)


def _statements(sql: str) -> list[str]:
    """Split a migration into statements; sqlite3.complete_statement knows about comments and quotes."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer)
            buffer = ""
    if buffer.strip():
        statements.append(buffer)
    return statements


class SqliteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._migrate()

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT)")
        done = {row[0] for row in self._db.execute("SELECT version FROM schema_migrations")}
        for version, sql in migrations():
            if version in done:
                continue
            # BEGIN IMMEDIATE: two processes starting together must not both apply a migration.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                    self._db.execute("ROLLBACK")
                    continue
                for statement in _statements(sql):
                    self._db.execute(statement)
                self._db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, int(time.time())))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    async def find_key(self, digest: str) -> ApiKey | None:
        row = self._db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE digest = ?", (digest,)).fetchone()
        return ApiKey(*row) if row else None

    async def insert_key(self, key: ApiKey, digest: str) -> None:
        self._db.execute(f"INSERT INTO api_keys ({_KEY_COLUMNS}, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (key.id, key.mode, key.tier, key.name, key.hint, key.created_at, key.revoked_at, digest))

    async def revoke_key(self, key_id: str, now: int) -> bool:
        cursor = self._db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                  (now, key_id))
        return cursor.rowcount == 1

    async def list_keys(self) -> list[ApiKey]:
        return [ApiKey(*row) for row in self._db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id")]

    async def count_keys(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM api_keys").fetchone()[0])

    async def close(self) -> None:
        self._db.close()
