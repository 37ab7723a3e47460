"""Live keys through the real gateway and server to the fake upstreams (in this process, on loopback):
every public model in both response formats, partial moderation billing, failure classes with the
upstream's charges counted, the caller's deadline, and a hang-up that stops upstream polling."""
from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
import time
from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from PIL import Image

from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from tests.fakes.upstreams import Upstreams
from tests.stack import Stack

GEN = "/v1/images/generations"
# public model, request extras, upstream that really generates it, delivered size, price, fake
MODELS = [
    ("dall-e-3", {"size": "1792x1024", "quality": "hd"}, "gpt-image-2", "1792x1024", 0.120, "openai"),
    ("dall-e-2", {"size": "512x512"}, "gpt-image-2", "512x512", 0.018, "openai"),
    ("stable-diffusion-3", {"size": "1920x1080"}, "sd3.5-medium", "1344x768", 0.035, "stability"),
    ("flux-pro", {"size": "1000x700"}, "flux-pro-1.1", "992x704", 0.055, "bfl"),
    ("flux-dev", {"size": "1024x1024"}, "flux-2-klein-9b", "1024x1024", 0.025, "bfl"),
    ("ideogram-2", {"size": "1024x1024"}, "V_4", "1024x1024", 0.040, "ideogram"),
    ("imagen-3", {"size": "1024x1024"}, "gemini-nano-banana-2.1", "1024x1024", 0.040, "google"),
    # Current models beside the seed's: per-token prices come from the fake's own usage block.
    ("gpt-image-2", {"size": "1536x1024", "quality": "low"}, "gpt-image-2", "1536x1024", None, "openai"),
    ("flux-2-pro", {"size": "1440x1440"}, "flux-2-pro", "1440x1440", 0.045, "bfl"),
    ("flux-2-flex", {"size": "1024x1024"}, "flux-2-flex", "1024x1024", 0.05, "bfl"),
    ("flux-2-max", {"size": "1024x1024"}, "flux-2-max", "1024x1024", 0.07, "bfl"),
    ("flux-2-klein-4b", {"size": "1024x1024"}, "flux-2-klein-4b", "1024x1024", 0.014, "bfl"),
    ("flux-2-klein-9b", {"size": "2048x1024"}, "flux-2-klein-9b", "2048x1024", 0.017, "bfl"),
    ("gemini-3-pro-image", {"size": "2560x1440"}, "gemini-3-pro-image", "2752x1536", None, "google"),
    ("gemini-nano-banana-2.1", {"size": "1024x1024"}, "gemini-nano-banana-2.1", "1024x1024", None, "google"),
    ("ideogram-4", {"size": "1024x1024", "quality": "high"}, "V_4", "1024x1024", 0.10, "ideogram"),
    ("sd3.5-large", {"size": "1024x1024"}, "sd3.5-large", "1024x1024", 0.065, "stability"),
]


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with Upstreams() as running:
        yield running


@pytest.fixture(scope="module")
def live_stack(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("live"), env_overrides=upstreams.env())
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture()
def live_key(live_stack: Stack, upstreams: Upstreams) -> str:
    upstreams.reset()
    return live_stack.create_key("live")


