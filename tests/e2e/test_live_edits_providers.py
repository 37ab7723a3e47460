"""Live-key edits through the official openai SDK, the real gateway and server, to the BFL, Stability,
Ideogram and Gemini fakes: references where the upstream takes several images, masks in each upstream's
own convention over the region the caller made transparent, what we bill and what the upstream charged
us (the operator's usage), and the edits refused with the parameter named and nothing billed."""
from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from PIL import Image

from tests.edit_images import left_half, openai_mask, png, undecodable_png
from tests.fakes import bfl_edit as fake_bfl
from tests.fakes import gemini as fake_gemini
from tests.fakes.base import seen
from tests.fakes.upstreams import Upstreams
from tests.stack import Stack

RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)
MP = 1024 * 1024


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with Upstreams(("stability", "bfl", "ideogram", "google")) as running:
        yield running


@pytest.fixture(scope="module")
def live_stack(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("live-edits"), env_overrides=upstreams.env())
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture()
def live_key(live_stack: Stack, upstreams: Upstreams) -> str:
    """A fresh live operator key: its usage is this test's alone, upstream costs included."""
    upstreams.reset()
    return live_stack.create_key("live", "--tier", "enterprise", "--minute-limit", "100000", "--day-limit", "100000",
                                 "--operator")


def sdk(stack: Stack, key: str) -> openai.OpenAI:
    # max_retries=0: a retry would hide which status the gateway really returned.
    return openai.OpenAI(api_key=key, base_url=stack.base_url + "/v1", max_retries=0, timeout=30)


def files(*images: bytes) -> list[tuple[str, bytes, str]]:
    return [(f"image{i}.png", data, "image/png") for i, data in enumerate(images)]


def edit(stack: Stack, key: str, **fields: Any) -> dict[str, Any]:
    """The edit's perf block, the delivered images' sizes, and OpenAI's usage object (per-token models)."""
    result = sdk(stack, key).images.edit(prompt=fields.pop("prompt", "make it night"), response_format="b64_json",
                                         **fields)
    sizes = [Image.open(io.BytesIO(base64.b64decode(item.b64_json or ""))).size for item in result.data]
    perf = result.model_extra["perf"]  # type: ignore[index]
    return {"perf": perf, "sizes": sizes, "usage": result.usage.model_dump() if result.usage else None}


def usage(stack: Stack, key: str) -> dict[str, Any]:
    return stack.get("/v1/usage", key=key).json()


# ---------------------------------------------------------------- image-conditioned edits (no mask)


def test_flux_2_pro_edits_with_three_references_priced_per_input_megapixel(live_stack: Stack, upstreams: Upstreams,
                                                                         live_key: str) -> None:
    images = png(1024, 1024, RED), png(512, 512, GREEN), png(512, 512, BLUE)
    out = edit(live_stack, live_key, model="flux-2-pro", image=files(*images))
    assert out["perf"]["model_used"] == "flux-2-pro" and out["sizes"] == [(1024, 1024)]
    received = fake_bfl.last_inputs(upstreams["bfl"].app)
    assert {name: info["size"] for name, info in received.items()} == {
        "input_image": (1024, 1024), "input_image_2": (512, 512), "input_image_3": (512, 512)}
    # We bill the catalog's FLUX.2 [pro] price: $0.03 for the first output MP, $0.015 per started MP of each input.
    assert out["perf"]["cost_usd"] == pytest.approx(0.03 + 3 * 0.015)
    # BFL charges 3 credits + 1.5 per started MP of all inputs together (1.5 MP → 2), and says so in `cost`.
    bfl_credits = 3 + math.ceil((MP + 2 * 512 * 512) / MP) * 1.5
    totals = usage(live_stack, live_key)["totals"]
    assert totals["upstream_cost_usd"] == pytest.approx(bfl_credits / 100) == upstreams["bfl"].charges.micros() / 1e6
    assert totals["billed_usd"] == pytest.approx(0.075)


def test_flux_pro_edits_through_kontext_at_its_flat_price(live_stack: Stack, upstreams: Upstreams,
                                                         live_key: str) -> None:
    out = edit(live_stack, live_key, model="flux-pro", image=files(png(768, 512, RED), png(256, 256, GREEN)), n=2)
    assert out["perf"]["model_used"] == "flux-kontext-pro" and out["sizes"] == [(768, 512)] * 2
    submits = [s for s in seen(upstreams["bfl"].app) if s.method == "POST"]
    assert [s.path for s in submits] == ["/v1/flux-kontext-pro"] * 2 and submits[0].body["aspect_ratio"] == "3:2"
    assert [info["size"] for info in fake_bfl.last_inputs(upstreams["bfl"].app).values()] == [(768, 512), (256, 256)]
    assert out["perf"]["cost_usd"] == pytest.approx(2 * 0.055)  # flux-pro's catalog price, per image
    providers = {p["provider"]: p["upstream_cost_usd"] for p in usage(live_stack, live_key)["providers"]}
    assert providers == {"bfl": pytest.approx(2 * 0.04)}  # Kontext [pro]: 4 credits an image


