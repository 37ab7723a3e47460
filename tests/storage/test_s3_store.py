"""S3ImageStore against a real SeaweedFS: the interface's promises, the lifecycle rule, and settings."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from server.errors import ProviderUnavailable
from server.runtime.outages import backend
from server.storage.base import CHUNK_BYTES, StorageUnavailable, open_image
from server.storage.s3 import S3ImageStore
from server.storage.settings import S3Settings, StorageSettings
from tests.seaweed import Seaweed

PNG = b"\x89PNG\r\n\x1a\n"


def settings_for(seaweed: Seaweed, bucket: str, prefix: str = "imgs/") -> S3Settings:
    return S3Settings(bucket=bucket, prefix=prefix, endpoint_url=seaweed.endpoint_url,
                      access_key_id=seaweed.access_key, secret_access_key=seaweed.secret_key)


def test_put_open_and_sweep_touch_only_our_objects(seaweed: Seaweed, bucket: str) -> None:
    probe = seaweed.probe()
    foreign = ["imgs/notes.txt", "imgs/nested/img_" + "c" * 32 + ".png", "img_" + "d" * 32 + ".png"]
    for key in foreign:
        probe.put(bucket, key, b"someone else's")

    async def run() -> None:
        store = await S3ImageStore.connect(settings_for(seaweed, bucket))
        try:
            big = PNG + os.urandom(2 * CHUNK_BYTES + 7)
            image_id, ext = await store.put(big, "image/png")
            assert ext == "png"
            assert probe.get(bucket, f"imgs/{image_id}.png") == (big, "image/png")
            image = await open_image(store, image_id, ext)
            assert image is not None and (image.mime, image.length) == ("image/png", len(big))
            pieces = [piece async for piece in image.chunks()]
            await image.close()
            assert [len(p) for p in pieces] == [CHUNK_BYTES, CHUNK_BYTES, 15]
            assert b"".join(pieces) == big
            assert await store.open("img_" + "e" * 32, "png") is None
            assert await store.open("../secret", "png") is None
            await store.check()
            # Nothing is old enough yet; then everything of ours is, and only ours goes.
            assert await store.sweep(3600, now=time.time()) == 0
            assert await store.sweep(0, now=time.time() + 5) == 1
            assert await store.open(image_id, ext) is None
        finally:
            await store.close()

    asyncio.run(run())
    assert probe.keys(bucket) == sorted(foreign)


def test_lifecycle_rule_is_added_beside_existing_rules_once(seaweed: Seaweed, bucket: str) -> None:
    probe = seaweed.probe()
    theirs = {"ID": "operators-own", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}}
    probe.put_lifecycle_rules(bucket, [theirs])

    async def run() -> None:
        store = await S3ImageStore.connect(settings_for(seaweed, bucket))
        try:
            assert await store.ensure_lifecycle() is True
            assert await store.ensure_lifecycle() is True  # a second replica's start changes nothing
        finally:
            await store.close()

    asyncio.run(run())
    rules = {rule["ID"]: rule for rule in probe.lifecycle_rules(bucket)}
    assert rules.keys() == {"operators-own", "perf-images:imgs/"}
    assert rules["operators-own"]["Expiration"] == {"Days": 30}
    ours = rules["perf-images:imgs/"]
    assert (ours["Filter"], ours["Status"], ours["Expiration"]) == ({"Prefix": "imgs/"}, "Enabled", {"Days": 1})


def test_a_missing_bucket_or_wrong_keys_are_an_outage_not_a_crash(seaweed: Seaweed, bucket: str) -> None:
    async def run() -> None:
        for settings in (settings_for(seaweed, "perf-no-such-bucket"),
                         S3Settings(bucket=bucket, endpoint_url=seaweed.endpoint_url, access_key_id="nobody",
                                    secret_access_key="wrong")):
            store = await S3ImageStore.connect(settings)
            try:
                with pytest.raises(StorageUnavailable):
                    await store.check()
                with pytest.raises(ProviderUnavailable), backend("image store"):
                    await store.put(PNG + b"x", "image/png")
            finally:
                await store.close()

    asyncio.run(run())


def test_nothing_listening_is_an_outage() -> None:
    from tests.stack import free_port

    async def run() -> None:
        store = await S3ImageStore.connect(S3Settings(bucket="perf-x", endpoint_url=f"http://127.0.0.1:{free_port()}",
                                                      access_key_id="a", secret_access_key="b"))
        try:
            with pytest.raises(ProviderUnavailable), backend("image store"):
                await store.put(PNG + b"x", "image/png")
            with pytest.raises(ProviderUnavailable), backend("image store"):
                await store.check()
        finally:
            await store.close()

    asyncio.run(run())


def test_settings_from_the_environment(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    parsed = StorageSettings.from_env({"PERF_IMAGE_STORE": "s3://my-bucket/some/prefix/", "AWS_REGION": "eu-west-3",
                                       "AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY_FILE": str(secret_file),
                                       "PERF_IMAGE_URLS": "presigned", "PERF_S3_LIFECYCLE": "0"})
    assert parsed.urls == "presigned"
    assert parsed.s3 == S3Settings(bucket="my-bucket", prefix="some/prefix/", region="eu-west-3",
                                   access_key_id="AKIA1", secret_access_key="from-a-file", lifecycle=False)
    assert StorageSettings.from_env({"PERF_IMAGE_STORE": "s3://bucket"}).s3 == S3Settings(bucket="bucket")
    assert StorageSettings.from_env({}) == StorageSettings()
    for bad in ({"PERF_IMAGE_STORE": "/mnt/images"}, {"PERF_IMAGE_STORE": "s3://UPPER/x"},
                {"PERF_IMAGE_URLS": "presigned"}, {"PERF_IMAGE_URLS": "cdn"}):
        with pytest.raises(ValueError):
            StorageSettings.from_env(bad)
