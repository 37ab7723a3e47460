"""Key administration over the API: create, list, show, update, rotate, revoke (server/keys/issue.py does the work).

Every mutation is audited after it succeeded; secrets appear only in the one response that made them.
"""
from __future__ import annotations

import datetime as dt
import math
import time
import unicodedata
from typing import Any

from contract.errors import echo
from perf.admin.v1 import admin_service_pb2 as apb
from server.accounting.holds import month_of
from server.accounting.tiers import Tier, load_tiers
from server.admin.audit import AuditLog
from server.database import Store
from server.database.records import ApiKey, UsageRow
from server.errors import InvalidRequest, NotFound
from server.keys.issue import create_key, revoke_key, rotate_key
from server.keys.tokens import MODES
from server.runtime.outages import backend

MICROS = 1_000_000
MAX_NAME_CHARS = 200
MAX_LIMIT = 10_000_000
MAX_CAP_USD = 1_000_000_000.0


class KeyAdmin:
    def __init__(self, store: Store, pepper: bytes, audit: AuditLog) -> None:
        self._store = store
        self._pepper = pepper
        self._audit = audit
        self._tiers: dict[str, Tier] = load_tiers()

    async def create(self, request: apb.CreateKeyRequest) -> apb.KeyWithSecret:
        if request.mode not in MODES:
            raise InvalidRequest(f"mode must be one of {', '.join(MODES)}", param="mode")
        if request.tier not in self._tiers:
            raise InvalidRequest(f"tier must be one of {', '.join(self._tiers)}", param="tier")
        minute = _limit(request.minute_limit, "minute_limit") if request.HasField("minute_limit") else None
        day = _limit(request.day_limit, "day_limit") if request.HasField("day_limit") else None
        cap = _cap(request.monthly_cap_usd) if request.HasField("monthly_cap_usd") else None
        with backend("database"):
            secret, record = await create_key(self._store, self._pepper, mode=request.mode, tier=request.tier,
                                              name=_name(request.name), minute_limit=minute, day_limit=day,
                                              monthly_cap_micros=cap, operator=request.operator)
        await self._audit.record("key.create", record.id, {"mode": record.mode, "tier": record.tier,
                                                           "name": record.name, "minute_limit": minute,
                                                           "day_limit": day, "monthly_cap_micros": cap,
                                                           "operator": record.operator})
        return apb.KeyWithSecret(key=await self._described(record), secret=secret)

    async def list(self) -> apb.ListKeysResponse:
        with backend("database"):
            keys = await self._store.list_keys()
            spend = _month_to_date(await self._store.usage(*_this_month()))
        return apb.ListKeysResponse(data=[await self._message(key, spend.get(key.id, 0)) for key in keys])

    async def get(self, key_id: str) -> apb.Key:
        return await self._described(await self._existing(key_id))

    async def update(self, request: apb.UpdateKeyRequest) -> apb.Key:
        key = await self._existing(request.key_id, active=True)
        name = _name(request.name) if request.HasField("name") else key.name
        minute = _changed(request, "minute_limit", key.minute_limit)
        day = _changed(request, "day_limit", key.day_limit)
        if request.clear_monthly_cap:
            cap = None
        else:
            cap = _cap(request.monthly_cap_usd) if request.HasField("monthly_cap_usd") else key.monthly_cap_micros
        with backend("database"):
            if not await self._store.update_key(key.id, name, minute, day, cap):
                raise NotFound(f"no active key with id {key.id}", param="key_id")
        before = {"name": key.name, "minute_limit": key.minute_limit, "day_limit": key.day_limit,
                  "monthly_cap_micros": key.monthly_cap_micros}
        after = {"name": name, "minute_limit": minute, "day_limit": day, "monthly_cap_micros": cap}
        await self._audit.record("key.update", key.id, {field: {"from": before[field], "to": after[field]}
                                                        for field in after if before[field] != after[field]})
        return await self.get(key.id)

    async def rotate(self, key_id: str) -> apb.KeyWithSecret:
        key = await self._existing(key_id, active=True)
        with backend("database"):
            secret = await rotate_key(self._store, self._pepper, key.id)
        if secret is None:
            raise NotFound(f"no active key with id {key.id}", param="key_id")
        await self._audit.record("key.rotate", key.id, {})
        return apb.KeyWithSecret(key=await self.get(key.id), secret=secret)

    async def revoke(self, key_id: str) -> apb.Key:
        key = await self._existing(key_id, active=True)
        with backend("database"):
            if not await revoke_key(self._store, key.id):
                raise NotFound(f"no active key with id {key.id}", param="key_id")
        await self._audit.record("key.revoke", key.id, {})
        return await self.get(key.id)

    async def _existing(self, key_id: str, *, active: bool = False) -> ApiKey:
        with backend("database"):
            key = await self._store.get_key(key_id) if key_id else None
        if key is None or (active and key.revoked_at is not None):
            raise NotFound(f"no {'active ' if active else ''}key with id '{echo(key_id)}'", param="key_id")
        return key

    async def _described(self, key: ApiKey) -> apb.Key:
        with backend("database"):
            spend = _month_to_date(await self._store.usage(*_this_month(), key.id))
        return await self._message(key, spend.get(key.id, 0))

    async def _message(self, key: ApiKey, month_micros: int) -> apb.Key:
        tier = self._tiers.get(key.tier)
        out = apb.Key(id=key.id, mode=key.mode, tier=key.tier, name=key.name, hint=key.hint, created=key.created_at,
                      revoked=key.revoked_at or 0, minute_limit=key.minute_limit or 0, day_limit=key.day_limit or 0,
                      effective_minute_limit=key.minute_limit or (tier.images_per_minute if tier else 0),
                      effective_day_limit=key.day_limit or (tier.images_per_day if tier else 0),
                      operator=bool(key.operator), month_to_date_usd=month_micros / MICROS)
        if key.monthly_cap_micros is not None:
            out.monthly_cap_usd = key.monthly_cap_micros / MICROS
            with backend("database"):
                spent, reserved = await self._store.month_spend(key.id, month_of(time.time()))
            out.cap_used_usd = (spent + reserved) / MICROS
        return out


def _this_month() -> tuple[str, str]:
    today = dt.datetime.now(dt.UTC).date()
    return today.replace(day=1).isoformat(), today.isoformat()


def _month_to_date(rows: list[UsageRow]) -> dict[str, int]:
    """Per key: billed for live keys; for test keys what the usage would have cost (never billed)."""
    spend: dict[str, int] = {}
    for row in rows:
        spend[row.key_id] = spend.get(row.key_id, 0) + (row.cost_micros if row.mode == "test" else row.billed_micros)
    return spend


def _changed(request: Any, field: str, current: int | None) -> int | None:
    if getattr(request, f"clear_{field}"):
        return None
    return _limit(getattr(request, field), field) if request.HasField(field) else current


def _limit(value: int, param: str) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidRequest(f"{param} must be between 1 and {MAX_LIMIT} images", param=param)
    return value


def _cap(usd: float) -> int:
    if not math.isfinite(usd) or not 0 <= usd <= MAX_CAP_USD:
        raise InvalidRequest(f"monthly_cap_usd must be between 0 and {MAX_CAP_USD:.0f}", param="monthly_cap_usd")
    return round(usd * MICROS)


def _name(name: str) -> str:
    if len(name) > MAX_NAME_CHARS:
        raise InvalidRequest(f"name must be at most {MAX_NAME_CHARS} characters", param="name")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise InvalidRequest("name must not contain control characters", param="name")
    return name.strip()
