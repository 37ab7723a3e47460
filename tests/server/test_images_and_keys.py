"""Signing, storage, the sweeper, sandbox images and key handling as plain units."""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from server.errors import NotFound, PermissionDenied
from server.keys.tokens import generate_key, key_digest, key_mode
from server.providers.sandbox import render_png
from server.runtime.instance_secret import derive_keys, load_secret
from server.storage.local import LocalImageStore
from server.storage.signing import UrlSigner

NOW = 1_800_000_000.0


def signed_parts(signer: UrlSigner, image_id: str = "img_" + "a" * 32) -> tuple[str, int, str]:
    url = signer.url(image_id, "png", NOW)
    _, expires, filename = url.rsplit("/", 2)
    return image_id, int(expires), filename.split(".")[0]


def test_signature_verifies_until_expiry_only() -> None:
    signer = UrlSigner(b"k" * 32, 3600, "http://x")
    image_id, expires, signature = signed_parts(signer)
    signer.verify(image_id, "png", expires, signature, NOW + 3599)
    with pytest.raises(NotFound):
        signer.verify(image_id, "png", expires, signature, NOW + 3600)
    with pytest.raises(PermissionDenied):
        UrlSigner(b"other" * 8, 3600, "http://x").verify(image_id, "png", expires, signature, NOW)
    with pytest.raises(PermissionDenied):
        signer.verify(image_id, "webp", expires, signature, NOW)


def test_a_link_signed_too_far_ahead_is_refused() -> None:
    long_lived = UrlSigner(b"k" * 32, 10 * 3600, "http://x")
    image_id, expires, signature = signed_parts(long_lived)
    with pytest.raises(PermissionDenied):
        UrlSigner(b"k" * 32, 3600, "http://x").verify(image_id, "png", expires, signature, NOW)


def test_store_refuses_non_images_and_sweeps_old_files(tmp_path: Path) -> None:
    store = LocalImageStore(tmp_path)
    with pytest.raises(ValueError):
        store.put(b"<svg onload=alert(1)>")
    png = render_png("p", "m", 64, 64)
    old_id, ext = store.put(png)
    new_id, _ = store.put(png)
    old_path = tmp_path / f"{old_id}.{ext}"
    os.utime(old_path, (time.time() - 100, time.time() - 100))
    assert store.sweep(older_than_s=50) == 1
    assert store.get(old_id, ext) is None
    assert store.get(new_id, ext) == (png, "image/png")
    assert store.get("../../etc/passwd", "png") is None


def test_sandbox_png_is_deterministic_and_exact_size() -> None:
    first = render_png("a fox", "flux-dev", 1440, 800)
    assert render_png("a fox", "flux-dev", 1440, 800) == first
    assert render_png("a fox", "flux-dev", 1440, 800, index=1) != first
    assert Image.open(io.BytesIO(first)).size == (1440, 800)


def test_keys_have_mode_prefix_and_enough_entropy() -> None:
    key = generate_key("live")
    assert key.startswith("pk_live_") and key_mode(key) == "live"
    assert len(key) - len("pk_live_") == 40  # 40 base62 characters ≈ 238 bits
    assert key_mode("pk_live_short") is None and key_mode(key + "x") is None
    assert key_digest(b"pepper", key) != key_digest(b"other", key)


def test_instance_secret_is_created_once_and_private(tmp_path: Path) -> None:
    first = load_secret(None, tmp_path)
    assert load_secret(None, tmp_path) == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    keys = derive_keys(first)
    assert keys.url_signing != keys.key_pepper
    assert load_secret("configured", tmp_path) == b"configured"
