"""Which asyncio event loop both processes run on: uvloop (libuv, MagicStack) unless told otherwise.

Measured on the live path (wrk, 16 connections, 10 KB image, gateway + server on 2 cores): uvloop
cuts CPU per request by about a quarter in the gateway and a sixth in the server, because aiohttp's
transports and the loop's own scheduling then run in C. grpc.aio runs on any asyncio loop, and aiohttp
lists uvloop among its approved third-party libraries. PERF_EVENT_LOOP=asyncio keeps the standard
library loop (for debugging with asyncio's debug mode, or a platform without uvloop wheels); with
uvloop missing, the standard loop is used and that is logged once.
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine, Mapping
from typing import Any

log = logging.getLogger("perf.event_loop")
CHOICES = ("uvloop", "asyncio")


def choice(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    chosen = env.get("PERF_EVENT_LOOP", "uvloop").strip().lower() or "uvloop"
    if chosen not in CHOICES:
        raise SystemExit(f"PERF_EVENT_LOOP must be one of {', '.join(CHOICES)} (got {chosen!r})")
    return chosen


def run(main: Coroutine[Any, Any, None], env: Mapping[str, str] | None = None) -> None:
    """asyncio.run(main) on the chosen loop."""
    if choice(env) == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("PERF_EVENT_LOOP=uvloop but uvloop is not installed: using asyncio's own loop")
        else:
            uvloop.run(main)
            return
    asyncio.run(main)