def test_gemini_3_pro_image_edits_with_two_images_billed_by_its_tokens(live_stack: Stack, upstreams: Upstreams,
                                                                      live_key: str) -> None:
    out = edit(live_stack, live_key, model="gemini-3-pro-image", image=files(png(1024, 1024, RED), png(300, 200)))
    assert out["perf"]["model_used"] == "gemini-3-pro-image" and out["sizes"] == [(1024, 1024)]
    parts = seen(upstreams["google"].app)[0].body["contents"][0]["parts"]
    assert [("text" if "text" in p else "image") for p in parts] == ["text", "image", "image"]
    assert [i["size"] for i in fake_gemini.last_inputs(upstreams["google"].app)] == [(1024, 1024), (300, 200)]
    tokens = out["usage"]
    # Gemini's rule: 258 tokens per 768x768 tile of each input image (one for an image within 384x384).
    assert tokens["input_tokens_details"]["image_tokens"] == 4 * 258 + 258
    # gemini-3-pro-image, USD per 1M tokens: text in 2, image in 2, image out 120, text out 12.
    expected = (2 * tokens["input_tokens_details"]["text_tokens"] + 2 * tokens["input_tokens_details"]["image_tokens"]
                + 120 * tokens["output_tokens_details"]["image_tokens"]
                + 12 * tokens["output_tokens_details"]["text_tokens"]) / 1e6
    assert out["perf"]["cost_usd"] == pytest.approx(expected, abs=2e-6)
    totals = usage(live_stack, live_key)["totals"]
    assert totals["upstream_cost_usd"] == pytest.approx(upstreams["google"].charges.micros() / 1e6, abs=2e-6)


# ---------------------------------------------------------------- masked edits

W, H = 1216, 832
MASKED = [  # model, fake, endpoint, upstream model, what we bill, what the upstream charges
    ("flux-pro", "bfl", "/v1/flux-pro-1.0-fill", "flux-pro-1.0-fill", 0.055, 0.05),
    ("stable-diffusion-3", "stability", "/v2beta/stable-image/edit/inpaint", "inpaint", 0.035, 0.05),
    ("ideogram-2", "ideogram", "/v1/ideogram-v3/inpaint", "V_3", 0.040, 0.03),
]


def mask_received(upstreams: Upstreams, fake: str) -> dict[str, Any]:
    """The mask as the fake decoded it, with its edit share and box in the fake's own convention."""
    if fake == "bfl":
        return fake_bfl.last_inputs(upstreams["bfl"].app)["mask"]
    body = [s for s in seen(upstreams[fake].app) if s.method == "POST"][-1].body
    return body["mask"][0] if fake == "ideogram" else body["mask"]


