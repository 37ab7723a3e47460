"""SeaweedFS for the storage tests: one server for the session, a fresh bucket per test (removed after),
and a private server for tests that crash it."""
from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests import seaweed as sw


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sw.Seaweed]:
    reason = sw.skip_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("seaweed")
    server = sw.Seaweed(root).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root / "data", ignore_errors=True)


@pytest.fixture()
def own_seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sw.Seaweed]:
    """A server of this test's own, which it may kill and restart."""
    reason = sw.skip_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("own-seaweed")
    server = sw.Seaweed(root).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root / "data", ignore_errors=True)


def _bucket(server: sw.Seaweed) -> Iterator[str]:
    name = sw.new_bucket_name()
    probe = server.probe()
    probe.create_bucket(name)
    try:
        yield name
    finally:
        if server.process is not None:
            probe.delete_bucket(name)


@pytest.fixture()
def bucket(seaweed: sw.Seaweed) -> Iterator[str]:
    yield from _bucket(seaweed)


@pytest.fixture()
def own_bucket(own_seaweed: sw.Seaweed) -> Iterator[str]:
    yield from _bucket(own_seaweed)
