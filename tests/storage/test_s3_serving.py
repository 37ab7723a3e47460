"""Images in a real SeaweedFS bucket, end to end through the real gateway and server: our signed URLs,
the store's presigned ones, expiry and the sweeper, and two replicas sharing only the backends."""
from __future__ import annotations

import base64
import re
import secrets
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.seaweed import Seaweed
from tests.stack import Stack, http

GEN = "/v1/images/generations"
OURS = re.compile(r"http://[^/]+/v1/images/(?P<id>img_[0-9a-f]{32})/\d+/[\w-]{43}\.png")
BODY = {"prompt": "a heron in the reeds", "model": "dall-e-2", "size": "512x512"}


def generate(stack: Stack, key: str, **extra: object) -> dict:  # type: ignore[type-arg]
    response = stack.post(GEN, {**BODY, **extra}, key=key)
    assert response.status == 200, response.body
    return response.json()  # type: ignore[no-any-return]


def local_images(stack: Stack) -> list[str]:
    images = stack.data_dir / "images"
    return sorted(p.name for p in images.iterdir()) if images.exists() else []


def test_url_mode_stores_in_the_bucket_and_the_gateway_serves_the_exact_bytes(seaweed: Seaweed, bucket: str,
                                                                               make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(**seaweed.env(bucket, "gen/images"))
    probe = seaweed.probe()
    out = generate(stack, stack.first_key, n=2)
    ids = [OURS.fullmatch(item["url"])["id"] for item in out["data"]]  # type: ignore[index]
    assert probe.keys(bucket) == sorted(f"gen/images/{image_id}.png" for image_id in ids)
    assert local_images(stack) == []  # nothing went to the local directory
    for item, image_id in zip(out["data"], ids):
        stored, stored_type = probe.get(bucket, f"gen/images/{image_id}.png")
        assert stored_type == "image/png"
        served = stack.get(item["url"])
        assert served.status == 200
        assert served.body == stored
        assert served.headers["content-type"] == "image/png"
        assert served.headers["content-length"] == str(len(stored))
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["x-request-id"].startswith("req_")
    # The sandbox is deterministic: the same request inline is the same image, byte for byte.
    [single] = generate(stack, stack.first_key)["data"]
    inline = generate(stack, stack.first_key, response_format="b64_json")["data"][0]["b64_json"]
    assert stack.get(single["url"]).body == base64.b64decode(inline)
    # An altered signature never reaches the bucket; an unknown id in it is 404, as with files.
    match = OURS.fullmatch(single["url"])
    assert match
    assert stack.get(single["url"].replace(match["id"], "img_" + "0" * 32)).status == 403
    probe.put(bucket, f"gen/images/{match['id']}.png", b"<svg onload=alert(1)>")  # not an image any more
    assert stack.get(single["url"]).status == 404


def test_presigned_urls_fetch_the_image_from_the_store_directly(seaweed: Seaweed, bucket: str,
                                                                make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(**seaweed.env(bucket), PERF_IMAGE_URLS="presigned", PERF_IMAGE_TTL_SECONDS="4")
    [item] = generate(stack, stack.first_key)["data"]
    url = item["url"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == seaweed.endpoint_url  # the store's host, not the gateway's
    assert re.fullmatch(rf"/{bucket}/images/img_[0-9a-f]{{32}}\.png", parts.path)
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["4"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    with urllib.request.urlopen(url, timeout=5) as reply:
        fetched, content_type = reply.read(), reply.headers["Content-Type"]
    assert content_type == "image/png"
    assert fetched == seaweed.probe().get(bucket, parts.path.split("/", 2)[2])[0]
    assert fetched.startswith(b"\x89PNG")
    # The signature is the credential: without it, or altered, or once expired, the store refuses.
    signature = query["X-Amz-Signature"][0]
    for refused in (url.split("?")[0], url.replace(signature, signature[::-1])):
        assert _status(refused) == 403
    time.sleep(5)
    assert _status(url) == 403


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_expired_urls_are_404_and_the_sweeper_deletes_the_objects(seaweed: Seaweed, bucket: str,
                                                                   make_stack) -> None:  # type: ignore[no-untyped-def]
    probe = seaweed.probe()
    neighbours = ["images/readme.txt", "other/img_" + "a" * 32 + ".png"]
    for key in neighbours:
        probe.put(bucket, key, b"not ours to delete")
    stack = make_stack(**seaweed.env(bucket), PERF_IMAGE_TTL_SECONDS="2", PERF_SWEEP_INTERVAL_SECONDS="0.5",
                       PERF_SWEEP_GRACE_SECONDS="1")
    [item] = generate(stack, stack.first_key)["data"]
    assert stack.get(item["url"]).status == 200
    ours = [key for key in probe.keys(bucket, "images/") if key not in neighbours]
    assert len(ours) == 1
    time.sleep(2.5)
    expired = stack.get(item["url"])
    assert expired.status == 404
    assert expired.json()["error"] == {"type": "not_found", "message": "the image URL has expired"}
    deadline = time.monotonic() + 10
    while ours[0] in probe.keys(bucket) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert probe.keys(bucket) == sorted(neighbours)


def test_two_replicas_share_only_postgres_redis_and_the_bucket(seaweed: Seaweed, bucket: str, make_stack,
                                                              backends, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not backends:
        pytest.skip("replicas need the shared store and limiter; the embedded pairing is single-process")
    shared = {**backends, **seaweed.env(bucket), "PERF_SECRET": secrets.token_hex(16)}
    first = make_stack(**shared)
    # The second replica reads its secrets from files, as a container would.
    secret_file = tmp_path / "aws-secret"
    secret_file.write_text(seaweed.secret_key + "\n")
    second_env = {**shared, "AWS_SECRET_ACCESS_KEY": "", "AWS_SECRET_ACCESS_KEY_FILE": str(secret_file)}
    second = make_stack(**second_env)
    assert first.data_dir != second.data_dir
    key = first.create_key("test")
    for made_by, served_by in ((first, second), (second, first)):
        [item] = generate(made_by, key)["data"]
        assert item["url"].startswith(made_by.base_url)
        elsewhere = served_by.base_url + urlsplit(item["url"]).path
        served = http("GET", elsewhere)
        assert served.status == 200, served.body
        assert served.body == http("GET", item["url"]).body
        assert served.headers["content-type"] == "image/png"
    assert local_images(first) == local_images(second) == []
    usage = second.get("/v1/usage", key=key).json()["totals"]
    assert (usage["requests"], usage["images"]) == (2, 2)
