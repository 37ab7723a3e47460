"""`make bench`: throughput and latency of the test-mode path beside a bare aiohttp handler.

Prints a table; asserts nothing. Client, gateway and server share this machine's cores, so read
the figures as ratios within one run, not as absolutes.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.load import client_name, measure, run_load
from server.providers.sandbox_render import render_png
from tests.stack import ROOT, Stack, free_port, http

SIZES = ("256x256", "1024x1024")
FORMATS = ("url", "b64_json")
CONCURRENCY = (1, 16, 64)
MODEL_FOR_SIZE = {"256x256": "dall-e-2", "1024x1024": "dall-e-2"}


def row(target: str, size: str, fmt: str, concurrency: int, result: Any) -> str:
    return (f"| {target:<24} | {size:<9} | {fmt:<8} | {concurrency:>4} | {result.rps:>8.0f} | {result.p50:>8.1f} | "
            f"{result.p99:>8.1f} | {result.errors:>4} |")


def measure_render() -> list[str]:
    lines = []
    for size in SIZES:
        width, height = (int(s) for s in size.split("x"))
        render_png("warm", "dall-e-2", width, height)
        started = time.perf_counter()
        for i in range(10):
            render_png(f"unique prompt {i}", "dall-e-2", width, height)
        lines.append(f"sandbox render (uncached) {size}: {(time.perf_counter() - started) * 100:.1f} ms per image")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per cell")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp) / "stack")
        stack.data_dir.mkdir()
        stack.env_overrides["PERF_LOG_LEVEL"] = "WARNING"
        stack.start()
        bare_port = free_port()
        canned = Path(tmp) / "canned.json"
        canned.write_bytes(b"{}")
        bare = subprocess.Popen([sys.executable, "-m", "bench.bare_app", str(bare_port), str(canned)], cwd=ROOT,
                                env=stack.env)
        try:
            _wait_for_port(bare_port)
            # A key whose rate limits the benchmark never reaches; bench/accounting.py measures the limits.
            key = stack.create_key("test")
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            print(f"Test mode through gateway + server, beside a bare aiohttp handler; client: {client_name()}")
            print("| target                   | size      | format   | conc |    req/s | p50 (ms) | p99 (ms) | errs |")
            print("|--------------------------|-----------|----------|------|----------|----------|----------|------|")
            for size in SIZES:
                for fmt in FORMATS:
                    request = json.dumps({"prompt": "benchmark", "model": MODEL_FOR_SIZE[size], "size": size,
                                          "response_format": fmt}).encode()
                    sample = stack.post("/v1/images/generations", json.loads(request), key=key)
                    canned.write_bytes(sample.body)
                    for concurrency in CONCURRENCY:
                        for target, url in (("bare aiohttp", f"http://127.0.0.1:{bare_port}"),
                                            ("gateway+server", stack.base_url)):
                            result = measure(url + "/v1/images/generations", request, headers, concurrency,
                                             args.duration)
                            print(row(target, size, fmt, concurrency, result), flush=True)
            for concurrency in (16,):
                request_for = lambda i: json.dumps({"prompt": f"unique {i} {time.time()}", "model": "dall-e-2",  # noqa: E731
                                                    "size": "1024x1024", "response_format": "b64_json"}).encode()
                result = asyncio.run(run_load(stack.base_url + "/v1/images/generations", request_for, headers,
                                              concurrency, args.duration))
                print(row("gateway+server uncached", "1024x1024", "b64_json", concurrency, result))
            print()
            for line in measure_render():
                print(line)
        finally:
            bare.terminate()
            bare.wait()
            stack.stop()


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            http("GET", f"http://127.0.0.1:{port}/", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("bare app did not start")


if __name__ == "__main__":
    main()
