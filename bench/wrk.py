"""Load from wrk (a C client) when it is installed: it spends far less CPU per request than a Python
client, which on a 2-core machine otherwise competes with the processes being measured.
`apt-get install wrk`; without it the benchmarks fall back to bench/load.py and say so."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50: float
    p99: float
    errors: int


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(url: str, body: bytes, headers: dict[str, str], concurrency: int, duration_s: float) -> WrkResult:
    script = "\n".join([
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(body.decode())}",
        *(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()),
    ])
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "post.lua"
        lua.write_text(script)
        # One thread: the client stays on at most one core, as the Python client would.
        out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration_s))}s", "--latency",
                              "-s", str(lua), url], capture_output=True, text=True, check=True).stdout
    return WrkResult(rps=_number(r"Requests/sec:\s+([\d.]+)", out), p50=_latency("50%", out),
                     p99=_latency("99%", out), errors=int(_number(r"Non-2xx or 3xx responses:\s+(\d+)", out, 0)
                                                         + _number(r"timeout (\d+)", out, 0)))


def _number(pattern: str, text: str, default: float | None = None) -> float:
    match = re.search(pattern, text)
    if match is None:
        if default is None:
            raise ValueError(f"wrk printed no {pattern!r}:\n{text}")
        return default
    return float(match.group(1))


def _latency(label: str, text: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$", text, flags=re.M)
    return float(match.group(1)) * _UNITS_MS[match.group(2)] if match else float("nan")
