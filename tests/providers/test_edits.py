"""Edits at the BFL, Stability, Ideogram and Gemini adapters against their fakes: which endpoint, which
fields carry the images, the mask in each upstream's own convention over the right region, what was
charged, and the edits refused before anything is sent."""
from __future__ import annotations

from dataclasses import replace

import pytest

from perf.images.v1 import image_service_pb2 as pb
from server.accounting.ledger import LedgerDraft
from server.database.records import ApiKey
from server.errors import InvalidRequest, ProviderUnavailable
from server.pipeline.kinds import Rules, validate_edit
from server.pipeline.routing import Route
from server.providers.base import GeneratedImage
from server.providers.sandbox import SandboxProvider
from tests.edit_images import left_half, openai_mask, png, undecodable_png
from tests.fakes import bfl_edit as fake_bfl
from tests.fakes import gemini as fake_gemini
from tests.fakes.base import seen
from tests.fakes.testing import sync

from .support import CATALOG, LIFECYCLES, edit_job, live

RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)

# ---------------------------------------------------------------- BFL


@sync
async def test_bfl_kontext_edits_carry_the_images_as_input_image_fields_and_the_aspect_ratio() -> None:
    job = edit_job("flux-pro", [png(1200, 800, RED), png(300, 200, GREEN)], size="960x640", n=2)
    async with live("bfl") as (provider, c):
        result = await provider.generate(job)
    submits = [s for s in seen(c.app) if s.method == "POST"]
    assert [s.path for s in submits] == ["/v1/flux-kontext-pro"] * 2
    body = submits[0].body
    assert body["aspect_ratio"] == "3:2" and "width" not in body and "height" not in body
    assert (body["prompt"], body["output_format"], body["safety_tolerance"]) == ("make it night", "png", 2)
    inputs = fake_bfl.last_inputs(c.app)
    assert {name: info["size"] for name, info in inputs.items()} == {"input_image": (1200, 800),
                                                                     "input_image_2": (300, 200)}
    # Kontext makes ~1 MP at 3:2; delivered at the promised size, and BFL's own cost figure kept.
    assert [(i.width, i.height) for i in result.images] == [(960, 640)] * 2
    assert result.model_used == "flux-kontext-pro" and result.upstream_cost_micros == c.charges.micros() == 80_000


@sync
async def test_bfl_fill_gets_the_image_and_a_white_means_inpaint_mask_over_the_left_half() -> None:
    job = edit_job("flux-pro", [png(640, 480)], mask=openai_mask(640, 480, left_half(640, 480)))
    async with live("bfl") as (provider, c):
        result = await provider.generate(job)
    [submit] = [s for s in seen(c.app) if s.method == "POST"]
    assert submit.path == "/v1/flux-pro-1.0-fill"
    assert set(submit.body) == {"prompt", "image", "mask", "output_format", "safety_tolerance"}
    mask = fake_bfl.last_inputs(c.app)["mask"]
    assert mask["size"] == (640, 480) and mask["edit_share"] == 0.5 and mask["edit_box"] == (0, 0, 320, 480)
    assert [(i.width, i.height) for i in result.images] == [(640, 480)]
    assert result.upstream_cost_micros == 50_000  # Fill [pro]: 5 credits


@sync
async def test_flux_2_takes_every_reference_and_bfl_prices_the_input_megapixels() -> None:
    images = [png(1024, 1024, RED), png(512, 512, GREEN), png(512, 512, BLUE)]
    async with live("bfl") as (provider, c):
        result = await provider.generate(edit_job("flux-2-pro", images))
    body = [s for s in seen(c.app) if s.method == "POST"][0].body
    assert (body["width"], body["height"]) == (1024, 1024)
    assert [info["size"] for info in fake_bfl.last_inputs(c.app).values()] == [(1024, 1024), (512, 512), (512, 512)]
    # 3 credits for the first output MP + 1.5 per started input MP (1.5 MP in all → 2).
    assert result.upstream_cost_micros == 60_000


@sync
async def test_bfl_refuses_a_catalog_route_to_an_endpoint_that_takes_no_images() -> None:
    job = replace(edit_job("flux-pro", [png(64, 64)]), upstream_model="flux-pro-1.1")
    async with live("bfl") as (provider, c):
        with pytest.raises(ProviderUnavailable, match="edit route"):
            await provider.generate(job)
        with pytest.raises(InvalidRequest) as refused:  # a mask only Fill would honour
            await provider.generate(replace(job, upstream_model="flux-kontext-pro",
                                            mask=GeneratedImage(openai_mask(64, 64, (0, 0, 8, 8)), "image/png", 64, 64)))
    assert refused.value.param == "mask" and seen(c.app) == [] and len(c.charges) == 0


@pytest.mark.parametrize(("kind", "model", "masked"), [("bfl", "flux-pro", False), ("bfl", "flux-pro", True),
                                                     ("stability", "stable-diffusion-3", True)])
@sync
async def test_an_image_the_upstream_cannot_decode_is_the_callers_400_not_our_502(kind: str, model: str,
                                                                                  masked: bool) -> None:
    job = edit_job(model, [undecodable_png(256, 256)], mask=openai_mask(256, 256, (0, 0, 9, 9)) if masked else None)
    async with live(kind) as (provider, c):
        with pytest.raises(InvalidRequest) as refused:
            await provider.generate(job)
    assert refused.value.param == "image" and len(c.charges) == 0


# ---------------------------------------------------------------- Stability


