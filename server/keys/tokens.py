"""The API key format: `pk_live_` or `pk_test_`, then 40 base62 characters (about 238 random bits).

Only an HMAC-SHA256 digest (keyed with the instance's pepper) is ever stored, so a copy of the
database alone can neither use nor confirm a key.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

MODES = ("live", "test")
_ALPHABET = string.ascii_letters + string.digits
_BODY_LENGTH = 40
_KEY = re.compile(rf"pk_(live|test)_[A-Za-z0-9]{{{_BODY_LENGTH}}}")


def generate_key(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    return f"pk_{mode}_" + "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LENGTH))


def key_mode(key: str) -> str | None:
    """'live' or 'test' for a well-formed key, None for anything else."""
    match = _KEY.fullmatch(key)
    return match.group(1) if match else None


def key_digest(pepper: bytes, key: str) -> str:
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def key_hint(key: str) -> str:
    """What listings show: enough to recognise a key, never enough to use it."""
    return f"{key[:12]}…{key[-4:]}"
