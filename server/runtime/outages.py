"""Turns a shared backend (database, Redis, the image store) failing into 503 provider_unavailable, not a 500.

A 500 says "our bug"; a database, Redis or bucket that does not answer is an outage the caller can retry.
(The image stores raise server.storage.base.StorageUnavailable, an OSError, for refusals they detect.)
So is a Redis that answers but refuses service: protected mode (`DENIED`, what a default-configured
Redis tells every client not on its loopback), out of memory, a read-only replica, failed snapshots
(`MISCONF`), missing ACL permissions, a cluster that is down. Other Redis errors (a script's) stay 500s.
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

        kinds += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                  redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError,
                  redis.exceptions.NoPermissionError, redis.exceptions.ClusterDownError,
                  redis.exceptions.TryAgainError]
    with contextlib.suppress(ImportError):
        import botocore.exceptions

        # Connect failures and timeouts, and HTTP-level failures (connection closed, body cut short).
        kinds += [botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError]
    return tuple(kinds)


OUTAGES = _outage_types()
# Redis error codes that redis-py raises as a plain ResponseError, the code kept as the message's first word.
REDIS_REFUSALS = frozenset({"DENIED", "MISCONF"})


def _is_redis_refusal(error: BaseException) -> bool:
    try:
        from redis.exceptions import ResponseError
    except ImportError:
        return False
    # Exactly ResponseError: its subclasses are the codes redis-py maps (the refusals among them are in OUTAGES).
    return type(error) is ResponseError and str(error).split(" ", 1)[0] in REDIS_REFUSALS


def is_outage(error: BaseException) -> bool:
    """The backend is down or refuses service (retry later), as opposed to a bug of ours."""
    return isinstance(error, OUTAGES) or _is_redis_refusal(error)


@contextlib.contextmanager
def backend(name: str) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        if not is_outage(error):
            raise
        raise ProviderUnavailable(f"The {name} is unavailable; retry shortly.", retry_after=5) from error
