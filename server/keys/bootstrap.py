"""First start: a fresh install gets one test key so the README's first request works."""
from __future__ import annotations

from server.database import Store
from server.keys.issue import create_key


async def ensure_first_test_key(store: Store, pepper: bytes) -> str | None:
    """Create and return a pk_test_ key when the store holds no keys at all; else None."""
    if await store.count_keys():
        return None
    key, _ = await create_key(store, pepper, mode="test", tier="free", name="first test key")
    return key
