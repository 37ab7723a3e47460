"""Summing ledger rows into totals, per day and per model: pure functions over plain records."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from server.database.records import UsageRow
from server.errors import InvalidRequest

DEFAULT_DAYS = 30
MAX_DAYS = 366
# ASCII digits only: `\d` and int() also take Unicode digits, and date.fromisoformat() takes other
# ISO spellings (2026-W01-1); the contract is YYYY-MM-DD and nothing else.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Nothing was recorded before the epoch; the floor also keeps "end minus 30 days" inside date's range.
EARLIEST = dt.date(1970, 1, 1)


@dataclass
class Totals:
    requests: int = 0
    failed_requests: int = 0
    images: int = 0
    cost_micros: int = 0
    billed_micros: int = 0
    upstream_cost_micros: int = 0

    def add(self, row: UsageRow) -> None:
        self.requests += row.requests
        self.failed_requests += row.failed_requests
        self.images += row.images
        self.cost_micros += row.cost_micros
        self.billed_micros += row.billed_micros
        self.upstream_cost_micros += row.upstream_cost_micros

    @property
    def margin_micros(self) -> int:
        return self.billed_micros - self.upstream_cost_micros


@dataclass
class UsageSummary:
    totals: Totals
    days: dict[str, Totals]
    models: dict[str, Totals]
    providers: dict[str, Totals]


def date_range(start: str, end: str, today: dt.date) -> tuple[str, str]:
    """Validated inclusive (start, end) as YYYY-MM-DD; empty values mean the last 30 days."""
    end_day = _parse(end, "end") if end else today
    start_day = _parse(start, "start") if start else end_day - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start_day > end_day:
        raise InvalidRequest("start must not be after end", param="start")
    if (end_day - start_day).days >= MAX_DAYS:
        raise InvalidRequest(f"a usage range covers at most {MAX_DAYS} days", param="start")
    return start_day.isoformat(), end_day.isoformat()


def _parse(value: str, param: str) -> dt.date:
    if not _DATE.fullmatch(value):
        raise InvalidRequest(f"{param} must be a date written YYYY-MM-DD", param=param)
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{param} must be a date written YYYY-MM-DD", param=param) from None
    if day < EARLIEST:
        raise InvalidRequest(f"{param} must not be before {EARLIEST.isoformat()}", param=param)
    return day


def summarise(rows: list[UsageRow]) -> UsageSummary:
    summary = UsageSummary(Totals(), {}, {}, {})
    for row in rows:
        summary.totals.add(row)
        summary.days.setdefault(row.day, Totals()).add(row)
        summary.models.setdefault(row.model, Totals()).add(row)
        summary.providers.setdefault(row.provider or "-", Totals()).add(row)
    return summary
