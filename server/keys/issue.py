"""Creating and revoking keys: the operations behind the admin command."""
from __future__ import annotations

import secrets
import time

from server.keys.tokens import generate_key, key_digest, key_hint
from server.store.records import ApiKey
from server.store.sqlite import SqliteStore

TIERS = ("free", "pro", "enterprise")


async def create_key(store: SqliteStore, pepper: bytes, *, mode: str, tier: str, name: str = "") -> tuple[str, ApiKey]:
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {', '.join(TIERS)}")
    key = generate_key(mode)
    record = ApiKey(id="key_" + secrets.token_hex(8), mode=mode, tier=tier, name=name, hint=key_hint(key),
                    created_at=int(time.time()), revoked_at=None)
    await store.insert_key(record, key_digest(pepper, key))
    return key, record


async def revoke_key(store: SqliteStore, key_id: str) -> bool:
    return await store.revoke_key(key_id, int(time.time()))
