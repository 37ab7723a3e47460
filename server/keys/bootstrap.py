"""Keys a server ensures at start: the operator's own (PERF_BOOTSTRAP_KEYS_FILE), else one test key.

The bootstrap file lets a container deployment get its first live key without `exec` into a running
container: the operator generates key secrets (`python -m server.keys generate --mode live`), lists
them in a TOML file mounted as a secret, and every server start inserts the digests of those that are
absent. The file holds secrets, not digests, because a digest depends on PERF_SECRET::

    [[keys]]
    secret = "pk_live_…"          # mode follows from the prefix
    tier = "pro"                   # free | pro | enterprise (default free)
    name = "billing app"
    minute_limit = 600             # optional, as `server.keys create`
    day_limit = 50000
    monthly_cap_usd = 2500

A key already in the store (same secret) is left as it is, revoked or not: the file only ever adds,
so revoking or changing a key with the admin command sticks across restarts.
"""
from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from server.database import Store
from server.keys.issue import create_key
from server.keys.tokens import key_digest, key_mode

log = logging.getLogger("perf.server")
_FIELDS = {"secret", "tier", "name", "minute_limit", "day_limit", "monthly_cap_usd"}


async def ensure_first_test_key(store: Store, pepper: bytes) -> str | None:
    """Create and return a pk_test_ key when the store holds no keys at all; else None."""
    if await store.count_keys():
        return None
    key, _ = await create_key(store, pepper, mode="test", tier="free", name="first test key")
    return key


@dataclass(frozen=True)
class BootstrapKey:
    secret: str
    tier: str = "free"
    name: str = ""
    minute_limit: int | None = None
    day_limit: int | None = None
    monthly_cap_micros: int | None = None

    @property
    def mode(self) -> str:
        mode = key_mode(self.secret)
        assert mode is not None  # checked when parsed
        return mode


def parse_bootstrap_keys(text: str, source: str = "bootstrap keys file") -> list[BootstrapKey]:
    """The file's keys; any mistake is a ValueError naming the entry (never quoting a secret)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{source}: not valid TOML: {error}") from None
    entries = document.get("keys", [])
    if set(document) - {"keys"} or not isinstance(entries, list):
        raise ValueError(f"{source}: expected only [[keys]] tables")
    return [_entry(raw, f"{source}: keys[{index}]") for index, raw in enumerate(entries)]


def _entry(raw: Any, where: str) -> BootstrapKey:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a table")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    secret = raw.get("secret")
    if not isinstance(secret, str) or key_mode(secret) is None:
        raise ValueError(f"{where}: secret must be a pk_live_ or pk_test_ key (`python -m server.keys generate`)")
    limits = {name: raw.get(name) for name in ("minute_limit", "day_limit")}
    for name, value in limits.items():
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"{where}: {name} must be an integer")
    cap = raw.get("monthly_cap_usd")
    if cap is not None and (not isinstance(cap, int | float) or isinstance(cap, bool)):
        raise ValueError(f"{where}: monthly_cap_usd must be a number")
    for name in ("tier", "name"):
        if not isinstance(raw.get(name, ""), str):
            raise ValueError(f"{where}: {name} must be a string")
    return BootstrapKey(secret=secret, tier=raw.get("tier", "free"), name=raw.get("name", ""),
                        minute_limit=limits["minute_limit"], day_limit=limits["day_limit"],
                        monthly_cap_micros=None if cap is None else int(Decimal(str(cap)) * 1_000_000))


async def ensure_bootstrap_keys(store: Store, pepper: bytes, path: Path) -> list[str]:
    """Insert the file's absent keys; returns the ids of those added. Safe to run on every replica."""
    added = []
    for entry in parse_bootstrap_keys(path.read_text(encoding="utf-8"), str(path)):
        digest = key_digest(pepper, entry.secret)
        if await store.find_key(digest) is not None:
            continue
        try:
            _, record = await create_key(store, pepper, mode=entry.mode, tier=entry.tier, name=entry.name,
                                         minute_limit=entry.minute_limit, day_limit=entry.day_limit,
                                         monthly_cap_micros=entry.monthly_cap_micros, secret=entry.secret)
        except ValueError as error:  # a tier or limit create_key refuses
            raise ValueError(f"{path}: {error}") from None
        except Exception:
            # Replicas starting together race to insert; the digest is unique, so the loser's insert
            # fails and finds the winner's row. Anything else is a real failure.
            if await store.find_key(digest) is None:
                raise
            continue
        added.append(record.id)
    return added
