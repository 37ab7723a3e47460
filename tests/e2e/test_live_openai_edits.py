"""Live keys on OpenAI-served models through the real gateway and server to the fake OpenAI, driven by the
official SDK: edits with a mask and with several images, variations, streamed generations and edits,
transparent and WebP output, refusals inside and before a stream; each with what the fake received,
what it charged, and what our ledger billed."""
from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from PIL import Image

from tests.fakes import openai as fake_openai
from tests.fakes.base import seen
from tests.fakes.images import make_image
from tests.fakes.openai_edits import last_upload
from tests.fakes.upstreams import Running, Upstreams
from tests.stack import Stack

IMAGE = make_image(1024, 1024, "png")
MASK = make_image(1024, 1024, "png", transparent=True)  # alpha 0 outside the centred half


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with Upstreams(("openai",)) as running:
        yield running


@pytest.fixture(scope="module")
def live_stack(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("live-openai"), env_overrides=upstreams.env())
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture()
def live_key(live_stack: Stack, upstreams: Upstreams) -> str:
    upstreams.reset()
    return live_stack.create_key("live")


@pytest.fixture()
def fake(upstreams: Upstreams) -> Running:
    return upstreams["openai"]


def sdk(stack: Stack, key: str) -> openai.OpenAI:
    # max_retries=0: a retry would hide what the gateway answered first.
    return openai.OpenAI(api_key=key, base_url=stack.base_url + "/v1", max_retries=0, timeout=30)


def ledger(stack: Stack, key: str) -> dict[str, Any]:
    """This key's ledger totals (requests, failed_requests, images, billed_usd)."""
    totals: dict[str, Any] = stack.get("/v1/usage", key=key).json()["totals"]
    return totals


def micros(usd: float) -> int:
    return round(usd * 1_000_000)


def decoded(b64: str | None) -> Image.Image:
    assert b64
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def test_edit_with_a_mask_sends_both_and_bills_the_fakes_usage_at_the_catalog_price(
        live_stack: Stack, live_key: str, fake: Running) -> None:
    out = sdk(live_stack, live_key).images.edit(
        model="gpt-image-2", image=("photo.png", IMAGE, "image/png"), mask=("mask.png", MASK, "image/png"),
        prompt="add a red hat", size="1024x1024", quality="low", response_format="b64_json")
    upload = last_upload(fake.app)
    assert upload.images == [IMAGE] and upload.mask == MASK  # the caller's bytes, as sent
    sent = seen(fake.app)[-1].body
    assert (sent["model"], sent["size"], sent["quality"], sent["mask"][0]["edit_share"]) == \
        ("gpt-image-2", "1024x1024", "low", 0.75)
    assert out.data and decoded(out.data[0].b64_json).size == (1024, 1024)
    assert out.usage is not None and out.usage.input_tokens_details.image_tokens > 0
    [charge] = fake.charges
    # gpt-image-2 is billed by the token at the upstream's own prices: what the fake charged is our price.
    perf = out.model_extra["perf"]  # type: ignore[index]
    assert micros(perf["cost_usd"]) == charge.micros > 0 and perf["model_used"] == "gpt-image-2"
    totals = ledger(live_stack, live_key)
    assert (totals["requests"], totals["images"], micros(totals["billed_usd"])) == (1, 1, charge.micros)


def test_edit_with_three_images_sends_three_image_parts(live_stack: Stack, live_key: str, fake: Running) -> None:
    images = [make_image(512, 512, "png"), make_image(1536, 1024, "jpeg"), make_image(600, 900, "webp")]
    out = sdk(live_stack, live_key).images.edit(model="gpt-image-2", image=images, prompt="merge them",
                                                size="1024x1024")
    sent = seen(fake.app)[-1].body
    assert [(p["type"], p["size"]) for p in sent["image[]"]] == [("png", (512, 512)), ("jpeg", (1536, 1024)),
                                                                  ("webp", (600, 900))]
    assert last_upload(fake.app).images == images and "mask" not in sent
    assert out.data and len(out.data) == 1 and len(fake.charges) == 1


