"""OpenAI edits and variations against the fake `/v1/images/edits` over sockets: the multipart form as the
official SDK sends it, what the fake received byte for byte, sizes, the DALL·E wire, and the failure classes
with the upstream's charges counted."""
from __future__ import annotations

from typing import Any

import pytest

from server.errors import ContentPolicyViolation, UpstreamError
from tests.fakes.base import seen
from tests.fakes.images import make_image
from tests.fakes.openai_edits import input_image_tokens, last_upload
from tests.fakes.testing import sync

from .support import CATALOG, edit_job, live, repointed, variation_job

MASK = make_image(1024, 1024, "png", transparent=True)  # alpha 0 outside the centred half: 3/4 to edit
IMAGE = make_image(1024, 1024, "png")


def text_fields(body: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in body.items() if isinstance(v, str)}


@pytest.mark.parametrize("quality", ["low", "high"])
@sync
async def test_an_edit_sends_image_and_mask_as_the_sdk_does_and_reports_input_tokens(quality: str) -> None:
    async with live("openai") as (provider, c):
        result = await provider.generate(edit_job("gpt-image-2", [IMAGE], mask=MASK, size="1024x1024",
                                                  quality=quality))
    [sent] = seen(c.app)
    assert sent.path == "/v1/images/edits"
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert text_fields(sent.body) == {"model": "gpt-image-2", "prompt": "make it night", "n": "1",
                                      "size": "1024x1024", "quality": quality, "output_format": "png",
                                      "background": "auto"}
    [part] = sent.body["image[]"]
    assert (part["filename"], part["content_type"], part["size"]) == ("image-1.png", "image/png", (1024, 1024))
    [mask] = sent.body["mask"]
    assert (mask["filename"], mask["content_type"], mask["edit_share"]) == ("mask.png", "image/png", 0.75)
    assert "image" not in sent.body and "moderation" not in sent.body  # the edit endpoint takes no moderation
    upload = last_upload(c.app)
    assert upload.images == [IMAGE] and upload.mask == MASK  # byte for byte
    [image] = result.images
    assert (image.width, image.height, image.mime) == (1024, 1024, "image/png")
    assert result.usage is not None and result.usage.image_input == input_image_tokens(1024, 1024, "low")
    assert result.usage.text_input >= 1 and result.usage.image_output > 0
    assert [(ch.model, ch.n) for ch in c.charges] == [("gpt-image-2", 1)]


@sync
async def test_three_images_of_three_types_are_three_image_parts_named_by_their_type() -> None:
    images = [make_image(512, 512, "png"), make_image(1536, 1024, "jpeg"), make_image(300, 900, "webp")]
    async with live("openai") as (provider, c):
        result = await provider.generate(edit_job("gpt-image-2", images, size="1024x1024", n=2,
                                                  output_format="webp", output_compression=40))
    sent = seen(c.app)[0].body
    assert [(p["filename"], p["content_type"], p["type"], p["size"]) for p in sent["image[]"]] == [
        ("image-1.png", "image/png", "png", (512, 512)), ("image-2.jpg", "image/jpeg", "jpeg", (1536, 1024)),
        ("image-3.webp", "image/webp", "webp", (300, 900))]
    assert last_upload(c.app).images == images and last_upload(c.app).mask is None
    assert (sent["n"], sent["output_format"], sent["output_compression"]) == ("2", "webp", "40")
    assert [i.mime for i in result.images] == ["image/webp"] * 2  # made as asked: nothing to convert
    expected = sum(input_image_tokens(w, h, "low") for w, h in [(512, 512), (1536, 1024), (300, 900)])
    assert result.usage is not None and result.usage.image_input == expected
    assert c.charges.images() == 2


@sync
async def test_an_edit_without_a_size_is_size_auto_and_delivered_as_the_upstream_made_it() -> None:
    portrait = make_image(800, 1200, "png")
    made = edit_job("gpt-image-2", [portrait])
    assert made.size_auto and (made.width, made.height) == (1536, 1024)  # the largest auto may choose
    async with live("openai") as (provider, c):
        result = await provider.generate(made)
    assert seen(c.app)[0].body["size"] == "auto"
    [image] = result.images
    assert (image.width, image.height) == (1024, 1536)  # OpenAI's auto for a portrait input, not conformed


