"""Idempotency-Key for generations: a retried request is answered once, never generated (or billed) twice.

Scope is (API key, Idempotency-Key). Before any work the request claims its key in the store with a
lease; on success the response is stored and later retries get it back byte for byte (its image
URLs keep their original expiry); on failure the claim is dropped, since nothing was billed, so a
retry runs again. Reusing a key with other parameters, or while the first request is still running,
is 409 conflict. Keys are kept for 24 hours. A claim whose lease ran out without completing (its
replica died) may be taken over by a retry.

The lease ends when the claiming request must have finished: its deadline plus a margin, at most
the reservation lease. A retry that collides with a running request is told to come back when that
request should be done (its model's recent latency less the time it has run), never later than the
lease's end.
"""
from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass

from perf.images.v1 import image_service_pb2 as pb
from server.database import Store
from server.database.records import ApiKey, IdempotencyRecord
from server.errors import Conflict, InvalidRequest
from server.pipeline.requests import ImageRequest
from server.runtime.outages import backend

RETENTION_S = 24 * 60 * 60
# A claim outlives its request's deadline by this much: time to store the response after the deadline.
LEASE_MARGIN_S = 5.0
# RFC 8941 sf-string (the IETF draft's form) arrives quoted; a bare token is accepted too.
_KEY = re.compile(r'"?([A-Za-z0-9_\-.:]{8,255})"?')


@dataclass(frozen=True)
class Claim:
    key_id: str
    idem_key: str
    request_id: str


def parse_key(raw: str) -> str:
    match = _KEY.fullmatch(raw.strip())
    if match is None:
        raise InvalidRequest("Idempotency-Key must be 8 to 255 characters of A-Z a-z 0-9 _ - . :",
                             param="Idempotency-Key")
    return match.group(1)


def fingerprint(valid: ImageRequest) -> str:
    """What a retry must repeat exactly: every parameter after defaults were applied."""
    max_cost = valid.max_cost_per_call
    parts = (valid.model.id, valid.prompt, str(valid.n), valid.requested_size, valid.quality, valid.style or "",
             valid.response_format, valid.user, "" if max_cost is None else repr(max_cost))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class Idempotency:
    def __init__(self, store: Store, lease_s: float) -> None:
        self._store = store
        self._lease_s = lease_s

    async def begin(self, key: ApiKey, idem_key: str, print_: str, request_id: str,
                    time_remaining: float | None = None, expected_s: float | None = None) -> Claim | bytes:
        """A claim to proceed under, or the stored response to replay.

        `time_remaining` is this request's deadline; `expected_s` how long such a request takes."""
        now = int(time.time())
        lease_s = self._lease_s if time_remaining is None else min(self._lease_s, time_remaining + LEASE_MARGIN_S)
        record = IdempotencyRecord(key_id=key.id, idem_key=idem_key, fingerprint=print_, state="started",
                                   request_id=request_id, response=None, created_at=now,
                                   lease_until=now + math.ceil(lease_s))
        with backend("database"):
            if await self._store.claim_idempotency(record, now):
                return Claim(key.id, idem_key, request_id)
            existing = await self._store.get_idempotency(key.id, idem_key)
        if existing is None:  # released between our claim and our read: the caller may simply retry
            raise Conflict("A request with this Idempotency-Key just finished without a result; retry it.",
                           retry_after=1)
        if existing.fingerprint != print_:
            raise Conflict("This Idempotency-Key was already used with different parameters.",
                           param="Idempotency-Key")
        if existing.state == "done" and existing.response is not None:
            return existing.response
        raise Conflict("A request with this Idempotency-Key is still in progress.",
                       retry_after=_time_left(existing, now, expected_s))

    async def complete(self, claim: Claim, response: pb.GenerateImagesResponse) -> None:
        await self._store.complete_idempotency(claim.key_id, claim.idem_key, claim.request_id,
                                               response.SerializeToString())

    async def release(self, claim: Claim) -> None:
        await self._store.release_idempotency(claim.key_id, claim.idem_key, claim.request_id)

    async def purge(self, now: float) -> int:
        return await self._store.purge_idempotency(int(now - RETENTION_S))


def _time_left(running: IdempotencyRecord, now: int, expected_s: float | None) -> float:
    """Seconds until the running request should be done: never past its lease, at least one."""
    lease_left = max(1, running.lease_until - now)
    if expected_s is None:
        return lease_left
    return max(1.0, min(float(lease_left), expected_s - (now - running.created_at)))
