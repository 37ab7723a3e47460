"""compose.yaml's one-shot `seaweedfs-init`, run as written against a real SeaweedFS: it succeeds every time.

Every `docker compose up` runs it again, and the servers wait for it to succeed; found by hand: the
second `up` failed, because weed shell reports an existing bucket on stderr (and exits 1), which
the command's grep never saw. Only the weed binary and the master's address differ from compose.
"""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import seaweed as sw
from tests.deploy.test_compose import SERVICES

IN_COMPOSE = "weed shell -master=seaweedfs:9333"


@pytest.fixture()
def seaweed(tmp_path: Path) -> Iterator[sw.Seaweed]:
    reason = sw.skip_reason()
    if reason:
        pytest.skip(reason)
    server = sw.Seaweed(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp_path / "data", ignore_errors=True)


def init_command(seaweed: sw.Seaweed) -> str:
    spec = SERVICES["seaweedfs-init"]
    assert spec["entrypoint"] == ["/bin/sh", "-c"] and spec["restart"] == "no"
    [command] = spec["command"]
    assert IN_COMPOSE in command, command
    # weed's "host:port.grpcPort" form: the test server's gRPC port is not the default port + 10000.
    master = f"127.0.0.1:{seaweed.ports['master']}.{seaweed.ports['master.port.grpc']}"
    binary = sw.weed_binary()
    assert binary is not None
    return command.replace("$$", "$").replace(IN_COMPOSE, f"{binary} shell -master={master}")


def test_bucket_init_succeeds_on_first_and_every_later_up(seaweed: sw.Seaweed) -> None:
    command = init_command(seaweed)
    for attempt in ("first up", "second up"):
        done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (attempt, done.stdout, done.stderr)
    bucket = command.split("-name ", 1)[1].split("'", 1)[0]
    assert bucket == "perf-images"
    assert seaweed.probe().keys(bucket) == []  # it exists (listing a missing bucket fails)
