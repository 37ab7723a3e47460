"""Shared fixtures: one running stack for the whole session, and a factory for specially configured ones."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import services
from tests.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("stack")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def test_key(stack: Stack) -> str:
    """A test-mode key whose rate limits the functional tests never reach."""
    return stack.create_key("test")


@pytest.fixture()
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    started: list[Stack] = []

    def make(ready_path: str = "/readyz", **env: str) -> Stack:
        running = Stack(tmp_path / f"stack{len(started)}", env_overrides=env, ready_path=ready_path)
        running.data_dir.mkdir()
        started.append(running)
        return running.start()

    yield make
    for running in started:
        running.stop()


@pytest.fixture(params=["sqlite+memory", "postgres+redis"])
def backends(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Server settings for each store/limiter pairing; the shared pair gets a fresh database and prefix."""
    if request.param == "sqlite+memory":
        yield {}
        return
    reason = services.database_skip_reason() or services.redis_skip_reason()
    if reason:
        pytest.skip(reason)
    url, name = services.create_database()
    prefix = services.redis_prefix()
    try:
        yield {"PERF_DATABASE_URL": url, "PERF_REDIS_URL": os.environ["PERF_TEST_REDIS_URL"],
               "PERF_REDIS_PREFIX": prefix}
    finally:
        services.delete_redis_prefix(prefix)
        services.drop_database(name)
