"""Turns an `authorization` value into the calling key, or one identical refusal for every failure."""
from __future__ import annotations

from typing import Protocol

from server.database.records import ApiKey
from server.errors import AuthenticationFailed
from server.keys.tokens import key_digest, key_mode
from server.runtime.outages import backend

# One message for missing, malformed, unknown and revoked keys: the answer must not tell them apart.
REFUSAL = "Invalid or missing API key. Send 'Authorization: Bearer pk_live_…' or 'pk_test_…'."


class KeyLookup(Protocol):
    async def find_key(self, digest: str) -> ApiKey | None: ...


class Authenticator:
    def __init__(self, store: KeyLookup, pepper: bytes) -> None:
        self._store = store
        self._pepper = pepper

    async def authenticate(self, authorization: str | None) -> ApiKey:
        token = _bearer(authorization)
        if token is None or key_mode(token) is None:
            raise AuthenticationFailed(REFUSAL)
        with backend("database"):
            key = await self._store.find_key(key_digest(self._pepper, token))
        if key is None or key.revoked_at is not None or key.mode != key_mode(token):
            raise AuthenticationFailed(REFUSAL)
        return key


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
