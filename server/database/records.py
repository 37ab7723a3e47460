"""Rows as plain records."""
from __future__ import annotations

import logging
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiKey:
    id: str
    mode: str
    tier: str
    name: str
    hint: str
    created_at: int
    revoked_at: int | None
    # None: the tier's numbers apply.
    minute_limit: int | None = None
    day_limit: int | None = None
    monthly_cap_micros: int | None = None
    # The operator's own key: /v1/usage also shows upstream costs and margins.
    operator: bool = False

    @property
    def is_test(self) -> bool:
        return self.mode == "test"


@dataclass(frozen=True)
class LedgerEntry:
    id: str
    request_id: str
    key_id: str
    mode: str
    model: str
    provider: str
    upstream_model: str
    n_requested: int
    n_delivered: int
    size: str
    quality: str
    cost_micros: int
    billed_micros: int
    latency_ms: int
    status: str
    error_type: str
    end_user: str
    created_at: int
    day: str
    deployment: str = ""
    upstream_cost_micros: int = 0  # what the upstream charged us (its figure, else its list price)
    kind: str = "generation"  # generation | edit | variation
    # For the operator's gallery: the prompt, and the stored images as a JSON list of "img_….png".
    prompt: str = ""
    images: str = ""


@dataclass(frozen=True)
class UsageRow:
    """Ledger totals for one (key, mode, day, model)."""
    key_id: str
    mode: str
    day: str
    model: str
    requests: int
    failed_requests: int
    images: int
    cost_micros: int
    billed_micros: int
    provider: str = ""
    upstream_cost_micros: int = 0


@dataclass(frozen=True)
class SpendHold:
    """Money reserved for one request until it settles, is released, or its lease runs out."""
    id: str
    key_id: str
    month: str
    micros: int
    expires_at: int

    def warn_expired(self) -> None:
        """Its settle found it gone: the sweeper had moved it to spent when its lease ran out, so the cap
        counted the whole hold, not what was spent (logged by whichever path settled it)."""
        logging.getLogger("perf.accounting").warning("spend hold %s for key=%s had expired before it settled",
                                                     self.id, self.key_id)


# A hold and what its request spent of it: settled by the ledger row's write (Store.record) or alone.
Settlement = tuple[SpendHold, int]


@dataclass(frozen=True)
class IdempotencyRecord:
    key_id: str
    idem_key: str
    fingerprint: str
    state: str
    request_id: str
    response: bytes | None
    created_at: int
    lease_until: int


@dataclass(frozen=True)
class AdmittedImages:
    """Images the limiter admitted and kept for one key, reserved no later than ``until`` (unix s)."""
    key_id: str
    until: int
    images: int
