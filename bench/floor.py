"""`make bench` (part): what our server's product work costs above the transport it runs on.

Two servers behind two copies of our gateway, against one fake OpenAI upstream (0 ms, the small
~14 KB image, b64_json, a live key): ours, and bench/floor_server.py, which only relays the upstream's
image over the same grpc.aio, aiohttp, orjson and pybase64. The cells interleave rep by rep, so both
see the same machine; CPU per request is read from /proc for each gateway and server, and the fake is
asked directly each rep, so "added p50" is what each chain adds to the upstream's own latency. The
floor's figures are what no amount of work on our pipeline can go below in this design (a Python
gateway and server joined by gRPC); the difference is keys, limits, validation, routing, image checks,
ledger, metrics and headers. `make bench` runs it at 16 connections (throughput, CPU), at 1 (the
latency one request pays), and with `--hold 1000`: that many requests at once against a 2 s upstream
(the fake asked directly the same way), so the hold's p99 can be read against what the transport alone
reaches. Ours starts before the floor; in A/Bs of one toggle run both ways round, the stack started
second read ~3 % faster whatever it ran, so the floor's lead may hold up to that much of it. Prints;
asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from bench.compare.cli import raise_open_files
from bench.compare.load import BurstLoad, burst
from bench.compare.procs import cpu_seconds
from bench.live import UPSTREAM_BODY, fake_openai, live_stack, unix_socket_env
from bench.load import client_name, measure
from tests.stack import ROOT, free_port, http

PATH = "/v1/images/generations"
BODY = json.dumps({"prompt": "benchmark", "model": "dall-e-3", "size": "1024x1024",
                   "response_format": "b64_json"}).encode()


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    gateway: int
    server: int


@dataclass(frozen=True)
class Reading:
    rps: float
    gateway_ms: float
    server_ms: float
    errors: int
    p50_ms: float


@contextmanager
def floor_stack(fake_url: str, env: dict[str, str], tmp: Path) -> Iterator[Target]:
    """The floor server, and our gateway (with `env`, our stack's settings) in front of it."""
    grpc_port, http_port = free_port(), free_port()
    # The hop our stack takes (bench/live.py); `env` holds ours, so this target comes after it.
    with unix_socket_env() as hop:
        yield from _floor_stack(fake_url, env, tmp, grpc_port, http_port, hop)


def _floor_stack(fake_url: str, env: dict[str, str], tmp: Path, grpc_port: int, http_port: int,
                 hop: dict[str, str]) -> Iterator[Target]:
    server = subprocess.Popen([sys.executable, "-m", "bench.floor_server", str(grpc_port), fake_url,
                               hop["PERF_GRPC_UNIX_SOCKET"]], cwd=ROOT, env=env, stdout=subprocess.PIPE)
    gateway = None
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != b"ready":
            raise RuntimeError("the floor server did not start")
        tmp.mkdir(parents=True)
        gateway = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                   env={**env, "PERF_GRPC_PORT": str(grpc_port), "PERF_HTTP_PORT": str(http_port), **hop,
                                        "PERF_DATA_DIR": str(tmp)}, stderr=open(tmp / "gateway.log", "wb"))
        url = f"http://127.0.0.1:{http_port}"
        _wait_healthy(url)
        yield Target("floor", url, gateway.pid, server.pid)
    finally:
        for proc in (gateway, server):
            if proc is not None:
                proc.terminate()
                proc.wait()


def _wait_healthy(url: str) -> None:
    for _ in range(200):
        try:
            if http("GET", url + "/healthz").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no gateway at {url}")


def reading(target: Target, key: str, concurrency: int, duration: float) -> Reading:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    gateway0, server0 = cpu_seconds(target.gateway), cpu_seconds(target.server)
    result = measure(target.url + PATH, BODY, headers, concurrency, duration)
    gateway1, server1 = cpu_seconds(target.gateway), cpu_seconds(target.server)
    requests = max(1.0, result.rps * duration)
    return Reading(result.rps, 1000 * (gateway1 - gateway0) / requests, 1000 * (server1 - server0) / requests,
                   result.errors, result.p50)


def upstream_reading(fake_url: str, concurrency: int, duration: float) -> Reading:
    """The fake asked directly what both servers ask it: the latency neither of them adds."""
    headers = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}
    result = measure(fake_url + PATH, UPSTREAM_BODY, headers, concurrency, duration)
    return Reading(result.rps, 0.0, 0.0, result.errors, result.p50)


