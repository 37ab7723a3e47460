"""The image builds and runs as shipped: non-root, read-only root, each process healthy, a generation served.

Needs a Docker engine (`docker info` succeeds) and the base image (pulled, or present locally); skips
with the reason otherwise. PERF_TEST_DOCKER_BASE names another base (a mirror of python:3.11-slim),
PERF_TEST_DOCKER_NETWORK a network for the build's pip install (e.g. `host`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.deploy.known_settings import ROOT
from tests.stack import free_port, http

BASE = os.environ.get("PERF_TEST_DOCKER_BASE", "python:3.11-slim")
TAG = f"perf-image:test-{uuid.uuid4().hex[:8]}"


def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def skip_reason() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    if docker("info").returncode != 0:
        return "no Docker engine answers (docker info failed)"
    if docker("image", "inspect", BASE).returncode != 0 and docker("pull", BASE, timeout=300).returncode != 0:
        return f"the base image {BASE} is neither present nor pullable"
    return None


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    network = os.environ.get("PERF_TEST_DOCKER_NETWORK")
    built = docker("build", "--build-arg", f"PYTHON_IMAGE={BASE}", *(["--network", network] if network else []),
                   "-t", TAG, str(ROOT), timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    yield TAG
    docker("image", "rm", "-f", TAG)


def run(image: str, *command: str) -> str:
    done = docker("run", "--rm", "--read-only", "--tmpfs", "/tmp", image, *command)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_image_holds_only_what_runs_and_runs_as_non_root(image: str) -> None:
    assert run(image, "id", "-u") == "10001"
    assert sorted(run(image, "ls", "/app").split()) == ["contract", "gateway", "generated", "requirements.txt",
                                                        "server"]
    assert run(image, "python", "-c", "import sys; print(sys.dont_write_bytecode)") == "True"
    # The root filesystem is read-only, yet the data directory (a volume) is writable.
    assert run(image, "sh", "-c", "touch /data/x && ! touch /app/x 2>/dev/null && echo ok") == "ok"


@pytest.fixture()
def containers() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        docker("rm", "-f", name)


def health(name: str) -> str:
    return docker("inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()


def test_server_and_gateway_containers_turn_healthy_and_serve(image: str, containers: list[str]) -> None:
    grpc_port, http_port = free_port(), free_port()
    # Host networking: ports on loopback only, nothing crosses a bridge.
    common = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
              "--network", "host", "-e", f"PERF_GRPC_PORT={grpc_port}", "-e", f"PERF_HTTP_PORT={http_port}",
              "-e", "PERF_GRPC_HOST=127.0.0.1", "-e", "PERF_HTTP_HOST=127.0.0.1",
              "--health-interval", "1s", "--health-start-period", "1s"]
    for role, command in (("server", ()), ("gateway", ("python", "-m", "gateway"))):
        name = f"perf-test-{role}-{uuid.uuid4().hex[:6]}"
        started = docker("run", "-d", "--name", name, *common, image, *command)
        assert started.returncode == 0, started.stderr
        containers.append(name)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and {health(n) for n in containers} != {"healthy"}:
        time.sleep(1)
    assert [health(n) for n in containers] == ["healthy", "healthy"], docker("logs", containers[0]).stderr
    key = next(line for line in docker("logs", containers[0]).stdout.splitlines() if line.startswith("pk_test_"))
    response = http("POST", f"http://127.0.0.1:{http_port}/v1/images/generations",
                    {"prompt": "from a container", "model": "dall-e-2", "size": "256x256"},
                    {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert response.status == 200, response.body
    stopped = docker("stop", "--time", "40", *containers, timeout=90)
    assert stopped.returncode == 0
    codes = [docker("inspect", "--format", "{{.State.ExitCode}}", n).stdout.strip() for n in containers]
    assert codes == ["0", "0"]  # SIGTERM drained and exited cleanly