def error_of(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status == status, response.body
    return response.json()["error"]


@pytest.mark.parametrize("response_format", ["url", "b64_json"])
@pytest.mark.parametrize(("model", "extra", "upstream_model", "size", "price", "fake"), MODELS)
def test_every_public_model_with_a_live_key(live_stack: Stack, upstreams: Upstreams, live_key: str,
                                            response_format: str, model: str, extra: dict, upstream_model: str,
                                            size: str, price: float, fake: str) -> None:
    body = {"prompt": "a lighthouse at dusk", "model": model, "response_format": response_format, **extra}
    response = live_stack.post(GEN, body, key=live_key)
    assert response.status == 200, response.body
    out = response.json()
    assert out["perf"]["model_used"] == upstream_model
    assert out["perf"]["size"] == size
    if price is not None:
        assert out["perf"]["cost_usd"] == pytest.approx(price)
        assert "usage" not in out
    else:  # billed by the token: the settled amount from the upstream's usage, OpenAI's usage object beside it
        usage = out["usage"]
        assert usage["output_tokens_details"]["image_tokens"] > 0 and usage["total_tokens"] == \
            usage["input_tokens"] + usage["output_tokens"]
        assert 0 < out["perf"]["cost_usd"] < 0.5
    [item] = out["data"]
    if response_format == "url":
        assert item["url"].startswith(live_stack.base_url)  # ours, never the upstream's
        image = live_stack.get(item["url"])
        assert image.status == 200 and image.headers["content-type"] == "image/png"
        data = image.body
    else:
        data = base64.b64decode(item["b64_json"])
    assert Image.open(io.BytesIO(data)).size == tuple(int(s) for s in size.split("x"))
    assert upstreams[fake].charges.images() == 1


@pytest.mark.parametrize(("model", "fake", "price", "upstream_bills_withheld"), [
    ("stable-diffusion-3", "stability", 0.035, True), ("flux-dev", "bfl", 0.025, True),
    ("ideogram-2", "ideogram", 0.040, True), ("imagen-3", "google", 0.040, False)])
def test_partial_moderation_delivers_and_bills_only_the_rest(live_stack: Stack, upstreams: Upstreams,
                                                             live_key: str, model: str, fake: str, price: float,
                                                             upstream_bills_withheld: bool) -> None:
    upstreams[fake].knobs.moderate_output_indexes = upstreams[fake].output_indexes(1)
    response = live_stack.post(GEN, {"prompt": "p", "model": model, "n": 3, "response_format": "b64_json"},
                               key=live_key)
    assert response.status == 200, response.body
    out = response.json()
    assert len(out["data"]) == 2 and out["perf"]["cost_usd"] == pytest.approx(2 * price)
    assert upstreams[fake].charges.images() == (3 if upstream_bills_withheld else 2)
    upstreams[fake].knobs.moderate_output_indexes = upstreams[fake].output_indexes(0, 1)
    error = error_of(live_stack.post(GEN, {"prompt": "p", "model": model, "n": 2}, key=live_key), 400)
    assert error["type"] == "content_policy_violation"


@pytest.mark.parametrize("model", ["dall-e-3", "stable-diffusion-3", "flux-pro", "ideogram-2", "imagen-3"])
def test_input_moderation_is_400_content_policy_violation(live_stack: Stack, upstreams: Upstreams, live_key: str,
                                                          model: str) -> None:
    for running in upstreams.running.values():
        running.knobs.moderate_input = True
    error = error_of(live_stack.post(GEN, {"prompt": "p", "model": model}, key=live_key), 400)
    assert error["type"] == "content_policy_violation"


def test_failure_after_charge_is_502_with_exactly_one_charge(live_stack: Stack, upstreams: Upstreams,
                                                             live_key: str) -> None:
    upstreams["openai"].knobs.fail_after_charge_next = 1
    error = error_of(live_stack.post(GEN, {"prompt": "p"}, key=live_key), 502)
    assert error["type"] == "upstream_error"
    assert len(upstreams["openai"].charges) == 1 and upstreams["openai"].requests("POST") == 1


def test_rate_limit_beyond_the_deadline_is_503_with_retry_after(live_stack: Stack, upstreams: Upstreams,
                                                               live_key: str) -> None:
    upstreams["stability"].knobs.rate_limit_next, upstreams["stability"].knobs.retry_after_s = 1, 600
    response = live_stack.post(GEN, {"prompt": "p", "model": "stable-diffusion-3"}, key=live_key)
    error = error_of(response, 503)
    assert error["type"] == "provider_unavailable" and error["retry_after"] == 600
    assert response.headers["retry-after"] == "600" and len(upstreams["stability"].charges) == 0


def test_rejected_upstream_key_is_not_the_callers_authentication_error(live_stack: Stack, upstreams: Upstreams,
                                                                       live_key: str) -> None:
    upstreams["bfl"].knobs.expected_api_key = "rotated"
    error = error_of(live_stack.post(GEN, {"prompt": "p", "model": "flux-pro"}, key=live_key), 503)
    assert error["type"] == "provider_unavailable" and "BFL_API_KEY" in error["message"]


def test_the_callers_grpc_deadline_bounds_the_upstream_call(live_stack: Stack, upstreams: Upstreams,
                                                            live_key: str) -> None:
    upstreams["openai"].knobs.latency_s = 10

    async def call() -> grpc.aio.AioRpcError:
        async with grpc.aio.insecure_channel(live_stack.grpc_target) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await pb_grpc.ImageServiceStub(channel).GenerateImages(
                    pb.GenerateImagesRequest(prompt="slow"), metadata=(("authorization", f"Bearer {live_key}"),),
                    timeout=2)
            return caught.value

    started = time.monotonic()
    failure = asyncio.run(call())
    assert failure.code() == grpc.StatusCode.DEADLINE_EXCEEDED and time.monotonic() - started < 3
    # Our Timeout (the deadline less the server's margin) arrives before the transport's own.
    status = rpc_status.from_call(failure)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info) and info.reason == "TIMEOUT"
    assert len(upstreams["openai"].charges) == 0