def run(concurrency: int, duration: float, reps: int, tmp: Path) -> list[str]:
    with fake_openai(0.0, 0.0) as fake_url, live_stack(fake_url, tmp / "ours") as (stack, key):
        assert stack.server is not None and stack.gateway is not None
        ours = Target("ours", stack.base_url, stack.gateway.pid, stack.server.pid)
        with floor_stack(fake_url, stack.env, tmp / "floor") as floor:
            for target in (ours, floor):  # warm both (connections, caches) before anything counts
                reading(target, key, concurrency, 1.0)
            readings: dict[str, list[Reading]] = {"ours": [], "floor": [], "upstream": []}
            for rep in range(reps):
                for target in (ours, floor) if rep % 2 == 0 else (floor, ours):
                    readings[target.name].append(reading(target, key, concurrency, duration))
                readings["upstream"].append(upstream_reading(fake_url, concurrency, duration))
    return table(readings, concurrency, reps, duration)


def table(readings: dict[str, list[Reading]], concurrency: int, reps: int, duration: float) -> list[str]:
    def med(name: str, field: str) -> float:
        return median(getattr(r, field) for r in readings[name])

    lines = [f"Our server above the transport floor (small image, b64_json, {concurrency} connections; "
             f"client: {client_name()}; median of {reps} interleaved reps of {duration:g} s)",
             "| server behind our gateway | req/s | p50 ms | added p50 ms | gateway CPU ms/req | server CPU ms/req | errors |",
             "|---------------------------|-------|--------|--------------|--------------------|-------------------|--------|"]
    bare = med("upstream", "p50_ms")
    for name, label in (("ours", "ours (the product)"), ("floor", "floor (relay only)")):
        lines.append(f"| {label:<25} | {med(name, 'rps'):>5.0f} | {med(name, 'p50_ms'):>6.2f} | "
                     f"{med(name, 'p50_ms') - bare:>12.2f} | {med(name, 'gateway_ms'):>18.3f} | "
                     f"{med(name, 'server_ms'):>17.3f} | {sum(r.errors for r in readings[name]):>6} |")
    lines.append(f"| {'the fake upstream, direct':<25} | {med('upstream', 'rps'):>5.0f} | {bare:>6.2f} | "
                 f"{'':>12} | {'':>18} | {'':>17} | {sum(r.errors for r in readings['upstream']):>6} |")
    floor_cpu = med("floor", "gateway_ms") + med("floor", "server_ms")
    ours_cpu = med("ours", "gateway_ms") + med("ours", "server_ms")
    lines.append(f"ours ÷ floor: req/s {med('ours', 'rps') / max(med('floor', 'rps'), 1e-9):.2f}×, CPU per request "
                 f"{ours_cpu / max(floor_cpu, 1e-9):.2f}× ({ours_cpu - floor_cpu:.3f} ms of product work, "
                 f"{med('ours', 'server_ms') - med('floor', 'server_ms'):.3f} of it in the server)")
    return lines


def hold(count: int, reps: int, tmp: Path) -> list[str]:
    """`count` requests at once, each answered by the fake after 2 s: ours, the floor, the fake direct."""
    bursts: dict[str, list[BurstLoad]] = {"ours": [], "floor": [], "upstream": []}
    with fake_openai(2.0, 0.0) as fake_url, live_stack(fake_url, tmp / "ours") as (stack, key):
        assert stack.server is not None and stack.gateway is not None
        ours = Target("ours", stack.base_url, stack.gateway.pid, stack.server.pid)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        upstream_headers = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}
        with floor_stack(fake_url, stack.env, tmp / "floor") as floor:
            for target in (ours, floor):
                burst(target.url + PATH, BODY, headers, 16, 0)
            for rep in range(reps):
                for target in (ours, floor) if rep % 2 == 0 else (floor, ours):
                    bursts[target.name].append(burst(target.url + PATH, BODY, headers, count, 0))
                bursts["upstream"].append(burst(fake_url + PATH, UPSTREAM_BODY, upstream_headers, count, 0))
    lines = [f"{count} requests at once, 2 s upstream, small image (median of {reps} interleaved reps)",
             "| chain                     | success % | p50 s | p99 s |",
             "|---------------------------|-----------|-------|-------|"]
    for name, label in (("ours", "ours (the product)"), ("floor", "floor (relay only)"),
                        ("upstream", "the fake upstream, direct")):
        loads = bursts[name]
        lines.append(f"| {label:<25} | {median(b.success_pct for b in loads):>9.1f} | "
                     f"{median(b.p50_ms for b in loads) / 1000:>5.2f} | {median(b.p99_ms for b in loads) / 1000:>5.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--hold", type=int, metavar="N", help="instead: N requests at once against a 2 s upstream")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with tempfile.TemporaryDirectory() as tmp:
        if args.hold:
            raise_open_files(3 * args.hold + 1024)
            print("\n".join(hold(args.hold, args.reps, Path(tmp))))
        else:
            print("\n".join(run(args.concurrency, args.duration, args.reps, Path(tmp))))


if __name__ == "__main__":
    main()
