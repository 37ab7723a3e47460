"""Fixtures shared by the server's unit tests."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from server.database import Store
from server.database.sqlite import SqliteStore
from tests import services


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Awaitable[Store]]]:
    """Opens an empty store: SQLite in tmp_path, or PostgreSQL in a fresh database dropped afterwards."""
    if request.param == "sqlite":
        async def sqlite() -> Store:
            return SqliteStore(tmp_path / "db.sqlite3")
        yield sqlite
        return
    reason = services.database_skip_reason()
    if reason:
        pytest.skip(reason)
    url, name = services.create_database()

    async def postgres() -> Store:
        from server.database.postgres import PostgresStore

        return await PostgresStore.connect(url)

    try:
        yield postgres
    finally:
        services.drop_database(name)
