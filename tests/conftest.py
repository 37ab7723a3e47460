"""Shared fixtures: one running stack for the whole session, and a factory for specially configured ones."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

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
    return stack.first_key


@pytest.fixture()
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    started: list[Stack] = []

    def make(**env: str) -> Stack:
        running = Stack(tmp_path / f"stack{len(started)}", env_overrides=env)
        running.data_dir.mkdir()
        started.append(running)
        return running.start()

    yield make
    for running in started:
        running.stop()
