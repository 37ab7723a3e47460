"""Redis image limiter: exact across any number of server replicas, in bounded memory.

Every decision is one Lua script run atomically inside Redis (``reserve.lua`` for
check-and-reserve across all windows, ``finish.lua`` for settle/release), so two replicas can
never both take the last image, and one request costs one round trip. The scripts read the
time with ``TIME`` inside Redis: a replica with a skewed clock can neither let more through nor
lock other replicas out (reliability.md §3.2, measured with ``limits``' client-side timestamps).

The windows are bucketed exactly as in the in-process backend (``buckets.py``: 144 buckets per
window, counted at their end), so per subject Redis holds at most 61 + 145 bucket fields plus one
entry per pending reservation, whatever the request rate. Key layout per subject, all under one
hash tag so Redis Cluster keeps them in one slot (see ``common.lua`` for the fields):

    <prefix>{<subject>}:bkt      HASH  "<window>:<bucket>" -> images
    <prefix>{<subject>}:meta     HASH  per window: length, bucket range, running total; "#hwm"
    <prefix>{<subject>}:pending  HASH  rid -> "<reservation time µs>:<n>" for pending reservations
    <prefix>{<subject>}:leases   ZSET  rid scored by lease deadline (µs)

(The names differ from the earlier sliding log's ``:log``/``:win``/``:pend``/``:lease``, so
keys left by that version are never misread; they expire within a day.) Every reserve re-arms
PEXPIRE to max(longest window + its bucket width, lease) + 1 s, so idle subjects vanish.
Errors (Redis down) propagate: whether to fail open or closed is the caller's policy.

Settlements and releases that arrive while one is in flight go together as one pipeline of
EVALSHAs (contract/group_writer.py): at 16 requests at a time, redis-py's per-command work
(pool, retry, argument handling) was half of what the limiter cost this process. finish.lua is
idempotent, so a pipeline that fails (NOSCRIPT after a Redis restart, say) is redone one by one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from pathlib import Path

import redis.asyncio as aioredis

from contract.group_writer import GroupWriter
from server.limits.base import (
    DEFAULT_LEASE_S,
    Admitted,
    Refused,
    WindowLimit,
    WindowState,
    validate,
)

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
_COMMON = (_HERE / "common.lua").read_text()
RESERVE_LUA = _COMMON + (_HERE / "reserve.lua").read_text()
FINISH_LUA = _COMMON + (_HERE / "finish.lua").read_text()


# (subject, reservation id, "settle" | "release")
_Finish = tuple[str, str, str]


def _report(finish: _Finish, done: int) -> None:
    """finish.lua's answer: 1 done, 0 not pending, -1 settled after its lease (released instead)."""
    _, reservation_id, mode = finish
    if mode != "settle":
        return
    if done == 0:
        log.warning("settle of unknown, settled or released reservation %s", reservation_id)
    elif done < 0:
        log.warning("settle after lease expiry of reservation %s: not counted", reservation_id)


class RedisLimiter:
    """Bucketed sliding-window limiter whose state and clock live in Redis; see the module docstring."""

    def __init__(
        self,
        url: str,
        key_prefix: str = "perf:rl:",
        *,
        lease_s: float = DEFAULT_LEASE_S,
        max_connections: int = 64,
        socket_timeout_s: float = 2.0,
    ) -> None:
        """Create the pool lazily (no I/O here); ``lease_s`` may be fractional."""
        self._prefix = key_prefix
        self._lease_us = int(lease_s * 1_000_000)
        # A blocking pool: a burst beyond max_connections waits for a free connection (up to
        # the socket timeout) instead of failing with "too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=socket_timeout_s,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
            decode_responses=True,
        )
        self._redis = aioredis.Redis.from_pool(pool)  # the client owns and closes the pool
        # register_script sends EVALSHA and falls back to SCRIPT LOAD on NOSCRIPT
        self._reserve = self._redis.register_script(RESERVE_LUA)
        self._finish = self._redis.register_script(FINISH_LUA)
        self._finishes = GroupWriter(self._finish_one, self._finish_many)

    def keys(self, subject: str) -> list[str]:
        """The four keys of one subject, in the order the scripts expect them."""
        base = f"{self._prefix}{{{subject}}}:"
        return [base + "bkt", base + "meta", base + "pending", base + "leases"]

    async def reserve(self, subject: str, n: int, limits: Sequence[WindowLimit]) -> Admitted | Refused:
        """Admit n images in every window or refuse without counting anything (one round trip)."""
        validate(n, limits)
        rid = uuid.uuid4().hex  # unique member: two reservations in one µs must not collapse
        reply = await self._run_reserve(subject, rid, n, limits)
        status, label, retry, states = reply
        if status == 1:
            return Admitted(label, states)
        return Refused(retry, label, states)

    async def settle(self, subject: str, reservation_id: str) -> None:
        """Keep the reservation counted until it ages out; warn if it was no longer pending."""
        await self._finishes.write((subject, reservation_id, "settle"))

    async def release(self, subject: str, reservation_id: str) -> None:
        """Give a pending reservation's images back in every window; otherwise do nothing."""
        await self._finishes.write((subject, reservation_id, "release"))

    async def _finish_one(self, finish: _Finish) -> None:
        subject, reservation_id, mode = finish
        _report(finish, int(await self._finish(keys=self.keys(subject), args=[mode, reservation_id])))

    async def _finish_many(self, finishes: Sequence[_Finish]) -> None:
        """One round trip: plain EVALSHAs in a pipeline (no MULTI: each script is atomic on its own)."""
        pipe = self._redis.pipeline(transaction=False)
        for subject, reservation_id, mode in finishes:
            pipe.evalsha(self._finish.sha, 4, *self.keys(subject), mode, reservation_id)
        for finish, done in zip(finishes, await pipe.execute(), strict=True):
            _report(finish, int(done))

    async def peek(self, subject: str, limits: Sequence[WindowLimit]) -> tuple[WindowState, ...]:
        """The current state of each window of ``limits`` (ages entries, reserves nothing)."""
        validate(1, limits)
        return (await self._run_reserve(subject, "", 0, limits))[3]

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    async def _run_reserve(
        self, subject: str, rid: str, n: int, limits: Sequence[WindowLimit]
    ) -> tuple[int, str, int, tuple[WindowState, ...]]:
        """Run reserve.lua and decode its flat reply."""
        args: list[str | int] = [rid, n, self._lease_us]
        for lim in limits:
            args += [lim.name, lim.limit, lim.window_s]
        reply = await self._reserve(keys=self.keys(subject), args=args)
        status, label, retry = int(reply[0]), str(reply[1]), int(reply[2])
        flat = reply[3:]
        states = tuple(
            WindowState(str(flat[i]), int(flat[i + 1]), int(flat[i + 2]), int(flat[i + 3]))
            for i in range(0, len(flat), 4)
        )
        return status, label, retry, states
