"""Cyclic garbage collector settings for the server and the gateway, applied once start-up is done.

- `gc.freeze()`: what start-up made (grpc, aiohttp, protobuf descriptors, prometheus metrics, the
  logging setup) lives as long as the process; frozen, no later collection walks it again.
- gen0 threshold 700 → 20,000 allocations: a request allocates thousands of short-lived containers, so
  at 700 a young collection ran every few requests and walked every object of the requests in flight;
  at 20,000 most of them are freed by reference counting before any collection sees them. Cyclic
  garbage (a traceback's frames, say) waits a few requests longer: 20,000 container allocations, not a
  number of bytes.
Measured at 16 connections (`perf record` of the server, scratch): collector functions about 1.5 % of its
samples with neither, 0.74 % frozen, 0.11 % frozen with this threshold. Older generations keep
CPython's defaults.
"""
from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def tune() -> None:
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