def test_variation_of_dall_e_2_is_an_edit_by_gpt_image_2(live_stack: Stack, live_key: str, fake: Running) -> None:
    source = make_image(512, 512, "png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK marks the endpoint deprecated
        out = sdk(live_stack, live_key).images.create_variation(
            image=("cat.png", source, "image/png"), model="dall-e-2", n=2, size="512x512", response_format="b64_json")
    [request] = [s for s in seen(fake.app) if s.method == "POST"]
    assert request.path == "/v1/images/edits" and request.body["model"] == "gpt-image-2"
    assert request.body["prompt"].startswith("Create a new image that is a close variation")
    assert last_upload(fake.app).images == [source]
    assert out.data and [decoded(d.b64_json).size for d in out.data] == [(512, 512)] * 2
    perf = out.model_extra["perf"]  # type: ignore[index]
    # dall-e-2's edit_price: $0.018 per 512x512 image plus $0.015 for the started input megapixel.
    assert perf["model_used"] == "gpt-image-2" and perf["cost_usd"] == pytest.approx(2 * (0.018 + 0.015))
    totals = ledger(live_stack, live_key)
    assert (totals["images"], micros(totals["billed_usd"])) == (2, 66_000)


def test_streamed_generation_relays_partials_then_completed_billed_by_the_fakes_usage(
        live_stack: Stack, live_key: str, fake: Running) -> None:
    events = list(sdk(live_stack, live_key).images.generate(model="gpt-image-2", prompt="a fox", stream=True,
                                                            partial_images=2, size="1536x1024", quality="low"))
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert [getattr(e, "partial_image_index", None) for e in events[:2]] == [0, 1]
    assert all(decoded(e.b64_json).size == (1536, 1024) for e in events)
    done = events[-1]
    assert isinstance(done, openai.types.ImageGenCompletedEvent)
    sent = seen(fake.app)[-1].body
    assert (sent["stream"], sent["partial_images"]) == (True, 2)
    [charge] = fake.charges
    # The partial images' tokens are in the usage the fake charged, and so in what we bill.
    assert charge.micros == fake_openai.list_price_micros({"model": "gpt-image-2"}, done.usage.model_dump())
    perf = done.model_extra["perf"]  # type: ignore[index]
    assert micros(perf["cost_usd"]) == charge.micros and perf["model_used"] == "gpt-image-2"
    totals = ledger(live_stack, live_key)
    assert (totals["requests"], totals["images"], micros(totals["billed_usd"])) == (1, 1, charge.micros)


def test_streamed_edit_relays_its_partial_then_completed(live_stack: Stack, live_key: str, fake: Running) -> None:
    events = list(sdk(live_stack, live_key).images.edit(model="gpt-image-2", image=("a.png", IMAGE, "image/png"),
                                                        prompt="add a hat", stream=True, partial_images=1,
                                                        size="1024x1024"))
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    sent = seen(fake.app)[-1]
    assert sent.path == "/v1/images/edits" and (sent.body["stream"], sent.body["partial_images"]) == ("true", "1")
    done = events[-1]
    assert isinstance(done, openai.types.ImageEditCompletedEvent) and done.usage.input_tokens_details.image_tokens > 0
    assert micros(done.model_extra["perf"]["cost_usd"]) == fake.charges.micros() > 0  # type: ignore[index]


def test_transparent_background_is_a_png_with_alpha(live_stack: Stack, live_key: str, fake: Running) -> None:
    out = sdk(live_stack, live_key).images.generate(model="gpt-image-2", prompt="a logo", background="transparent",
                                                    size="1024x1024", quality="low", response_format="b64_json")
    assert seen(fake.app)[-1].body["background"] == "transparent"
    assert out.data
    image = decoded(out.data[0].b64_json)
    assert image.format == "PNG" and image.mode == "RGBA" and image.getchannel("A").getextrema() == (0, 255)
    assert out.background == "transparent" and out.output_format == "png"


def test_webp_with_compression_is_made_upstream_and_delivered(live_stack: Stack, live_key: str,
                                                              fake: Running) -> None:
    out = sdk(live_stack, live_key).images.generate(model="gpt-image-2", prompt="a bird", output_format="webp",
                                                    output_compression=50, size="1024x1024", quality="low",
                                                    response_format="b64_json")
    sent = seen(fake.app)[-1].body
    assert (sent["output_format"], sent["output_compression"]) == ("webp", 50)
    assert out.data and decoded(out.data[0].b64_json).format == "WEBP" and out.output_format == "webp"


def test_moderation_inside_the_stream_raises_from_the_error_event_and_bills_nothing(
        live_stack: Stack, live_key: str, fake: Running) -> None:
    fake.knobs.stream_moderate_after_partials = True
    got: list[Any] = []
    with pytest.raises(openai.APIError) as refused:
        for event in sdk(live_stack, live_key).images.generate(model="gpt-image-2", prompt="x", stream=True,
                                                               partial_images=1, size="1024x1024"):
            got.append(event)
    assert not isinstance(refused.value, openai.APIStatusError)  # the error event, not an HTTP status
    assert refused.value.type == "content_policy_violation" and [e.type for e in got] == \
        ["image_generation.partial_image"]
    totals = ledger(live_stack, live_key)
    assert (totals["requests"], totals["failed_requests"], totals["images"], totals["billed_usd"]) == (1, 1, 0, 0)
    assert fake.charges == []


def test_moderation_before_any_event_is_the_ordinary_400(live_stack: Stack, live_key: str, fake: Running) -> None:
    fake.knobs.moderate_output_indexes = {0}
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(live_stack, live_key).images.generate(model="gpt-image-2", prompt="x", stream=True, partial_images=2)
    assert refused.value.type == "content_policy_violation" and fake.charges == []
    assert ledger(live_stack, live_key)["billed_usd"] == 0


def test_a_failure_after_a_partial_is_an_error_event_and_the_caller_pays_nothing(
        live_stack: Stack, live_key: str, fake: Running) -> None:
    fake.knobs.stream_fail_next = 1
    got: list[Any] = []
    with pytest.raises(openai.APIError) as failed:
        for event in sdk(live_stack, live_key).images.generate(model="gpt-image-2", prompt="x", stream=True,
                                                               partial_images=1):
            got.append(event)
    assert failed.value.type == "upstream_error" and len(got) == 1
    assert len(fake.charges) == 1 and fake.requests("POST") == 1  # charged upstream, never asked again
    totals = ledger(live_stack, live_key)
    assert (totals["failed_requests"], totals["images"], totals["billed_usd"]) == (1, 0, 0)


def test_upstream_5xx_before_the_stream_is_a_plain_json_error(live_stack: Stack, live_key: str,
                                                              fake: Running) -> None:
    fake.knobs.fail_before_charge_next = 1
    response = live_stack.post("/v1/images/generations", {"model": "gpt-image-2", "prompt": "x", "stream": True,
                                                          "partial_images": 1}, key=live_key)
    assert response.status == 502 and response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["type"] == "upstream_error" and response.headers["x-should-retry"] == "false"
    fake.knobs.fail_before_charge_next = 1
    with pytest.raises(openai.InternalServerError):
        sdk(live_stack, live_key).images.generate(model="gpt-image-2", prompt="x", stream=True)
    assert fake.charges == [] and fake.requests("POST") == 2
