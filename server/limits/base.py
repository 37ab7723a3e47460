"""Shared vocabulary of the image rate limiter: limits, window states, outcomes and the interface.

Images (not requests) are counted: a request for n images costs n. Each subject (an API key) is
limited over several rolling windows at once, normally a 60 s "minute" and an 86,400 s "day".
The day is a rolling 24 hours, not a UTC calendar day: a calendar day would free every key's quota
at 00:00 UTC at once (a thundering herd, reliability.md §3.4) and lets a client spend two days'
worth within minutes around midnight.

Each window counts images per time bucket (``buckets.py``): a bucket counts in a window while
``now < bucket end + window_s``, i.e. as if all its images had come at the bucket's end. Admission
is therefore conservative by less than one bucket width (never more than the limit within any
rolling window), and the retry-after for the requested n is the time until enough of the oldest
buckets have stopped counting: never earlier than the truth, so a client that waits exactly that
long is admitted unless something else arrived meanwhile.

Lifecycle of a reservation: ``reserve`` (pending) → ``settle`` (delivered: stays counted until it
ages out) or ``release`` (nothing delivered: removed from every window). A pending reservation
neither settled nor released within the lease is released automatically, so a crashed replica
cannot pin capacity forever. Retry-after and reset assume pending reservations will be settled
(the normal outcome); a later release or lease expiry can only free capacity earlier.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

DEFAULT_LEASE_S = 600.0


@dataclass(frozen=True)
class WindowLimit:
    """One limit: at most ``limit`` images within any rolling ``window_s`` seconds."""

    name: str
    limit: int
    window_s: int


@dataclass(frozen=True)
class WindowState:
    """A window as seen now; ``reset_s`` is the whole seconds until everything now counted has aged out."""

    name: str
    limit: int
    remaining: int
    reset_s: int


@dataclass(frozen=True)
class Admitted:
    """The n images were reserved in every window; settle or release ``reservation_id`` later."""

    reservation_id: str
    windows: tuple[WindowState, ...]


@dataclass(frozen=True)
class Refused:
    """Nothing was counted. ``retry_after_s`` is when this n fits in every refusing window."""

    retry_after_s: int
    window: str
    windows: tuple[WindowState, ...]


@runtime_checkable
class ImageLimiter(Protocol):
    """Reserve images atomically across all windows of a subject; settle or release them later."""

    async def reserve(self, subject: str, n: int, limits: Sequence[WindowLimit]) -> Admitted | Refused:
        """Admit n images in every window or in none (refusals are not counted)."""
        ...

    async def settle(self, subject: str, reservation_id: str) -> None:
        """The images were delivered: the reservation stays counted until it ages out."""
        ...

    async def release(self, subject: str, reservation_id: str) -> None:
        """Nothing was delivered: give the n images back (idempotent; no-op after settle)."""
        ...

    async def peek(self, subject: str, limits: Sequence[WindowLimit]) -> tuple[WindowState, ...]:
        """The current state of each window, without reserving anything."""
        ...

    async def close(self) -> None:
        """Free connections; the limiter must not be used afterwards."""
        ...


def validate(n: int, limits: Sequence[WindowLimit]) -> None:
    """Reject malformed arguments (programming errors, not rate-limit outcomes) with ValueError."""
    # bool is an int subclass; True images is a bug, not a request for one image
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    seen: set[str] = set()
    for lim in limits:
        if not lim.name or lim.name in seen:
            raise ValueError(f"window names must be unique and non-empty: {lim.name!r}")
        seen.add(lim.name)
        if not isinstance(lim.limit, int) or lim.limit < 0:
            raise ValueError(f"limit must be a non-negative int: {lim!r}")
        if not isinstance(lim.window_s, int) or lim.window_s < 1:
            raise ValueError(f"window_s must be a positive int: {lim!r}")


def ceil_s(seconds: float) -> int:
    """Whole seconds, rounded up (RFC 9110 delay-seconds), never negative."""
    return max(0, math.ceil(seconds))
