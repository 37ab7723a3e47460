"""Signing, storage, the sweeper, sandbox images and key handling as plain units."""
from __future__ import annotations

import asyncio
import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from server.errors import NotFound, PermissionDenied
from server.keys.tokens import generate_key, key_digest, key_mode
from server.providers.sandbox_render import render_png
from server.runtime.instance_secret import derive_keys, load_secret
from server.storage.base import CHUNK_BYTES, open_image
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


async def _read(store: LocalImageStore, image_id: str, ext: str) -> tuple[bytes, str] | None:
    image = await open_image(store, image_id, ext)
    if image is None:
        return None
    try:
        return b"".join([piece async for piece in image.chunks()]), image.mime
    finally:
        await image.close()


def test_store_serves_only_images_by_checked_names_and_sweeps_old_files(tmp_path: Path) -> None:
    async def run() -> None:
        store = LocalImageStore(tmp_path)
        png = render_png("p", "m", 64, 64)
        old_id, ext = await store.put(png, "image/png")
        new_id, _ = await store.put(png, "image/png")
        assert ext == "png"
        (tmp_path / "img_{}.png".format("b" * 32)).write_bytes(b"<svg onload=alert(1)>")
        (tmp_path / "notes.txt").write_bytes(b"not ours")
        old_path = tmp_path / f"{old_id}.{ext}"
        os.utime(old_path, (time.time() - 100, time.time() - 100))
        os.utime(tmp_path / "notes.txt", (time.time() - 100, time.time() - 100))
        assert await store.sweep(older_than_s=50) == 1
        assert (tmp_path / "notes.txt").exists()  # the sweeper deletes only names it makes
        assert await _read(store, old_id, ext) is None
        assert await _read(store, new_id, ext) == (png, "image/png")
        assert await _read(store, "img_" + "b" * 32, "png") is None  # stored bytes that are not an image
        assert await _read(store, "../../etc/passwd", "png") is None
        assert await store.open("../../etc/passwd", "png") is None
        await store.check()
        big = b"\x89PNG\r\n\x1a\n" + os.urandom(3 * CHUNK_BYTES + 5)
        big_id, _ = await store.put(big, "image/png")
        image = await open_image(store, big_id, "png")
        assert image is not None and image.length == len(big)
        pieces = [piece async for piece in image.chunks()]
        await image.close()
        assert [len(p) for p in pieces] == [CHUNK_BYTES] * 3 + [len(big) - 3 * CHUNK_BYTES]
        assert b"".join(pieces) == big

    asyncio.run(run())


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
