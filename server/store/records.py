"""Rows as plain records."""
from __future__ import annotations

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

    @property
    def is_test(self) -> bool:
        return self.mode == "test"
