"""The admin token: checking it in constant time, naming it in the audit log, and refusing guessers.

    AdminGate.check(authorization, address)
        no token configured             → NotFound (the admin API does not exist here)
        address over its failure limit  → RateLimitExceeded with retry_after (even with the right token:
                                           a guess made while locked out must learn nothing)
        token wrong, missing, or a key  → AuthenticationFailed, and one failure counted for the address
        otherwise                       → AdminCaller(fingerprint, address)

The comparison is between SHA-256 digests, so it takes the same time whatever the offered value's
length. The fingerprint (an HMAC of the token under the instance's key pepper) tells apart two
tokens in the audit log without letting anyone who reads the log check a guess offline.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from contract.admin import CLIENT_ADDRESS_METADATA
from server.errors import AuthenticationFailed, NotFound, RateLimitExceeded

log = logging.getLogger("perf.admin")

ADMIN_PREFIX = "/perf.admin.v1.AdminService/"
# The client address the gateway saw; a direct gRPC caller's own peer address stands in when absent.
ADDRESS_METADATA = CLIENT_ADDRESS_METADATA
MIN_TOKEN_CHARS = 16
REFUSAL = "Invalid or missing admin token. Send 'Authorization: Bearer <PERF_ADMIN_TOKEN>'."


@dataclass(frozen=True)
class AdminCaller:
    actor: str  # the token's fingerprint
    address: str


ADMIN_CALLER = ContextVar["AdminCaller | None"]("admin_caller", default=None)


def current_admin() -> AdminCaller:
    caller = ADMIN_CALLER.get()
    if caller is None:  # the call wrapper's admin guard guarantees this for every AdminService method
        raise RuntimeError("no admin caller in this context")
    return caller


class AdminToken:
    def __init__(self, token: str, pepper: bytes) -> None:
        if len(token) < MIN_TOKEN_CHARS or not token.isascii() or not token.isprintable() or " " in token:
            raise ValueError(f"PERF_ADMIN_TOKEN must be at least {MIN_TOKEN_CHARS} printable ASCII characters "
                             "without spaces (e.g. `openssl rand -hex 32`)")
        if token.startswith("pk_"):
            # An admin token shaped like an API key could be mistaken for one, in logs and by people.
            raise ValueError("PERF_ADMIN_TOKEN must not look like an API key (pk_…)")
        self._digest = hashlib.sha256(token.encode()).digest()
        self.fingerprint = "adm_" + hmac.new(pepper, b"perf admin token\n" + token.encode(),
                                             hashlib.sha256).hexdigest()[:16]

    def matches(self, offered: str | None) -> bool:
        candidate = hashlib.sha256((offered or "").encode("utf-8", "surrogatepass")).digest()
        return hmac.compare_digest(self._digest, candidate) and offered is not None


class FailureLimiter:
    """At most `limit` failed sign-ins per address in any rolling `window_s`.

    Memory is bounded: `limit` timestamps per address and `max_addresses` addresses, the one that
    failed least recently forgotten first. Per process: with several server replicas each has its own.
    """

    def __init__(self, limit: int = 10, window_s: float = 60.0, max_addresses: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window_s = window_s
        self._max_addresses = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> float | None:
        """Seconds until `address` may try again, or None when it may now."""
        failures = self._failures.get(address)
        if failures is None:
            return None
        now = self._clock()
        while failures and failures[0] <= now - self._window_s:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        if len(failures) < self._limit:
            return None
        return failures[0] + self._window_s - now

    def failed(self, address: str) -> None:
        failures = self._failures.get(address)
        if failures is None:
            failures = self._failures[address] = deque(maxlen=self._limit)
            while len(self._failures) > self._max_addresses:
                self._failures.popitem(last=False)
        self._failures.move_to_end(address)
        failures.append(self._clock())


class AdminGate:
    def __init__(self, token: AdminToken | None, failures: FailureLimiter) -> None:
        self._token = token
        self._failures = failures

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def check(self, authorization: str | None, address: str) -> AdminCaller:
        if self._token is None:
            raise NotFound("Not found.")
        wait = self._failures.retry_after(address)
        if wait is not None:
            raise RateLimitExceeded("Too many failed admin sign-ins from this address; wait before trying again.",
                                    retry_after=wait)
        if not self._token.matches(bearer(authorization)):
            self._failures.failed(address)
            log.warning("admin authentication failed address=%s", address)
            raise AuthenticationFailed(REFUSAL)
        return AdminCaller(self._token.fingerprint, address)


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def peer_host(peer: str) -> str:
    """'ipv4:10.0.0.1:5123' → '10.0.0.1', 'ipv6:[::1]:5123' → '::1': the port changes per connection."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1:].partition("]")[0]
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    return peer
