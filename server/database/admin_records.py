"""Rows the admin API reads and writes (server/admin/), as plain records."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GenerationQuery:
    """Which ledger rows to list, newest first; `before` is the (created_at, id) the last page ended on."""
    start_day: str
    end_day: str
    limit: int
    key_id: str = ""
    model: str = ""
    status: str = ""
    before: tuple[int, str] | None = None


@dataclass(frozen=True)
class GenerationRow:
    id: str
    request_id: str
    key_id: str
    key_name: str
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
    upstream_cost_micros: int
    latency_ms: int
    status: str
    error_type: str
    end_user: str
    created_at: int
    prompt: str
    images: str  # JSON list of "img_….png", '' when none
    kind: str = "generation"


@dataclass(frozen=True)
class ErrorCount:
    error_type: str
    requests: int


@dataclass(frozen=True)
class ProviderActivity:
    """Live-key requests that reached one provider, by error type ('' for those that did not fail)."""
    provider: str
    error_type: str
    requests: int


@dataclass(frozen=True)
class AuditEvent:
    id: str
    at: int
    actor: str
    action: str
    target: str
    address: str
    detail: str
    request_id: str
