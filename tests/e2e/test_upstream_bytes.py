"""Bounded bytes from upstreams: an oversized inline image, a pixel bomb, and a burst beyond the server's
in-flight image budget, each answered in our error format and never billed."""
from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

import pytest
from PIL import Image

from tests.e2e.concurrent import fire
from tests.fakes.upstreams import Upstreams
from tests.stack import Stack

GEN = "/v1/images/generations"


def png_with_padding(total_bytes: int) -> bytes:
    """A valid 1024x1024 PNG made `total_bytes` long by an ancillary chunk (decoders skip it)."""
    out = io.BytesIO()
    Image.new("RGB", (1024, 1024), (9, 90, 200)).save(out, "PNG")
    png = out.getvalue()
    filler = b"x" * (total_bytes - len(png) - 12)
    chunk = struct.pack(">I", len(filler)) + b"zzPd" + filler
    chunk += struct.pack(">I", zlib.crc32(chunk[4:]) & 0xFFFFFFFF)
    return png[:-12] + chunk + png[-12:]  # before IEND


def pixel_bomb() -> bytes:
    """About 35 KB on the wire, 36 megapixels once decoded."""
    out = io.BytesIO()
    Image.new("L", (6000, 6000), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with Upstreams(("openai", "google")) as running:
        yield running


@pytest.fixture(scope="module")
def stack(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("bytes"), env_overrides=upstreams.env()).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize(("model", "fake"), [("dall-e-3", "openai"), ("imagen-3", "google")])
@pytest.mark.parametrize("image", [png_with_padding(50 * 1024 * 1024), pixel_bomb()], ids=["50MB", "36MP"])
def test_a_hostile_inline_image_is_refused_and_not_billed(stack: Stack, upstreams: Upstreams, model: str, fake: str,
                                                          image: bytes) -> None:
    upstreams.reset()
    upstreams[fake].knobs.image_override = image
    key = stack.create_key("live")
    response = stack.post(GEN, {"prompt": "hostile", "model": model, "response_format": "b64_json"}, key=key)
    assert response.status == 502, response.body[:300]
    assert response.json()["error"]["type"] == "upstream_error"
    assert response.headers["x-should-retry"] == "false"  # the upstream charged: never again
    assert len(upstreams[fake].charges) == 1
    usage = stack.get("/v1/usage", key=key).json()["totals"]
    assert (usage["requests"], usage["failed_requests"], usage["billed_usd"]) == (1, 1, 0)


def test_a_burst_beyond_the_image_budget_waits_then_is_refused_with_retry_after(make_stack) -> None:  # type: ignore[no-untyped-def]
    # Room for one 1024x1024 generation (~3 MB by the estimate) at a time.
    body = {"prompt": "budget", "size": "1024x1024", "response_format": "b64_json"}
    strict = make_stack(PERF_MAX_INFLIGHT_IMAGE_BYTES="4000000", PERF_INFLIGHT_WAIT_SECONDS="0.2",
                        PERF_SANDBOX_LATENCY_MS="800")
    replies = fire([(strict.base_url + GEN, body)] * 3, strict.create_key("test"))
    assert sorted(r.status for r in replies) == [200, 503, 503]
    for refused in (r for r in replies if r.status == 503):
        assert refused.body["error"]["type"] == "provider_unavailable"
        assert refused.body["error"]["retry_after"] >= 1 and refused.headers["x-should-retry"] == "true"
    patient = make_stack(PERF_MAX_INFLIGHT_IMAGE_BYTES="4000000", PERF_INFLIGHT_WAIT_SECONDS="10",
                         PERF_SANDBOX_LATENCY_MS="300")
    assert [r.status for r in fire([(patient.base_url + GEN, body)] * 3, patient.create_key("test"))] == [200] * 3
