"""Stored images at signed URLs: serving headers, tampering, expiry and the sweeper."""
from __future__ import annotations

import os
import re
import time
from email.utils import parsedate_to_datetime

from tests.stack import Stack

GEN = "/v1/images/generations"
URL = re.compile(r"(?P<base>http://[^/]+)/v1/images/(?P<id>img_[0-9a-f]{32})/(?P<exp>\d+)/(?P<sig>[\w-]{43})\.png")


def generate_url(stack: Stack, key: str) -> str:
    response = stack.post(GEN, {"prompt": "url test", "model": "dall-e-2", "size": "256x256"}, key=key)
    assert response.status == 200, response.body
    return str(response.json()["data"][0]["url"])


def test_url_is_public_url_plus_id_expiry_and_signature(stack: Stack, test_key: str) -> None:
    url = generate_url(stack, test_key)
    match = URL.fullmatch(url)
    assert match, url
    assert match["base"] == stack.base_url
    assert 3590 <= int(match["exp"]) - time.time() <= 3601
    served = stack.get(url)  # no API key: the signature is the credential
    assert served.status == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert re.fullmatch(r"private, max-age=(\d+)", served.headers["cache-control"])
    assert int(served.headers["cache-control"].split("=")[1]) <= 3600
    assert int(parsedate_to_datetime(served.headers["expires"]).timestamp()) == int(match["exp"])
    assert served.body.startswith(b"\x89PNG")


def test_tampered_urls_are_403(stack: Stack, test_key: str) -> None:
    url = generate_url(stack, test_key)
    other = generate_url(stack, test_key)
    m, o = URL.fullmatch(url), URL.fullmatch(other)
    assert m and o
    flipped = m["sig"][:-1] + ("A" if m["sig"][-1] != "A" else "B")
    forgeries = [
        f"{m['base']}/v1/images/{m['id']}/{m['exp']}/{flipped}.png",               # signature altered
        f"{m['base']}/v1/images/{m['id']}/{int(m['exp']) + 60}/{m['sig']}.png",    # expiry extended
        f"{m['base']}/v1/images/{o['id']}/{m['exp']}/{m['sig']}.png",              # another image's id
        f"{m['base']}/v1/images/{m['id']}/{m['exp']}/{m['sig']}.jpg",              # extension swapped
    ]
    for forged in forgeries:
        response = stack.get(forged)
        assert response.status == 403, forged
        assert response.json()["error"]["type"] == "permission_denied"


def test_unknown_or_malformed_image_paths_are_404_and_never_leave_storage(stack: Stack, test_key: str) -> None:
    m = URL.fullmatch(generate_url(stack, test_key))
    assert m
    for path in [
        f"/v1/images/img_{'0' * 31}/{m['exp']}/{m['sig']}.png",
        f"/v1/images/..%2F..%2Fetc%2Fpasswd/{m['exp']}/{m['sig']}.png",
        f"/v1/images/{m['id']}/soon/{m['sig']}.png",
        f"/v1/images/{m['id']}/{m['exp']}/{m['sig']}.exe",
        f"/v1/images/{m['id']}/{m['exp']}/short.png",  # not a signature's shape: not found, not forged
        f"/v1/images/{m['id']}/{m['exp']}/{m['sig']}",
        f"/v1/images/../../secret.key/{m['exp']}/{m['sig']}.png",
    ]:
        response = stack.get(path)
        assert response.status == 404, path
        assert response.json()["error"]["type"] == "not_found"


def test_urls_expire_and_the_sweeper_deletes_the_files(make_stack) -> None:  # type: ignore[no-untyped-def]
    short = make_stack(PERF_IMAGE_TTL_SECONDS="2", PERF_SWEEP_INTERVAL_SECONDS="0.5", PERF_SWEEP_GRACE_SECONDS="1")
    url = generate_url(short, short.first_key)
    assert short.get(url).status == 200
    images = short.data_dir / "images"
    assert len(os.listdir(images)) == 1
    time.sleep(3.0)
    expired = short.get(url)
    assert expired.status == 404
    assert expired.json()["error"] == {"type": "not_found", "message": "the image URL has expired"}
    deadline = time.monotonic() + 5
    while os.listdir(images) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert os.listdir(images) == []
