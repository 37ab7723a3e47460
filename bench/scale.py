"""`make bench` (scaling): one server process beside two on this host, behind two gateways, on the
shared PostgreSQL + Redis (what several processes need), test mode with the sandbox's render cache warm.

Started with `python -m scripts.run_local --servers N --gateways 2`; wrk (or the Python client) at 64
connections. Prints req/s for N = 1 and 2 and their ratio, interleaved over two rounds. Needs
PERF_TEST_DATABASE_URL and PERF_TEST_REDIS_URL (as the tests); asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.load import client_name, measure
from tests import services
from tests.stack import ROOT, free_port, http


def run(servers: int, duration: float, backends: dict[str, str], tmp: Path) -> float:
    http_port, grpc_port = free_port(), free_port() + 100
    env = {**os.environ, **backends, "PYTHONPATH": f"{ROOT / 'generated'}{os.pathsep}{ROOT}",
           "PERF_HTTP_PORT": str(http_port), "PERF_GRPC_PORT": str(grpc_port), "PERF_LOG_LEVEL": "WARNING",
           "PERF_DATA_DIR": str(tmp)}
    runner = subprocess.Popen([sys.executable, "-m", "scripts.run_local", "--servers", str(servers), "--gateways", "2"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if http("GET", url + "/readyz", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        key = subprocess.run([sys.executable, "-m", "server.keys", "create", "--mode", "test", "--tier", "enterprise",
                              "--minute-limit", "100000000", "--day-limit", "100000000"], cwd=ROOT, env=env,
                             capture_output=True, check=True).stdout.decode().split()[-1]
        body = json.dumps({"prompt": "scale", "model": "dall-e-2", "size": "256x256",
                           "response_format": "b64_json"}).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        measure(url + "/v1/images/generations", body, headers, 64, 1.0)  # warm: render cache, connections
        return float(measure(url + "/v1/images/generations", body, headers, 64, duration).rps)
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    reason = services.database_skip_reason() or services.redis_skip_reason()
    if reason:
        print(f"scaling: skipped ({reason})")
        return
    results: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(2):
            for servers in (1, 2):
                url, name = services.create_database()
                prefix = services.redis_prefix()
                try:
                    backends = {"PERF_DATABASE_URL": url, "PERF_REDIS_URL": os.environ["PERF_TEST_REDIS_URL"],
                                "PERF_REDIS_PREFIX": prefix}
                    results[servers].append(run(servers, args.duration, backends, Path(tmp) / f"{round_}-{servers}"))
                finally:
                    services.delete_redis_prefix(prefix)
                    services.drop_database(name)
    one, two = statistics.median(results[1]), statistics.median(results[2])
    print(f"\nscaling on one host (2 gateways, PostgreSQL + Redis, test mode, 64 connections; client: {client_name()})")
    print("| servers | req/s (median of 2) |")
    print("|---------|---------------------|")
    print(f"|       1 | {one:>19.0f} |")
    print(f"|       2 | {two:>19.0f} |")
    print(f"two servers / one: {two / one:.2f}x")


if __name__ == "__main__":
    main()
