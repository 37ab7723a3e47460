"""Versioned schema migrations, NNNN_name.sql, applied in order by both stores."""
from __future__ import annotations

import sqlite3
from importlib import resources


def migrations() -> list[tuple[int, str]]:
    """(version, sql) in order, from the .sql files beside this module."""
    folder = resources.files(__name__)
    found = [(int(f.name.split("_", 1)[0]), f.read_text()) for f in folder.iterdir() if f.name.endswith(".sql")]
    return sorted(found)


def sql_statements(sql: str) -> list[str]:
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
