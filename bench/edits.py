"""`make bench` (edits and streams): the CPU and memory a 3-image edit and a streamed generation cost the
gateway and the server, beside a plain generation of the same output in the same run.

Each workload gets a fresh stack (so each process's peak RSS is that workload's), a live key and a fake
OpenAI upstream in its own process (its work is not counted). A fixed number of requests is sent,
`--concurrency` at a time; CPU is read from /proc (user + system time of each process) before and after.
Inputs: three 1024x1024 PNGs with --detail noisy rows (~1.1 MB each at 0.36, as a photo compresses).

Prints one table; asserts nothing. Read the figures as ratios to the plain generation of this run.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.live import fake_openai, live_stack, peak_rss_mb
from tests.fakes.images import make_image

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass(frozen=True)
class Figures:
    requests: int
    failures: int
    seconds: float
    server_cpu_ms: float  # per request
    gateway_cpu_ms: float
    server_peak_mb: float  # above the idle process
    gateway_peak_mb: float


Send = Callable[[aiohttp.ClientSession, str], Awaitable[bool]]


def generation(body: dict[str, object]) -> Send:
    async def send(session: aiohttp.ClientSession, base: str) -> bool:
        async with session.post(base + "/v1/images/generations", json=body) as response:
            await response.read()
            return response.status == 200
    return send


def streamed_generation(partial_images: int) -> Send:
    body = {"prompt": "benchmark", "model": "gpt-image-2", "size": "1024x1024", "quality": "medium",
            "stream": True, "partial_images": partial_images}

    async def send(session: aiohttp.ClientSession, base: str) -> bool:
        async with session.post(base + "/v1/images/generations", json=body) as response:
            events = (await response.read()).count(b"\nevent: ") + 1
            return response.status == 200 and events == partial_images + 1
    return send


def edit(images: list[bytes]) -> Send:
    async def send(session: aiohttp.ClientSession, base: str) -> bool:
        form = aiohttp.FormData()
        for index, data in enumerate(images):
            form.add_field("image[]", data, filename=f"in{index}.png", content_type="image/png")
        for name, value in (("prompt", "benchmark"), ("model", "gpt-image-2"), ("size", "1024x1024"),
                            ("quality", "medium"), ("response_format", "b64_json")):
            form.add_field(name, value)
        async with session.post(base + "/v1/images/edits", data=form) as response:
            await response.read()
            return response.status == 200
    return send


async def drive(base: str, key: str, send: Send, count: int, concurrency: int) -> tuple[int, float]:
    failures, next_index = 0, 0
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"},
                                     timeout=aiohttp.ClientTimeout(total=120)) as session:
        async def worker() -> None:
            nonlocal failures, next_index
            while next_index < count:
                next_index += 1
                if not await send(session, base):
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return failures, time.perf_counter() - started


def measure(send: Send, count: int, concurrency: int, detail: float, tmp: Path) -> Figures:
    with fake_openai(0.0, detail) as fake_url, live_stack(fake_url, tmp) as (stack, key):
        assert stack.server is not None and stack.gateway is not None
        asyncio.run(drive(stack.base_url, key, send, 4, 2))  # warm: imports, connections, caches
        pids = (stack.server.pid, stack.gateway.pid)
        idle = [rss_mb(pid) for pid in pids]
        before = [cpu_seconds(pid) for pid in pids]
        failures, seconds = asyncio.run(drive(stack.base_url, key, send, count, concurrency))
        after = [cpu_seconds(pid) for pid in pids]
        peaks = [peak_rss_mb(pid) - base for pid, base in zip(pids, idle)]
    per_request = [(a - b) * 1000 / count for a, b in zip(after, before)]
    return Figures(count, failures, seconds, per_request[0], per_request[1], peaks[0], peaks[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--detail", type=float, default=0.36, help="noisy share of each image (upstream's and inputs)")
    args = parser.parse_args()
    inputs = [make_image(1024, 1024, detail=args.detail)] * 3
    plain = generation({"prompt": "benchmark", "model": "gpt-image-2", "size": "1024x1024", "quality": "medium",
                        "response_format": "b64_json"})
    workloads = [("generation (b64_json)", plain), ("streamed generation, 2 partials", streamed_generation(2)),
                 (f"edit of 3 images ({sum(map(len, inputs)) / 3 / 1e6:.1f} MB each)", edit(inputs))]
    print(f"edits and streams: {args.requests} requests per row, {args.concurrency} at a time, gpt-image-2 "
          f"1024x1024 through the fake OpenAI upstream (upstream image detail {args.detail})")
    print("| workload                             | ok/sent | server CPU ms/req | gateway CPU ms/req | "
          "CPU vs generation | server peak +MB | gateway peak +MB |")
    print("|--------------------------------------|---------|-------------------|--------------------|"
          "-------------------|-----------------|------------------|")
    baseline: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for index, (label, send) in enumerate(workloads):
            f = measure(send, args.requests, args.concurrency, args.detail, Path(tmp) / str(index))
            total = f.server_cpu_ms + f.gateway_cpu_ms
            baseline = baseline or total
            print(f"| {label:<36} | {f.requests - f.failures:>3}/{f.requests:<3} | {f.server_cpu_ms:>17.1f} | "
                  f"{f.gateway_cpu_ms:>18.1f} | {total / baseline:>16.2f}x | {f.server_peak_mb:>15.1f} | "
                  f"{f.gateway_peak_mb:>16.1f} |", flush=True)


if __name__ == "__main__":
    main()
