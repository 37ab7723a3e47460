"""Turns a shared backend (database, Redis, the image store) failing into 503 provider_unavailable, not a 500.

A 500 says "our bug"; a database, Redis or bucket that does not answer is an outage the caller can retry.
(The image stores raise server.storage.base.StorageUnavailable, an OSError, for refusals they detect.)
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
    with contextlib.suppress(ImportError):
        import botocore.exceptions

        # Connect failures and timeouts, and HTTP-level failures (connection closed, body cut short).
        kinds += [botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError]
    return tuple(kinds)


OUTAGES = _outage_types()


@contextlib.contextmanager
def backend(name: str) -> Iterator[None]:
    try:
        yield
    except OUTAGES as error:
        raise ProviderUnavailable(f"The {name} is unavailable; retry shortly.", retry_after=5) from error