@pytest.mark.parametrize(("size", "delivered"), [("1024x1024", (1024, 1024)), ("256x256", (256, 256))])
@sync
async def test_a_variation_is_an_edit_of_the_one_image_with_the_catalog_prompt(size: str,
                                                                             delivered: tuple[int, int]) -> None:
    source = make_image(512, 512, "png")
    async with live("openai") as (provider, c):
        result = await provider.generate(variation_job("dall-e-2", source, n=2, size=size))
    [sent] = seen(c.app)
    assert sent.path == "/v1/images/edits"
    prompt = CATALOG.models["dall-e-2"].variation_prompt
    assert text_fields(sent.body) | {"prompt": prompt} == {
        "model": "gpt-image-2", "prompt": prompt, "n": "2", "size": "1024x1024", "quality": "low",
        "output_format": "png", "background": "auto"}
    assert sent.body["prompt"] == prompt and last_upload(c.app).images == [source]
    assert "mask" not in sent.body
    assert [(i.width, i.height) for i in result.images] == [delivered] * 2  # made at 1024, resized locally
    assert result.model_used == "gpt-image-2" and c.charges.images() == 2


@sync
async def test_a_rate_limited_edit_is_retried_with_the_whole_form_and_charged_once() -> None:
    async with live("openai", rate_limit_next=1, retry_after_s=0.1) as (provider, c):
        result = await provider.generate(edit_job("gpt-image-2", [IMAGE], mask=MASK, size="1024x1024"))
    first, second = seen(c.app)
    assert first.body == second.body and len(second.body["image[]"]) == 1 and len(second.body["mask"]) == 1
    assert last_upload(c.app).images == [IMAGE] and last_upload(c.app).mask == MASK
    assert len(result.images) == 1 and len(c.charges) == 1


@pytest.mark.parametrize("knobs", [{"moderate_input": True}, {"moderate_output_indexes": {0}}])
@sync
async def test_a_refused_edit_is_content_policy_violation_and_never_charged(knobs: dict[str, Any]) -> None:
    async with live("openai", **knobs) as (provider, c):
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(edit_job("gpt-image-2", [IMAGE], mask=MASK, size="1024x1024"))
    assert len(c.charges) == 0


@pytest.mark.parametrize(("knob", "charges"), [("fail_after_charge_next", 1), ("malformed_body_next", 1),
                                               ("fail_before_charge_next", 0)])
@sync
async def test_an_edit_failing_after_submit_is_502_and_never_resubmitted(knob: str, charges: int) -> None:
    async with live("openai", **{knob: 1}) as (provider, c):
        with pytest.raises(UpstreamError) as failed:
            await provider.generate(edit_job("gpt-image-2", [IMAGE], size="1024x1024"))
    assert failed.value.retry_safe is False
    assert len(seen(c.app)) == 1 and len(c.charges) == charges


@sync
async def test_an_edit_the_upstream_refuses_as_invalid_is_502_not_the_callers_400() -> None:
    # gpt-image-2 takes no input_fidelity; a catalog that let one through is our mistake, not the caller's.
    async with live("openai") as (provider, c):
        with pytest.raises(UpstreamError, match="status 400"):
            await provider.generate(repointed(edit_job("gpt-image-2", [IMAGE]), input_fidelity="high"))
    assert seen(c.app)[0].body["input_fidelity"] == "high" and len(c.charges) == 0


@sync
async def test_input_fidelity_is_sent_where_the_upstream_model_takes_it() -> None:
    async with live("openai") as (provider, c):
        result = await provider.generate(repointed(edit_job("gpt-image-2", [IMAGE]), upstream_model="gpt-image-1.5",
                                                   input_fidelity="high"))
    sent = seen(c.app)[0].body
    assert (sent["model"], sent["input_fidelity"]) == ("gpt-image-1.5", "high")
    assert result.usage is not None and result.usage.image_input == input_image_tokens(1024, 1024, "high")


@sync
async def test_the_dalle_wire_for_an_operator_who_repoints_edits_to_dall_e_2() -> None:
    async with live("openai") as (provider, c):
        base = edit_job("dall-e-2", [IMAGE], mask=MASK, size="512x512")
        result = await provider.generate(repointed(base, upstream_model="dall-e-2", quality=""))
    sent = seen(c.app)[0].body
    assert text_fields(sent) == {"model": "dall-e-2", "prompt": "make it night", "n": "1", "size": "1024x1024",
                                 "response_format": "b64_json"}  # no gpt-image fields on the DALL·E wire
    [image] = result.images
    assert (image.width, image.height) == (512, 512) and result.usage is None
    assert [(ch.model, ch.n) for ch in c.charges] == [("dall-e-2", 1)]
