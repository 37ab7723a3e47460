"""Ledger rows for store tests: one billed dall-e-3 image per row, `n` making the ids unique."""
from __future__ import annotations

import dataclasses
from typing import Any

from server.database.records import LedgerEntry


def ledger_entry(n: int, **changes: Any) -> LedgerEntry:
    row = LedgerEntry(id=f"led_{n:024x}", request_id=f"req_img_{n:024d}", key_id="key_s", mode="live",
                      model="dall-e-3", provider="openai", upstream_model="gpt-image-2", n_requested=1,
                      n_delivered=1, size="1024x1024", quality="standard", cost_micros=40_000,
                      billed_micros=40_000, latency_ms=12, status="ok", error_type="", end_user="",
                      created_at=1_796_000_000, day="2026-11-30")
    return dataclasses.replace(row, **changes)
