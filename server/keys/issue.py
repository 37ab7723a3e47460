"""Creating, rotating and revoking keys: the operations behind the admin command."""
from __future__ import annotations

import secrets
import time

from server.accounting.tiers import load_tiers
from server.database import Store
from server.database.records import ApiKey
from server.keys.tokens import generate_key, key_digest, key_hint, key_mode


async def create_key(store: Store, pepper: bytes, *, mode: str, tier: str, name: str = "",
                     minute_limit: int | None = None, day_limit: int | None = None,
                     monthly_cap_micros: int | None = None, operator: bool = False,
                     secret: str | None = None) -> tuple[str, ApiKey]:
    """A new key record; its secret is generated, or `secret` (one the operator generated earlier)."""
    tiers = load_tiers()
    if tier not in tiers:
        raise ValueError(f"tier must be one of {', '.join(tiers)}")
    minute = minute_limit if minute_limit is not None else tiers[tier].images_per_minute
    day = day_limit if day_limit is not None else tiers[tier].images_per_day
    if minute < 1 or day < 1:
        raise ValueError("image limits must be at least 1")
    if monthly_cap_micros is not None and monthly_cap_micros < 0:
        raise ValueError("the monthly spend cap must not be negative")
    if secret is not None and key_mode(secret) != mode:
        raise ValueError(f"the given secret is not a well-formed pk_{mode}_ key")
    key = secret if secret is not None else generate_key(mode)
    record = ApiKey(id="key_" + secrets.token_hex(8), mode=mode, tier=tier, name=name, hint=key_hint(key),
                    created_at=int(time.time()), revoked_at=None, minute_limit=minute_limit, day_limit=day_limit,
                    monthly_cap_micros=monthly_cap_micros, operator=operator)
    await store.insert_key(record, key_digest(pepper, key))
    return key, record


async def rotate_key(store: Store, pepper: bytes, key_id: str) -> str | None:
    """A new secret for the same key record (limits, usage and id stay); the old secret stops at once."""
    existing = await store.get_key(key_id)
    if existing is None or existing.revoked_at is not None:
        return None
    key = generate_key(existing.mode)
    return key if await store.rotate_key(key_id, key_digest(pepper, key), key_hint(key)) else None


async def revoke_key(store: Store, key_id: str) -> bool:
    return await store.revoke_key(key_id, int(time.time()))
