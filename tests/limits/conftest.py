"""Fixtures: ``backend`` runs a test once per limiter backend; Redis cases skip with a reason
when PERF_TEST_REDIS_URL is unset or Redis is unreachable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from limits_support import Backend, redis_skip_reason


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each test using this fixture runs once per backend."""
    if request.param == "redis":
        reason = redis_skip_reason()
        if reason:
            pytest.skip(reason)
    b = Backend(request.param)
    try:
        yield b
    finally:
        b.cleanup()


@pytest.fixture
def redis_backend() -> Iterator[Backend]:
    """Redis only, for checks that only make sense there."""
    reason = redis_skip_reason()
    if reason:
        pytest.skip(reason)
    b = Backend("redis")
    try:
        yield b
    finally:
        b.cleanup()


@pytest.fixture
def memory_backend() -> Backend:
    """In-process only, with a fake clock."""
    return Backend("memory")
