"""Load for the comparison, every answer checked: a non-200 answer, a transport failure or a body whose
first `b64_json` value is not exactly as long as the image's base64 (none, empty, cut) is an error.
(The byte-for-byte check of the decoded image is done once per setting, in run.py: too costly per answer.)

Closed loop: wrk (one thread, a Lua `response` hook doing the check) when installed, else an aiohttp
client doing the same check. Both count every request answered in the window, so CPU read around a cell
divides by the same count. Open burst: bench/load.py's run_burst with the same check.
"""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.load import run_burst

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class CellLoad:
    answered: int  # every request that got an answer or failed, in the window
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def ok(self) -> int:
        return self.answered - self.errors

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


_B64_KEY = re.compile(rb'"b64_json"\s*:\s*"')


def carries_image(status: int, body: bytes, b64_length: int) -> bool:
    """A 200 whose first `b64_json` string is exactly `b64_length` long (0: any answer is accepted)."""
    if status != 200:
        return False
    if not b64_length:
        return True
    key = _B64_KEY.search(body)
    return key is not None and body.find(b'"', key.end()) - key.end() == b64_length


def accept_for(b64_length: int) -> Callable[[int, bytes], bool]:
    return lambda status, body: carries_image(status, body, b64_length)


def client_name() -> str:
    return "wrk (1 thread)" if shutil.which("wrk") else "aiohttp (install wrk for a cheaper client)"


def closed_loop(url: str, body: bytes, headers: dict[str, str], concurrency: int, duration_s: float,
                b64_length: int) -> CellLoad:
    if shutil.which("wrk"):
        return _wrk(url, body, headers, concurrency, duration_s, b64_length)
    return asyncio.run(_python_closed_loop(url, body, headers, concurrency, duration_s, b64_length))


def wrk_script(body: bytes, headers: dict[str, str], b64_length: int) -> str:
    return "\n".join([
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(body.decode())}",
        *(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()),
        "local threads = {}",
        "function setup(thread) table.insert(threads, thread) end",
        "bad = 0",
        f"local expected = {b64_length}",
        "function response(status, headers, body)",
        "  local ok = status == 200",
        "  if ok and expected > 0 then",
        "    local _, key_end = string.find(body, '\"b64_json\"%s*:%s*\"')",
        "    ok = key_end ~= nil and (string.find(body, '\"', key_end + 1, true) or 0) - key_end - 1 == expected",
        "  end",
        "  if not ok then bad = bad + 1 end",
        "end",
        "function done(summary, latency, requests)",
        "  local n = 0",
        "  for _, t in ipairs(threads) do n = n + t:get(\"bad\") end",
        '  io.write(string.format("BAD %d\\n", n))',
        "end",
        "",
    ])


def parse_wrk(out: str) -> CellLoad:
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out)
    if done is None:
        raise ValueError(f"wrk printed no request count:\n{out}")
    bad = re.search(r"^BAD (\d+)$", out, flags=re.M)
    if bad is None:
        raise ValueError(f"wrk's script printed no BAD count:\n{out}")
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(n) for n in sockets.groups()) if sockets else 0
    answered = int(done.group(1))
    return CellLoad(answered=answered + socket_errors, errors=int(bad.group(1)) + socket_errors,
                    seconds=float(done.group(2)) * _UNITS_MS[done.group(3)] / 1000,
                    p50_ms=_latency("50%", out), p99_ms=_latency("99%", out))


def _latency(label: str, text: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$", text, flags=re.M)
    return float(match.group(1)) * _UNITS_MS[match.group(2)] if match else float("nan")


def _wrk(url: str, body: bytes, headers: dict[str, str], concurrency: int, duration_s: float,
         b64_length: int) -> CellLoad:
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "post.lua"
        lua.write_text(wrk_script(body, headers, b64_length))
        out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration_s))}s", "--latency",
                              "--timeout", f"{TIMEOUT_S:.0f}s", "-s", str(lua), url],
                             capture_output=True, text=True, check=True, timeout=duration_s + TIMEOUT_S + 30).stdout
    return parse_wrk(out)


async def _python_closed_loop(url: str, body: bytes, headers: dict[str, str], concurrency: int, duration_s: float,
                              b64_length: int) -> CellLoad:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as session:
        stop_at = time.perf_counter() + duration_s

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                sent = time.perf_counter()
                try:
                    async with session.post(url, data=body) as response:
                        ok = carries_image(response.status, await response.read(), b64_length)
                except (TimeoutError, aiohttp.ClientError):
                    ok = False
                latencies.append((time.perf_counter() - sent) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return CellLoad(answered=len(latencies), errors=errors, seconds=seconds,
                    p50_ms=statistics.median(ordered) if ordered else float("nan"),
                    p99_ms=ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan"))


@dataclass(frozen=True)
class BurstLoad:
    sent: int
    ok: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def success_pct(self) -> float:
        return 100 * self.ok / self.sent if self.sent else 0.0

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def burst(url: str, body: bytes, headers: dict[str, str], count: int, b64_length: int,
          timeout_s: float = 180.0) -> BurstLoad:
    result = asyncio.run(run_burst(url, body, headers, count, timeout_s=timeout_s, accept=accept_for(b64_length)))
    ordered = sorted(result.latencies_ms)
    return BurstLoad(sent=count, ok=result.requests, seconds=result.seconds, p50_ms=result.p50, p99_ms=result.p99,
                     max_ms=ordered[-1] if ordered else float("nan"))