def test_client_hang_up_stops_upstream_polling(live_stack: Stack, upstreams: Upstreams, live_key: str) -> None:
    bfl = upstreams["bfl"]
    bfl.knobs.polls_before_ready = 1_000_000
    body = json.dumps({"prompt": "abandoned", "model": "flux-pro", "n": 2}).encode()
    request = (f"POST {GEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {live_key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", live_stack.http_port)) as sock:
        sock.sendall(request)
        deadline = time.monotonic() + 5
        while bfl.requests("GET", "/v1/get_result") < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bfl.requests("GET", "/v1/get_result") >= 10  # both tasks are being polled
    time.sleep(0.5)  # the hang-up travels gateway → server → adapter
    stopped_at = bfl.requests("GET", "/v1/get_result")
    time.sleep(0.5)
    assert bfl.requests("GET", "/v1/get_result") == stopped_at
    assert bfl.requests("POST") == 2 and len(bfl.charges) == 2


def test_upstream_cost_of_every_deployment_in_use_equals_the_fakes_list_prices(live_stack: Stack,
                                                                               upstreams: Upstreams) -> None:
    upstreams.reset()
    operator = live_stack.create_key("live", "--tier", "enterprise", "--minute-limit", "100000", "--day-limit",
                                     "100000", "--operator")
    billed = 0
    for model, extra, *_ in MODELS:
        response = live_stack.post(GEN, {"prompt": "reconcile", "model": model, "n": 2, "response_format": "b64_json",
                                         **({**extra, "n": 1} if model == "dall-e-3" else extra)}, key=operator)
        assert response.status == 200, (model, response.body)
        billed += round(response.json()["perf"]["cost_usd"] * 1_000_000)
    # The fallbacks too: each host delivers once the deployments before it refuse without charging.
    for model, refusing in (("flux-dev", ("bfl",)), ("flux-pro", ("bfl",)), ("flux-pro", ("bfl", "replicate"))):
        for name in refusing:
            upstreams[name].knobs.fail_before_charge_next = 2
        response = live_stack.post(GEN, {"prompt": "reconcile", "model": model, "n": 2, "size": "1440x1440",
                                         "response_format": "b64_json"}, key=operator)
        assert response.status == 200, (model, response.body)
        billed += round(response.json()["perf"]["cost_usd"] * 1_000_000)
    usage = live_stack.get("/v1/usage", key=operator).json()
    totals = usage["totals"]
    assert all(r.charges.micros() > 0 for r in upstreams.running.values())
    assert round(totals["upstream_cost_usd"] * 1_000_000) == sum(r.charges.micros() for r in upstreams.running.values())
    assert round(totals["billed_usd"] * 1_000_000) == billed
    assert round(totals["margin_usd"] * 1_000_000) == billed - round(totals["upstream_cost_usd"] * 1_000_000)
    by_provider = {p["provider"]: round(p["upstream_cost_usd"] * 1_000_000) for p in usage["providers"]}
    assert by_provider == {name: running.charges.micros() for name, running in upstreams.running.items()}
    customer = live_stack.get("/v1/usage", key=live_stack.create_key("live")).json()
    assert "upstream_cost_usd" not in customer["totals"] and "providers" not in customer
