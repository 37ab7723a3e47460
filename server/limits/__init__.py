"""Exact per-subject image rate limits over a rolling minute and a rolling day.

Two backends share one interface (:class:`ImageLimiter`): :class:`InProcessLimiter` for a single
server and :class:`RedisLimiter` for replicas. Both count each window in 144 time buckets
(``buckets.py``: 1 s for the minute, 10 min for the day), each counted as if its images came at
its end, so memory per subject is bounded by the bucket count whatever the request rate, a window
never admits more than its limit, and retry-after is never earlier than the truth. The day is a
rolling 24 h rather than a UTC day, so there is no midnight burst. See ``base.py`` for the
semantics and ``redis.py`` for the Redis key layout.
"""

from __future__ import annotations

from server.limits.base import (
    DEFAULT_LEASE_S,
    Admitted,
    ImageLimiter,
    Refused,
    WindowLimit,
    WindowState,
)
from server.limits.memory import InProcessLimiter

__all__ = [
    "Admitted",
    "DEFAULT_LEASE_S",
    "ImageLimiter",
    "InProcessLimiter",
    "Refused",
    "WindowLimit",
    "WindowState",
    "make_limiter",
]


def make_limiter(
    redis_url: str | None, key_prefix: str = "perf:rl:", *, lease_s: float = DEFAULT_LEASE_S
) -> ImageLimiter:
    """Redis-backed limiter when a URL is configured (replicas), else the in-process one."""
    if redis_url:
        # imported here so a single-server deployment never needs the redis package loaded
        from server.limits.redis import RedisLimiter

        return RedisLimiter(redis_url, key_prefix, lease_s=lease_s)
    return InProcessLimiter(lease_s=lease_s)
