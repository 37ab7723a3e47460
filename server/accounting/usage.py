"""Summing ledger rows into totals, per day and per model: pure functions over plain records."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from server.database.records import UsageRow
from server.errors import InvalidRequest

DEFAULT_DAYS = 30
MAX_DAYS = 366


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
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else _bad(param)
    except ValueError:
        return _bad(param)


def _bad(param: str) -> dt.date:
    raise InvalidRequest(f"{param} must be a date written YYYY-MM-DD", param=param)


def summarise(rows: list[UsageRow]) -> UsageSummary:
    summary = UsageSummary(Totals(), {}, {}, {})
    for row in rows:
        summary.totals.add(row)
        summary.days.setdefault(row.day, Totals()).add(row)
        summary.models.setdefault(row.model, Totals()).add(row)
        summary.providers.setdefault(row.provider or "-", Totals()).add(row)
    return summary