@pytest.mark.parametrize(("model", "fake", "endpoint", "upstream_model", "price", "upstream_price"), MASKED)
def test_a_masked_edit_reaches_the_upstream_with_the_left_half_as_its_edit_area(
        live_stack: Stack, upstreams: Upstreams, live_key: str, model: str, fake: str, endpoint: str,
        upstream_model: str, price: float, upstream_price: float) -> None:
    out = edit(live_stack, live_key, model=model, image=files(png(W, H)),
               mask=("mask.png", openai_mask(W, H, left_half(W, H)), "image/png"))
    assert out["perf"]["model_used"] == upstream_model and len(out["sizes"]) == 1
    assert out["sizes"][0] == tuple(int(s) for s in out["perf"]["size"].split("x"))
    assert [s.path for s in seen(upstreams[fake].app) if s.method == "POST"] == [endpoint]
    mask = mask_received(upstreams, fake)  # white = inpaint (BFL, Stability), black = edit (Ideogram)
    assert (mask["size"], mask["edit_share"], mask["edit_box"]) == ((W, H), 0.5, (0, 0, W // 2, H))
    assert out["perf"]["cost_usd"] == pytest.approx(price)
    totals = usage(live_stack, live_key)["totals"]
    assert totals["upstream_cost_usd"] == pytest.approx(upstream_price) == upstreams[fake].charges.micros() / 1e6


def test_a_masked_edit_the_upstream_partly_withholds_bills_only_what_was_delivered(
        live_stack: Stack, upstreams: Upstreams, live_key: str) -> None:
    bfl = upstreams["bfl"]
    bfl.knobs.moderate_output_indexes = bfl.output_indexes(1)
    out = edit(live_stack, live_key, model="flux-pro", image=files(png(512, 512)), n=2,
               mask=("mask.png", openai_mask(512, 512, (100, 100, 200, 200)), "image/png"))
    assert len(out["sizes"]) == 1 and out["perf"]["cost_usd"] == pytest.approx(0.055)
    assert fake_bfl.last_inputs(bfl.app)["mask"]["edit_box"] == (100, 100, 200, 200)
    # BFL charged both Fill tasks at submit; the ledger keeps what it cost us.
    assert usage(live_stack, live_key)["totals"]["upstream_cost_usd"] == pytest.approx(2 * 0.05)


# ---------------------------------------------------------------- refused before anything is sent

MASK = ("mask.png", openai_mask(512, 512, left_half(512, 512)), "image/png")
REFUSED = [  # model, images, mask, the parameter named
    ("gemini-3-pro-image", [png(512, 512)], MASK, "mask"),  # Gemini takes no mask
    ("flux-pro", [png(512, 512)] * 5, None, "image"),  # Kontext [pro] takes 4
    ("flux-pro", [png(512, 512)] * 2, MASK, "image"),  # Fill takes one image
    ("stable-diffusion-3", [png(512, 512)], None, "mask"),  # Stability only inpaints
    ("ideogram-2", [png(512, 512)], None, "mask"),  # so does Ideogram here
    ("flux-pro", [png(512, 512)], ("mask.png", openai_mask(512, 512, None), "image/png"), "mask"),  # nothing to edit
    ("stable-diffusion-3", [png(1800, 600)], ("mask.png", openai_mask(1800, 600, (0, 0, 9, 9)), "image/png"),
     "image"),  # 3:1 is past Stability's 2.5:1
]


@pytest.mark.parametrize(("model", "images", "mask", "param"), REFUSED)
def test_an_edit_the_route_cannot_make_is_400_naming_the_parameter_with_nothing_billed(
        live_stack: Stack, upstreams: Upstreams, live_key: str, model: str, images: list[bytes],
        mask: tuple[str, bytes, str] | None, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(live_stack, live_key).images.edit(model=model, image=files(*images), prompt="p",
                                              **({"mask": mask} if mask else {}))
    assert (refused.value.param, refused.value.type) == (param, "invalid_request")
    assert sum(r.requests("POST") for r in upstreams.running.values()) == 0
    totals = usage(live_stack, live_key)["totals"]
    assert (totals["billed_usd"], totals["upstream_cost_usd"], totals["failed_requests"]) == (0, 0, 1)


@pytest.mark.parametrize(("model", "fake"), [("flux-2-pro", "bfl"), ("stable-diffusion-3", "stability")])
def test_an_image_only_the_upstream_finds_undecodable_is_400_image_not_a_5xx(
        live_stack: Stack, upstreams: Upstreams, live_key: str, model: str, fake: str) -> None:
    # The gateway reads only headers; this one's are fine and its pixel data is not.
    mask = {"mask": MASK} if model == "stable-diffusion-3" else {}
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(live_stack, live_key).images.edit(model=model, image=files(undecodable_png(512, 512)), prompt="p", **mask)
    assert (refused.value.param, refused.value.type) == ("image", "invalid_request")
    assert upstreams[fake].requests("POST") == 1 and len(upstreams[fake].charges) == 0
    assert usage(live_stack, live_key)["totals"]["billed_usd"] == 0


@pytest.mark.parametrize(("model", "fake", "masked"), [
    ("flux-pro", "bfl", False), ("flux-pro", "bfl", True), ("stable-diffusion-3", "stability", True),
    ("ideogram-2", "ideogram", True), ("gemini-3-pro-image", "google", False)])
def test_an_edit_the_upstreams_moderation_refuses_is_content_policy_violation_billed_nothing(
        live_stack: Stack, upstreams: Upstreams, live_key: str, model: str, fake: str, masked: bool) -> None:
    upstreams[fake].knobs.moderate_input = True
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(live_stack, live_key).images.edit(model=model, image=files(png(512, 512)), prompt="p",
                                              **({"mask": MASK} if masked else {}))
    assert refused.value.type == "content_policy_violation"
    assert upstreams[fake].requests("POST") == 1  # it was asked, and said no
    totals = usage(live_stack, live_key)["totals"]
    assert (totals["billed_usd"], totals["failed_requests"]) == (0, 1)


def test_a_streamed_masked_edit_to_an_upstream_that_does_not_stream_gets_its_completed_event(
        live_stack: Stack, upstreams: Upstreams, live_key: str) -> None:
    stream = sdk(live_stack, live_key).images.edit(model="ideogram-2", image=files(png(W, H)), prompt="p",
                                                   mask=("mask.png", openai_mask(W, H, left_half(W, H)), "image/png"),
                                                   stream=True, partial_images=2)
    events = [event.type for event in stream]
    assert events == ["image_edit.completed"]  # Ideogram sends no partial images
    assert mask_received(upstreams, "ideogram")["edit_box"] == (0, 0, W // 2, H)
    assert usage(live_stack, live_key)["totals"]["billed_usd"] == pytest.approx(0.04)