@sync
async def test_stability_inpaints_with_files_and_a_white_mask_one_call_per_image() -> None:
    job = edit_job("stable-diffusion-3", [png(1024, 1024)], mask=openai_mask(1024, 1024, left_half(1024, 1024)), n=2)
    async with live("stability") as (provider, c):
        result = await provider.generate(job)
    sent = seen(c.app)
    assert [s.path for s in sent] == ["/v2beta/stable-image/edit/inpaint"] * 2
    body = sent[0].body
    assert "model" not in body and "aspect_ratio" not in body and body["output_format"] == "png"
    assert body["image"]["size"] == (1024, 1024) and body["mask"]["size"] == (1024, 1024)
    assert (body["mask"]["edit_share"], body["mask"]["edit_box"]) == (0.5, (0, 0, 512, 1024))
    assert [(i.width, i.height) for i in result.images] == [(1024, 1024)] * 2
    assert result.charged_images == 2 and c.charges.micros() == 100_000  # 5 credits a call


@pytest.mark.parametrize("size", [(3000, 1000), (60, 600)])
@sync
async def test_stability_refuses_an_image_outside_its_edit_limits_before_calling(size: tuple[int, int]) -> None:
    w, h = size
    job = edit_job("stable-diffusion-3", [png(w, h)], mask=openai_mask(w, h, left_half(w, h)))
    async with live("stability") as (provider, c):
        with pytest.raises(InvalidRequest) as refused:
            await provider.generate(job)
    assert refused.value.param == "image" and seen(c.app) == []


# ---------------------------------------------------------------- Ideogram


@pytest.mark.parametrize(("model", "quality", "speed", "micros"), [
    ("ideogram-2", None, "TURBO", 30_000), ("ideogram-4", "high", "QUALITY", 90_000)])
@sync
async def test_ideogram_inpaints_at_3_0_with_a_black_mask_at_the_deployments_speed(
        model: str, quality: str | None, speed: str, micros: int) -> None:
    job = edit_job(model, [png(800, 600)], mask=openai_mask(800, 600, left_half(800, 600)), n=2,
                   **({"quality": quality} if quality else {}))
    async with live("ideogram") as (provider, c):
        result = await provider.generate(job)
    [sent] = seen(c.app)[:1]
    assert sent.path == "/v1/ideogram-v3/inpaint"
    assert (sent.body["rendering_speed"], sent.body["num_images"], sent.body["prompt"]) == \
        ([speed], ["2"], ["make it night"])
    [mask] = sent.body["mask"]
    assert (mask["size"], mask["edit_share"], mask["edit_box"]) == ((800, 600), 0.5, (0, 0, 400, 600))
    assert len(result.images) == 2 and result.charged_images == 2 and c.charges.micros() == 2 * micros


# ---------------------------------------------------------------- Gemini


@sync
async def test_gemini_edits_send_the_images_inline_in_order_and_count_their_tokens() -> None:
    job = edit_job("gemini-3-pro-image", [png(1024, 1024, RED), png(300, 200, GREEN)])
    async with live("google") as (provider, c):
        result = await provider.generate(job)
    parts = seen(c.app)[0].body["contents"][0]["parts"]
    assert parts[0] == {"text": "make it night"} and [p["inlineData"]["mimeType"] for p in parts[1:]] == \
        ["image/png", "image/png"]
    assert [info["size"] for info in fake_gemini.last_inputs(c.app)] == [(1024, 1024), (300, 200)]
    assert result.usage is not None and result.usage.image_input == 258 * 4 + 258  # 768-px tiles; small: 258
    assert [(i.width, i.height) for i in result.images] == [(1024, 1024)]


@sync
async def test_gemini_never_drops_a_mask_silently() -> None:
    mask = GeneratedImage(openai_mask(64, 64, (0, 0, 8, 8)), "image/png", 64, 64)
    job = replace(edit_job("gemini-3-pro-image", [png(64, 64)]), mask=mask)
    async with live("google") as (provider, c):
        with pytest.raises(InvalidRequest) as refused:
            await provider.generate(job)
    assert refused.value.param == "mask" and seen(c.app) == []


@pytest.mark.parametrize(("model", "images", "mask", "param"), [
    ("gemini-3-pro-image", 1, True, "mask"), ("stable-diffusion-3", 1, False, "mask"), ("ideogram-2", 1, False, "mask"),
    ("flux-2-klein-4b", 5, False, "image"), ("flux-pro", 5, False, "image"), ("flux-pro", 2, True, "image")])
def test_the_router_refuses_what_the_catalog_route_cannot_do(model: str, images: int, mask: bool, param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        edit_job(model, [png(64, 64)] * images, mask=openai_mask(64, 64, (0, 0, 8, 8)) if mask else None)
    assert refused.value.param == param


@pytest.mark.parametrize(("mask", "upstream_model"), [(None, "flux-kontext-pro"), (True, "flux-pro-1.0-fill")])
def test_an_edit_rows_upstream_model_is_its_routes_even_when_it_fails(mask: bool | None, upstream_model: str) -> None:
    request = pb.EditImagesRequest(prompt="p", model="flux-pro", images=[png(64, 64)])
    if mask:
        request.mask = openai_mask(64, 64, (0, 0, 8, 8))
    key = ApiKey(id="key_x", mode="live", tier="pro", name="", hint="", created_at=0, revoked_at=None)
    draft = LedgerDraft.start("req_x", key, "edit", request, "dall-e-3")
    valid = validate_edit(request, Rules(CATALOG), False)
    draft.validated(valid)
    draft.routed(Route(SandboxProvider(), LIFECYCLES.serving(valid.model)))
    draft.failed("content_policy_violation")
    assert draft.entry(0).upstream_model == upstream_model
