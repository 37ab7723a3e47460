"""`make bench` (live path): gateway → server → fake OpenAI upstream, beside requests sent straight to the
fake in the same run, so the difference is what the live path adds.

(a) 0 ms upstream; a small image (flat 1024x1024 PNG, ~14 KB) and a detailed one (1024x1024 PNG,
    ~1.1 MB, ~1.5 MB as base64); concurrency 1/16/64; closed loop.
(b) 1,000 requests at once against a 2 s upstream: success, p99, peak RSS of server + gateway.

Prints tables; asserts nothing. Client, fake, gateway and server share this machine's cores.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.load import client_name, measure, run_burst
from tests.stack import ROOT, Stack

CONCURRENCY = (1, 16, 64)
# (label, image detail, response formats measured)
IMAGES = (("small ~14 KB", 0.0, ("b64_json", "url")), ("1024x1024 ~1.1 MB", 0.36, ("b64_json", "url")))
UPSTREAM_BODY = json.dumps({"model": "gpt-image-2", "prompt": "benchmark", "n": 1, "size": "1024x1024",
                            "quality": "medium"}).encode()


@contextmanager
def fake_openai(latency_s: float, detail: float) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.serve", "openai", "--latency", str(latency_s),
                             "--detail", str(detail)], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().decode().strip()
    finally:
        proc.terminate()
        proc.wait()


@contextmanager
def live_stack(fake_url: str, tmp: Path, root: Path = ROOT, launch_prefix: tuple[str, ...] = (),
               unix_socket: bool | None = None) -> Iterator[tuple[Stack, str]]:
    """Our stack as one host runs it: the gateway reaches the server over a Unix-domain socket
    (PERF_GRPC_UNIX_SOCKET, README "Scaling on one host"). `unix_socket=None`: wherever `root`'s server
    has that setting (bench.ab and bench.instructions run older checkouts), else over TCP loopback."""
    stack = Stack(tmp, root=root, launch_prefix=launch_prefix, start_timeout_s=120.0 if launch_prefix else 20.0)
    stack.data_dir.mkdir(parents=True)
    stack.env_overrides.update({"PERF_LOG_LEVEL": "WARNING", "OPENAI_API_KEY": "test-key",
                                "OPENAI_BASE_URL": fake_url + "/v1",
                                "PERF_INSECURE_HTTP_HOSTS": fake_url.split("://", 1)[1]})
    with ExitStack() as cleanup:
        if has_unix_socket(root) if unix_socket is None else unix_socket:
            stack.env_overrides.update(cleanup.enter_context(unix_socket_env()))
        stack.start()
        try:
            yield stack, stack.create_key("live")
        finally:
            stack.stop()


def has_unix_socket(root: Path) -> bool:
    return "PERF_GRPC_UNIX_SOCKET" in (root / "server" / "runtime" / "config.py").read_text()


@contextmanager
def unix_socket_env(_tmp: Path | None = None) -> Iterator[dict[str, str]]:
    """The server's socket and the gateway's target, in a short directory of its own (a socket path
    must fit in 107 bytes, and a benchmark's tmp may be deep), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="perf-grpc-"))
    try:
        path = folder / "grpc.sock"
        yield {"PERF_GRPC_UNIX_SOCKET": str(path), "PERF_GRPC_TARGET": f"unix:{path}"}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def row(target: str, image: str, fmt: str, concurrency: int, r: Any) -> str:
    return (f"| {target:<15} | {image:<17} | {fmt:<8} | {concurrency:>4} | {r.rps:>7.0f} | {r.p50:>8.2f} | "
            f"{r.p99:>8.2f} | {r.errors:>4} |")


def part_a(duration: float, tmp: Path) -> None:
    print(f"(a) 0 ms upstream, closed loop; client: {client_name()}")
    print("| target          | image             | format   | conc |   req/s | p50 (ms) | p99 (ms) | errs |")
    print("|-----------------|-------------------|----------|------|---------|----------|----------|------|")
    added: list[str] = []
    for label, detail, formats in IMAGES:
        with fake_openai(0.0, detail) as fake_url, live_stack(fake_url, tmp / f"a{detail}") as (stack, key):
            upstream_headers = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}
            gateway_headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            for concurrency in CONCURRENCY:
                direct = measure(fake_url + "/v1/images/generations", UPSTREAM_BODY, upstream_headers, concurrency,
                                 duration)
                print(row("fake directly", label, "b64_json", concurrency, direct), flush=True)
                for fmt in formats:
                    body = json.dumps({"prompt": "benchmark", "model": "dall-e-3", "size": "1024x1024",
                                       "response_format": fmt}).encode()
                    via = measure(stack.base_url + "/v1/images/generations", body, gateway_headers, concurrency,
                                  duration)
                    print(row("gateway+server", label, fmt, concurrency, via), flush=True)
                    if concurrency == 1:
                        added.append(f"added p50 at concurrency 1, {label}, {fmt}: {via.p50 - direct.p50:.2f} ms")
    print()
    for line in added:
        print(line)


def part_b(count: int, tmp: Path) -> None:
    print(f"\n(b) {count} requests at once, 2 s upstream, b64_json small image")
    with fake_openai(2.0, 0.0) as fake_url, live_stack(fake_url, tmp / "b") as (stack, key):
        body = json.dumps({"prompt": "burst", "model": "dall-e-3", "response_format": "b64_json"}).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        result = asyncio.run(run_burst(stack.base_url + "/v1/images/generations", body, headers, count))
        assert stack.server is not None and stack.gateway is not None
        rss = peak_rss_mb(stack.server.pid) + peak_rss_mb(stack.gateway.pid)
    print("| requests | success % |  p50 (ms) |  p99 (ms) | max (ms) | burst (s) | peak RSS server+gateway (MB) |")
    print("|----------|-----------|-----------|-----------|----------|-----------|------------------------------|")
    latencies = sorted(result.latencies_ms)
    print(f"| {count:>8} | {100 * result.requests / count:>9.1f} | {result.p50:>9.0f} | {result.p99:>9.0f} | "
          f"{(latencies[-1] if latencies else float('nan')):>8.0f} | {result.seconds:>9.2f} | {rss:>28.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per cell")
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--skip-a", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_a:
            part_a(args.duration, Path(tmp))
        part_b(args.burst, Path(tmp))


if __name__ == "__main__":
    main()
