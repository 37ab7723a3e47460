"""Turns a shared backend (database, Redis) failing into 503 provider_unavailable, not a 500.

A 500 says "our bug"; a database or Redis that does not answer is an outage the caller can retry.
"""
from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from server.errors import ProviderUnavailable


def _outage_types() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [OSError, TimeoutError, sqlite3.OperationalError]
    with contextlib.suppress(ImportError):
        import asyncpg

        kinds += [asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError]
    with contextlib.suppress(ImportError):
        import redis.exceptions

        kinds += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    return tuple(kinds)


OUTAGES = _outage_types()


@contextlib.contextmanager
def backend(name: str) -> Iterator[None]:
    try:
        yield
    except OUTAGES as error:
        raise ProviderUnavailable(f"The {name} is unavailable; retry shortly.", retry_after=5) from error
