"""The instance secret, from which the URL-signing key and the API-key pepper are derived.

Replicas must share it (set PERF_SECRET); a single machine gets one generated into the data
directory on first start, readable only by its owner.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DerivedKeys:
    url_signing: bytes
    key_pepper: bytes


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Write aside, then link into place: link fails if another process won the race, and a
        # reader never sees a half-written file.
        partial = data_dir / f".secret.key.{os.getpid()}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_hex(32).encode())
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(partial)
    value = path.read_bytes().strip()
    if not value:
        raise RuntimeError(f"{path} is empty; delete it or set PERF_SECRET")
    return value


def derive_keys(secret: bytes) -> DerivedKeys:
    def derive(label: str) -> bytes:
        return hmac.new(secret, label.encode(), hashlib.sha256).digest()

    return DerivedKeys(url_signing=derive("perf/url-signing/v1"), key_pepper=derive("perf/api-key-digest/v1"))
