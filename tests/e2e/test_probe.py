"""The container probe in gateway mode: /readyz over loopback, never through a proxy."""
from __future__ import annotations

import subprocess
import sys

from tests.stack import ROOT, Stack, free_port


def probe_gateway(stack: Stack, **env: str) -> int:
    return subprocess.run([sys.executable, "-m", "server.runtime.probe", "gateway"], cwd=ROOT,
                          env={**stack.env, **env}, capture_output=True, timeout=20).returncode


def test_gateway_probe_follows_readyz(stack: Stack) -> None:
    assert probe_gateway(stack) == 0
    # A proxy configured for the container's outbound traffic must not swallow the loopback probe.
    proxy = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert probe_gateway(stack, HTTP_PROXY=proxy, http_proxy=proxy, NO_PROXY="", no_proxy="") == 0
    assert probe_gateway(stack, PERF_HTTP_PORT=str(free_port())) == 1


def test_probe_refuses_an_unknown_process(stack: Stack) -> None:
    done = subprocess.run([sys.executable, "-m", "server.runtime.probe", "worker"], cwd=ROOT, env=stack.env,
                          capture_output=True, timeout=20)
    assert done.returncode == 2 and b"usage" in done.stderr
