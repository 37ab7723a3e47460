"""Pure translations between the admin API's JSON (/admin/v1/…) and perf.admin.v1 messages.

As gateway/translate.py does for the public API: requests get type checks and unknown-field checks
only, each failure naming its `param` (whether a value is allowed is the server's call); responses
are built by hand so integers stay integers and absent values are JSON null.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from contract.errors import echo
from gateway.translate import BadRequest, model_json
from perf.admin.v1 import admin_service_pb2 as apb
from perf.images.v1 import image_service_pb2 as pb

INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)
CREATE_FIELDS = frozenset(("mode", "tier", "name", "minute_limit", "day_limit", "monthly_cap_usd", "operator"))
UPDATE_FIELDS = frozenset(("name", "minute_limit", "day_limit", "monthly_cap_usd"))
USAGE_PARAMS = frozenset(("start", "end", "key_id", "mode"))
GENERATION_PARAMS = frozenset(("key_id", "model", "status", "start", "end", "limit", "cursor"))
AUDIT_PARAMS = frozenset(("limit", "cursor"))


def _known(names: Any, allowed: frozenset[str]) -> None:
    for name in names:
        if name not in allowed:
            raise BadRequest(f"Unknown parameter: '{echo(name)}'.", param=echo(name))


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string.", param=name)
    return value


def _integer(value: Any, name: str, bounds: tuple[int, int] = INT64) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be an integer.", param=name)
    if not bounds[0] <= value <= bounds[1]:
        raise BadRequest(f"{name} is out of range.", param=name)
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"{name} must be a number.", param=name)
    return float(value)


def create_key_request(body: dict[str, Any]) -> apb.CreateKeyRequest:
    _known(body, CREATE_FIELDS)
    request = apb.CreateKeyRequest(mode="test", tier="free")  # the safe defaults: free test key
    for name in ("mode", "tier", "name"):
        if body.get(name) is not None:
            setattr(request, name, _string(body[name], name))
    for name in ("minute_limit", "day_limit"):
        if body.get(name) is not None:
            setattr(request, name, _integer(body[name], name))
    if body.get("monthly_cap_usd") is not None:
        request.monthly_cap_usd = _number(body["monthly_cap_usd"], "monthly_cap_usd")
    if body.get("operator") is not None:
        if not isinstance(body["operator"], bool):
            raise BadRequest("operator must be true or false.", param="operator")
        request.operator = body["operator"]
    return request


def update_key_request(key_id: str, body: dict[str, Any]) -> apb.UpdateKeyRequest:
    """Absent fields stay; `null` clears a limit (back to the tier's) or the cap."""
    _known(body, UPDATE_FIELDS)
    request = apb.UpdateKeyRequest(key_id=key_id)
    if "name" in body:
        request.name = "" if body["name"] is None else _string(body["name"], "name")
    for name in ("minute_limit", "day_limit"):
        if name in body:
            if body[name] is None:
                setattr(request, f"clear_{name}", True)
            else:
                setattr(request, name, _integer(body[name], name))
    if "monthly_cap_usd" in body:
        if body["monthly_cap_usd"] is None:
            request.clear_monthly_cap = True
        else:
            request.monthly_cap_usd = _number(body["monthly_cap_usd"], "monthly_cap_usd")
    return request


def usage_request(query: Mapping[str, str]) -> apb.UsageRequest:
    _known(query, USAGE_PARAMS)
    return apb.UsageRequest(**{name: query.get(name, "") for name in USAGE_PARAMS})


def _limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit", "")
    if not raw:
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise BadRequest("limit must be a whole number.", param="limit")
    return _integer(int(raw), "limit", INT32)


def generations_request(query: Mapping[str, str]) -> apb.ListGenerationsRequest:
    _known(query, GENERATION_PARAMS)
    strings = {name: query.get(name, "") for name in GENERATION_PARAMS - {"limit"}}
    return apb.ListGenerationsRequest(limit=_limit(query), **strings)


def audit_request(query: Mapping[str, str]) -> apb.ListAuditEventsRequest:
    _known(query, AUDIT_PARAMS)
    return apb.ListAuditEventsRequest(limit=_limit(query), cursor=query.get("cursor", ""))


def key_json(key: apb.Key) -> dict[str, Any]:
    return {
        "id": key.id, "object": "key", "mode": key.mode, "tier": key.tier, "name": key.name, "hint": key.hint,
        "created": key.created, "revoked": key.revoked or None,
        "minute_limit": key.minute_limit or None, "day_limit": key.day_limit or None,
        "effective_minute_limit": key.effective_minute_limit, "effective_day_limit": key.effective_day_limit,
        "monthly_cap_usd": key.monthly_cap_usd if key.HasField("monthly_cap_usd") else None,
        "operator": key.operator, "month_to_date_usd": key.month_to_date_usd,
        "cap_used_usd": key.cap_used_usd if key.HasField("cap_used_usd") else None,
    }


def key_response(key: apb.Key) -> bytes:
    return orjson.dumps(key_json(key))


def key_with_secret_response(created: apb.KeyWithSecret) -> bytes:
    return orjson.dumps({"key": key_json(created.key), "secret": created.secret})


def keys_response(keys: apb.ListKeysResponse) -> bytes:
    return orjson.dumps({"object": "list", "data": [key_json(k) for k in keys.data]})


def _totals(totals: pb.UsageTotals) -> dict[str, Any]:
    return {"requests": totals.requests, "failed_requests": totals.failed_requests, "images": totals.images,
            "cost_usd": totals.cost_usd, "billed_usd": totals.billed_usd,
            "upstream_cost_usd": totals.upstream_cost_usd, "margin_usd": totals.margin_usd}


def usage_response(usage: apb.Usage) -> bytes:
    return orjson.dumps({
        "object": "admin.usage", "start": usage.start, "end": usage.end, "totals": _totals(usage.totals),
        "days": [{"date": d.date, **_totals(d.totals)} for d in usage.days],
        "models": [{"model": m.model, **_totals(m.totals)} for m in usage.models],
        "providers": [{"provider": p.provider, **_totals(p.totals)} for p in usage.providers],
        "keys": [{"key_id": k.key_id, "name": k.name, "mode": k.mode, **_totals(k.totals)} for k in usage.keys],
        "errors": [{"type": e.type, "requests": e.requests} for e in usage.errors],
        "rate_limited_requests": usage.rate_limited_requests,
        "key_models": [{"key_id": k.key_id, "name": k.name, "mode": k.mode, "model": k.model, **_totals(k.totals)}
                       for k in usage.key_models],
    })


def _generation(g: apb.Generation) -> dict[str, Any]:
    return {
        "id": g.id, "object": "generation", "kind": g.kind, "request_id": g.request_id, "key_id": g.key_id, "key_name": g.key_name,
        "mode": g.mode, "model": g.model, "provider": g.provider or None, "upstream_model": g.upstream_model or None,
        "n_requested": g.n_requested, "n_delivered": g.n_delivered, "size": g.size, "quality": g.quality,
        "cost_usd": g.cost_usd, "billed_usd": g.billed_usd, "upstream_cost_usd": g.upstream_cost_usd,
        "latency_ms": g.latency_ms, "status": g.status, "error_type": g.error_type or None, "user": g.user or None,
        "created": g.created, "prompt": g.prompt, "stored_images": g.stored_images,
        "images": [{"url": i.url, "expires": i.expires} for i in g.images],
    }


def generations_response(page: apb.ListGenerationsResponse) -> bytes:
    return orjson.dumps({"object": "list", "data": [_generation(g) for g in page.data],
                         "next_cursor": page.next_cursor or None})


def catalog_response(catalog: apb.ListCatalogResponse) -> bytes:
    return orjson.dumps({"object": "list", "today": catalog.today, "data": [
        {"model": model_json(entry.model), "warning": entry.warning or None,
         "days_to_shutdown": entry.days_to_shutdown if entry.days_to_shutdown >= 0 else None,
         "deployments": [{"id": d.id, "provider": d.provider, "upstream_model": d.upstream_model, "state": d.state,
                          "deprecated_on": d.deprecated_on or None, "shutdown_on": d.shutdown_on or None,
                          "successor": d.successor or None, "gone_reason": d.gone_reason or None}
                         for d in entry.deployments]}
        for entry in catalog.data]})


def providers_response(providers: apb.ListProvidersResponse) -> bytes:
    return orjson.dumps({"object": "list", "window_seconds": providers.window_seconds, "data": [
        {"id": p.id, "name": p.name, "configured": p.configured, "env_hint": p.env_hint, "models": list(p.models),
         "recent_requests": p.recent_requests, "recent_errors": p.recent_errors,
         "recent_errors_by_type": [{"type": e.type, "requests": e.requests} for e in p.recent_errors_by_type],
         "breaker_state": p.breaker_state}
        for p in providers.data]})


def audit_response(page: apb.ListAuditEventsResponse) -> bytes:
    return orjson.dumps({"object": "list", "next_cursor": page.next_cursor or None, "data": [
        {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target, "address": e.address,
         "detail": orjson.loads(e.detail) if e.detail else None, "request_id": e.request_id}
        for e in page.data]})
