"""Usage across keys: the ledger's totals by day, model, provider and key (server/accounting/usage.py
sums them, as for /v1/usage), plus failed requests by error type and the limiter's refusals."""
from __future__ import annotations

import datetime as dt

from perf.admin.v1 import admin_service_pb2 as apb
from perf.images.v1 import image_service_pb2 as pb
from server.accounting.usage import Totals, date_range, summarise
from server.database import Store
from server.errors import InvalidRequest
from server.runtime.outages import backend

MICROS = 1_000_000
RATE_LIMITED = "rate_limit_exceeded"


def usage_totals(totals: Totals) -> pb.UsageTotals:
    """As /v1/usage shows an operator key's totals: upstream cost and margin always included."""
    return pb.UsageTotals(requests=totals.requests, failed_requests=totals.failed_requests, images=totals.images,
                          cost_usd=totals.cost_micros / MICROS, billed_usd=totals.billed_micros / MICROS,
                          upstream_cost_usd=totals.upstream_cost_micros / MICROS,
                          margin_usd=totals.margin_micros / MICROS)


async def usage_report(store: Store, request: apb.UsageRequest, today: dt.date) -> apb.Usage:
    start, end = date_range(request.start, request.end, today)
    if request.mode not in ("", "live", "test"):
        raise InvalidRequest("mode must be live or test", param="mode")
    with backend("database"):
        rows = [row for row in await store.usage(start, end, request.key_id or None)
                if not request.mode or row.mode == request.mode]
        errors = await store.error_counts(start, end, request.key_id, request.mode)
        names = {key.id: key.name for key in await store.list_keys()}
    summary = summarise(rows)
    per_key: dict[tuple[str, str], Totals] = {}
    per_key_model: dict[tuple[str, str, str], Totals] = {}
    for row in rows:
        per_key.setdefault((row.key_id, row.mode), Totals()).add(row)
        per_key_model.setdefault((row.key_id, row.mode, row.model), Totals()).add(row)
    return apb.Usage(
        start=start, end=end, totals=usage_totals(summary.totals),
        days=[pb.DailyUsage(date=d, totals=usage_totals(t)) for d, t in sorted(summary.days.items())],
        models=[pb.ModelUsage(model=m, totals=usage_totals(t))
                for m, t in sorted(summary.models.items(), key=lambda item: (-item[1].requests, item[0]))],
        providers=[pb.ProviderUsage(provider=p, totals=usage_totals(t)) for p, t in sorted(summary.providers.items())],
        keys=[apb.KeyUsage(key_id=k, name=names.get(k, ""), mode=m, totals=usage_totals(t))
              for (k, m), t in sorted(per_key.items(), key=lambda item: (-item[1].billed_micros, item[0]))],
        errors=[apb.ErrorCount(type=e.error_type, requests=e.requests) for e in errors],
        rate_limited_requests=sum(e.requests for e in errors if e.error_type == RATE_LIMITED),
        key_models=[apb.KeyModelUsage(key_id=k, name=names.get(k, ""), mode=m, model=model, totals=usage_totals(t))
                    for (k, m, model), t in sorted(per_key_model.items())])
