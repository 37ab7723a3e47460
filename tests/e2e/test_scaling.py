"""Several server and gateway processes on one host (`python -m scripts.run_local --servers N --gateways M`):
every process gets work, limits stay exact across them, and all of them stop together."""
from __future__ import annotations

import os
import signal
import stat as filemode
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services
from tests.e2e.concurrent import fire
from tests.stack import ROOT, free_port, http

GEN = "/v1/images/generations"


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def command_of(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.fixture()
def shared_backends(tmp_path: Path) -> Iterator[dict[str, str]]:
    reason = services.database_skip_reason() or services.redis_skip_reason()
    if reason:
        pytest.skip(reason)
    url, name = services.create_database()
    prefix = services.redis_prefix()
    try:
        yield {"PERF_DATABASE_URL": url, "PERF_REDIS_URL": os.environ["PERF_TEST_REDIS_URL"],
               "PERF_REDIS_PREFIX": prefix, "PERF_DATA_DIR": str(tmp_path)}
    finally:
        services.delete_redis_prefix(prefix)
        services.drop_database(name)


def test_two_servers_and_two_gateways_share_the_work_and_the_limits(shared_backends: dict[str, str]) -> None:
    http_port = free_port()
    env = {**os.environ, **shared_backends, "PYTHONPATH": f"{ROOT / 'generated'}{os.pathsep}{ROOT}",
           "PERF_HTTP_PORT": str(http_port), "PERF_GRPC_PORT": str(free_port()), "PERF_DRAIN_SECONDS": "0.2",
           "PERF_SANDBOX_LATENCY_MS": "20"}
    env["PERF_GRPC_PORT"] = str(_two_free_ports())
    runner = subprocess.Popen([sys.executable, "-m", "scripts.run_local", "--servers", "2", "--gateways", "2"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert runner.stdout is not None
        banner = ""
        while not banner.startswith("Gateway"):  # the first server may print the first key before it
            banner = runner.stdout.readline().decode()
            assert banner, "run_local ended before starting the gateways"
        # By default the gateways reach the servers over one Unix socket each, in a private folder.
        target = banner.split("(gRPC: ", 1)[1].split(")", 1)[0]
        assert target.startswith("unix:"), banner
        sockets = [Path(path) for path in target.removeprefix("unix:").split(",")]
        assert len(sockets) == 2 and sockets[0].parent == sockets[1].parent
        assert filemode.S_IMODE(sockets[0].parent.stat().st_mode) == 0o700
        processes = children(runner.pid)
        servers = [p for p in processes if command_of(p).endswith("-m server ")]
        gateways = [p for p in processes if command_of(p).endswith("-m gateway ")]
        assert (len(servers), len(gateways)) == (2, 2)
        _wait_ready(http_port)
        key = subprocess.run([sys.executable, "-m", "server.keys", "create", "--mode", "test", "--tier", "free"],
                             cwd=ROOT, env=env, capture_output=True, check=True).stdout.decode().split()[-1]
        before = {pid: cpu_ticks(pid) for pid in servers + gateways}
        # 120 requests on fresh connections: both gateways accept, both servers generate; the free tier's
        # 5 images a minute still hold exactly across the four processes.
        bodies = [{"prompt": f"scale {i}", "model": "dall-e-2", "size": "256x256"} for i in range(120)]
        replies = fire([(f"http://127.0.0.1:{http_port}{GEN}", body) for body in bodies], key)
        assert sum(1 for r in replies if r.status == 200) == 5
        assert all(r.status in (200, 429) for r in replies)
        worked = {pid: cpu_ticks(pid) - ticks for pid, ticks in before.items()}
        assert all(worked[pid] > 0 for pid in servers + gateways), worked
    finally:
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=30) == 0
    assert not sockets[0].parent.exists()
    assert all(not Path(f"/proc/{pid}").exists() or "(Z)" in Path(f"/proc/{pid}/stat").read_text()
               for pid in processes)


def test_several_servers_refuse_the_embedded_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PERF_DATABASE_URL", "PERF_REDIS_URL")}
    done = subprocess.run([sys.executable, "-m", "scripts.run_local", "--servers", "2"], cwd=ROOT,
                          env={**env, "PERF_DATA_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "PERF_DATABASE_URL and PERF_REDIS_URL" in done.stderr


def _two_free_ports() -> int:
    """A port p with p + 1 free too (the second server's)."""
    import socket

    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no two adjacent free ports")


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if http("GET", f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gateways did not become ready")


def _banner_target(runner: subprocess.Popen[bytes]) -> str:
    assert runner.stdout is not None
    banner = ""
    while not banner.startswith("Gateway"):
        banner = runner.stdout.readline().decode()
        assert banner, "run_local ended before starting the gateway"
    return banner.split("(gRPC: ", 1)[1].split(")", 1)[0]


@pytest.mark.parametrize("flags", [[], ["--tcp"]], ids=["unix-socket", "tcp"])
def test_make_run_serves_over_a_private_socket_unless_asked_for_tcp(tmp_path: Path, flags: list[str]) -> None:
    http_port, grpc_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PERF_GRPC_TARGET", "PERF_GRPC_UNIX_SOCKET")}
    env.update({"PYTHONPATH": f"{ROOT / 'generated'}{os.pathsep}{ROOT}", "PERF_DATA_DIR": str(tmp_path),
                "PERF_HTTP_PORT": str(http_port), "PERF_GRPC_PORT": str(grpc_port), "PERF_DRAIN_SECONDS": "0.2"})
    runner = subprocess.Popen([sys.executable, "-m", "scripts.run_local", *flags], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        target = _banner_target(runner)
        if flags:
            assert target == f"127.0.0.1:{grpc_port}"
        else:
            assert target.startswith("unix:") and Path(target.removeprefix("unix:")).name == "server-0.sock"
        _wait_ready(http_port)
        key = subprocess.run([sys.executable, "-m", "server.keys", "create", "--mode", "test"], cwd=ROOT, env=env,
                             capture_output=True, check=True).stdout.decode().split()[-1]
        reply = http("POST", f"http://127.0.0.1:{http_port}{GEN}", {"prompt": "a pier", "model": "dall-e-3"},
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}, timeout=10)
        assert reply.status == 200, reply.body
    finally:
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=30) == 0
    if not flags:
        assert not Path(target.removeprefix("unix:")).parent.exists()


def test_several_servers_refuse_one_named_socket(tmp_path: Path) -> None:
    env = {**os.environ, "PERF_DATABASE_URL": "postgresql://unused", "PERF_REDIS_URL": "redis://unused",
           "PERF_GRPC_UNIX_SOCKET": str(tmp_path / "one.sock"), "PERF_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "scripts.run_local", "--servers", "2"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "several servers cannot share it" in done.stderr
