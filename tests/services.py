"""PostgreSQL and Redis for tests: each test gets a fresh database or key prefix, removed afterwards.

Addresses come from PERF_TEST_DATABASE_URL / PERF_TEST_REDIS_URL (CI sets both); without them, or
when the service does not answer, the tests that need it skip and say why.
"""
from __future__ import annotations

import asyncio
import os
import secrets
from urllib.parse import urlsplit, urlunsplit


def database_skip_reason() -> str | None:
    url = os.environ.get("PERF_TEST_DATABASE_URL")
    if not url:
        return "PERF_TEST_DATABASE_URL is not set (CI sets it to the machine's PostgreSQL)"
    try:
        asyncio.run(_ping_postgres(url))
    except Exception as error:  # any failure to connect means "absent" for a skip
        return f"PostgreSQL at PERF_TEST_DATABASE_URL does not answer: {error}"
    return None


def redis_skip_reason() -> str | None:
    url = os.environ.get("PERF_TEST_REDIS_URL")
    if not url:
        return "PERF_TEST_REDIS_URL is not set (CI sets it to the machine's Redis)"
    try:
        asyncio.run(_ping_redis(url))
    except Exception as error:
        return f"Redis at PERF_TEST_REDIS_URL does not answer: {error}"
    return None


async def _ping_postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=3)
    await conn.close()


async def _ping_redis(url: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(url, socket_timeout=3)
    try:
        await client.ping()
    finally:
        await client.aclose()


def create_database() -> tuple[str, str]:
    """A new empty database; returns (its URL, its name)."""
    base = os.environ["PERF_TEST_DATABASE_URL"]
    name = "perf_test_" + secrets.token_hex(6)

    async def create() -> None:
        import asyncpg

        conn = await asyncpg.connect(base)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/" + name)), name


def drop_database(name: str) -> None:
    async def drop() -> None:
        import asyncpg

        conn = await asyncpg.connect(os.environ["PERF_TEST_DATABASE_URL"])
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def redis_prefix() -> str:
    return f"perf:test:{secrets.token_hex(6)}:"


def delete_redis_prefix(prefix: str) -> None:
    async def delete() -> None:
        import redis.asyncio as redis

        client = redis.from_url(os.environ["PERF_TEST_REDIS_URL"])
        try:
            keys = [key async for key in client.scan_iter(match=prefix + "*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()

    asyncio.run(delete())
