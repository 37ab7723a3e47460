"""A circuit breaker per deployment: stop calling an upstream that keeps failing, and find out when it is back.

    closed     every call goes through; each outcome is counted
      │  PERF_BREAKER_FAILURES failures in a row, or at least PERF_BREAKER_MIN_CALLS calls in the last
      │  PERF_BREAKER_WINDOW_SECONDS of which PERF_BREAKER_ERROR_RATE or more failed
      ▼
    open       no call goes through for PERF_BREAKER_COOLDOWN_SECONDS: the router skips the deployment
      │        (next fallback), or answers 503 provider_unavailable with retry_after = the time left
      ▼  the cool-down has passed
    half_open  exactly one call (the probe) goes through; the others are skipped as while open
               probe succeeds → closed (counts reset) · probe fails → open again · probe abandoned
               (the caller hung up, or a refusal that says nothing about the upstream) → the next call probes

What counts: a failure is an upstream failing to deliver (connect failure, 429, 5xx, timeout, a 200
without an image); a success is any answer that shows the upstream working, a moderation refusal
included. Calls admitted before a transition do not count after it (the probe alone decides a
half-open breaker). Each transition is logged once, as a WARNING when it opens and INFO otherwise;
`state()` is what GET /v1/models shows under `deployments`. State is per server process.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("perf.breakers")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
# What a caller is told to wait while another request's probe is deciding.
PROBE_RETRY_AFTER_S = 1.0
Clock = Callable[[], float]


@dataclass(frozen=True)
class BreakerSettings:
    failures: int = 5
    error_rate: float = 0.5
    min_calls: int = 10
    window_s: float = 60.0
    cooldown_s: float = 30.0
    # Tests only: a file whose content (seconds, a float) is the breakers' clock.
    clock_file: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BreakerSettings:
        d = cls()
        settings = cls(
            failures=int(env.get("PERF_BREAKER_FAILURES", str(d.failures))),
            error_rate=float(env.get("PERF_BREAKER_ERROR_RATE", str(d.error_rate))),
            min_calls=int(env.get("PERF_BREAKER_MIN_CALLS", str(d.min_calls))),
            window_s=float(env.get("PERF_BREAKER_WINDOW_SECONDS", str(d.window_s))),
            cooldown_s=float(env.get("PERF_BREAKER_COOLDOWN_SECONDS", str(d.cooldown_s))),
            clock_file=Path(env["PERF_BREAKER_CLOCK_FILE"]) if env.get("PERF_BREAKER_CLOCK_FILE") else None)
        if settings.failures < 1 or settings.min_calls < 1 or not 0 < settings.error_rate <= 1 \
                or settings.window_s <= 0 or settings.cooldown_s < 0:
            raise ValueError("breaker settings: PERF_BREAKER_FAILURES and _MIN_CALLS must be at least 1, "
                             "_ERROR_RATE in (0, 1], _WINDOW_SECONDS above 0, _COOLDOWN_SECONDS not negative")
        return settings

    def clock(self) -> Clock:
        if self.clock_file is None:
            return time.monotonic
        path = self.clock_file
        return lambda: float(path.read_text().strip() or 0)


@dataclass
class Ticket:
    """One admitted call; exactly one of succeeded / failed / abandoned tells the breaker how it went."""

    breaker: Breaker
    epoch: int
    probe: bool
    done: bool = False

    def succeeded(self) -> None:
        self._end(True)

    def failed(self) -> None:
        self._end(False)

    def abandoned(self) -> None:
        if not self.done:
            self.done = True
            if self.probe:
                self.breaker.probe_abandoned(self.epoch)

    def _end(self, ok: bool) -> None:
        if not self.done:
            self.done = True
            self.breaker.outcome(self, ok)


@dataclass
class Breaker:
    name: str
    settings: BreakerSettings
    clock: Clock
    state: str = CLOSED
    epoch: int = 0  # bumped on every transition, so late outcomes of earlier calls are ignored
    consecutive: int = 0
    # The window's outcomes in one-second buckets [second, calls, failures], with running totals, so
    # neither memory nor the work per call grows with the request rate.
    buckets: deque[list[int]] = field(default_factory=deque)
    total: int = 0
    failed: int = 0
    open_until: float = 0.0
    probing: bool = False

    def admit(self) -> Ticket | float:
        """A ticket for one call, or the seconds until the breaker lets one through."""
        now = self.clock()
        if self.state == OPEN:
            if now < self.open_until:
                return self.open_until - now
            self._move(HALF_OPEN, "the cool-down has passed; the next call probes")
        if self.state == HALF_OPEN:
            if self.probing:
                return PROBE_RETRY_AFTER_S
            self.probing = True
            return Ticket(self, self.epoch, probe=True)
        return Ticket(self, self.epoch, probe=False)

    def outcome(self, ticket: Ticket, ok: bool) -> None:
        if ticket.epoch != self.epoch:
            return
        if ticket.probe:
            self.probing = False
            if ok:
                self._move(CLOSED, "the probe succeeded")
            else:
                self._open("the probe failed")
            return
        now = self.clock()
        self.consecutive = 0 if ok else self.consecutive + 1
        second = int(now)
        if not self.buckets or self.buckets[-1][0] != second:
            self.buckets.append([second, 0, 0])
        self.buckets[-1][1] += 1
        self.buckets[-1][2] += not ok
        self.total += 1
        self.failed += not ok
        while self.buckets and self.buckets[0][0] <= now - self.settings.window_s:
            _, calls, failures = self.buckets.popleft()
            self.total -= calls
            self.failed -= failures
        if self.consecutive >= self.settings.failures:
            self._open(f"{self.consecutive} failures in a row")
        elif self.total >= self.settings.min_calls and self.failed / self.total >= self.settings.error_rate:
            self._open(f"{self.failed} of the last {self.total} calls failed")

    def probe_abandoned(self, epoch: int) -> None:
        if epoch == self.epoch:
            self.probing = False

    def view(self) -> tuple[str, float]:
        """(state, seconds until a call may go through) as a caller would meet it now."""
        if self.state == OPEN:
            left = self.open_until - self.clock()
            return (OPEN, left) if left > 0 else (HALF_OPEN, 0.0)
        if self.state == HALF_OPEN and self.probing:
            return HALF_OPEN, PROBE_RETRY_AFTER_S
        return self.state, 0.0

    def _open(self, why: str) -> None:
        self.open_until = self.clock() + self.settings.cooldown_s
        self._move(OPEN, f"{why}; skipped for {self.settings.cooldown_s:g}s")

    def _move(self, state: str, why: str) -> None:
        self.state, self.epoch = state, self.epoch + 1
        self.consecutive, self.probing = 0, False
        self.buckets.clear()
        self.total = self.failed = 0
        log.log(logging.WARNING if state == OPEN else logging.INFO, "circuit breaker %s deployment=%s: %s",
                state, self.name, why)


class Breakers:
    """The breakers of every deployment, made on first use."""

    def __init__(self, settings: BreakerSettings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings or BreakerSettings()
        self._clock = clock or self.settings.clock()
        self._breakers: dict[str, Breaker] = {}

    def for_deployment(self, deployment_id: str) -> Breaker:
        breaker = self._breakers.get(deployment_id)
        if breaker is None:
            breaker = self._breakers[deployment_id] = Breaker(deployment_id, self.settings, self._clock)
        return breaker

    def admit(self, deployment_id: str) -> Ticket | float:
        return self.for_deployment(deployment_id).admit()

    def view(self, deployment_id: str) -> tuple[str, float]:
        breaker = self._breakers.get(deployment_id)
        return breaker.view() if breaker is not None else (CLOSED, 0.0)
