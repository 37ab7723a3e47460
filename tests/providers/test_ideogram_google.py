"""Ideogram (4.0 and 3.0 multipart, legacy JSON) and Google (Gemini image models on generateContent,
legacy Imagen :predict; Gemini API and Vertex AI) against their fakes: translation, downloads, partial
moderation, failures with charges counted, and the "model is gone" signal."""
from __future__ import annotations

import pytest

from server.errors import ContentPolicyViolation, ModelGone, ProviderUnavailable, UpstreamError
from tests.fakes.base import seen
from tests.fakes.testing import sync

from .support import job, live, repointed

# ---------------------------------------------------------------- Ideogram


@sync
async def test_ideogram_2_is_served_by_ideogram_4_turbo_one_image_per_call() -> None:
    async with live("ideogram") as (provider, c):
        result = await provider.generate(job("ideogram-2", size="1920x1080", n=2))
    sent = seen(c.app)
    assert [s.path for s in sent] == ["/v1/ideogram-v4/generate"] * 2
    assert sent[0].body == {"text_prompt": ["a red fox in snow"], "aspect_ratio": ["16x9"],
                            "rendering_speed": ["TURBO"]}
    assert [(i.width, i.height) for i in result.images] == [(1312, 736)] * 2
    assert result.model_used == "V_4" and result.charged_images == 2
    assert [ch.micros for ch in c.charges] == [30_000, 30_000]  # 4.0 Turbo, $0.03 an image


@sync
async def test_ideogram_4_quality_is_its_rendering_speed_and_a_gone_endpoint_is_model_gone() -> None:
    async with live("ideogram") as (provider, c):
        await provider.generate(job("ideogram-4", quality="high"))
        assert seen(c.app)[0].body["rendering_speed"] == ["QUALITY"]
        c.knobs.retired_models = {"V_4"}
        with pytest.raises(ModelGone) as gone:
            await provider.generate(job("ideogram-4"))
    assert gone.value.retry_safe is True and len(c.charges) == 1


@sync
async def test_ideogram_legacy_v2_json_with_aspect_ratio_and_downloads() -> None:
    async with live("ideogram") as (provider, c):
        result = await provider.generate(repointed(job("ideogram-2", size="1920x1080", n=2), upstream_model="V_2",
                                                   extras={}))
    [sent] = seen(c.app)
    assert sent.path == "/generate" and sent.headers["Api-Key"] == "test-key"
    assert sent.body == {"image_request": {"prompt": "a red fox in snow", "model": "V_2",
                                           "aspect_ratio": "ASPECT_16_9", "num_images": 2}}
    assert [(i.width, i.height) for i in result.images] == [(1312, 736)] * 2
    assert result.model_used == "V_2" and c.charges.images() == 2


@sync
async def test_ideogram_v3_multipart_when_repointed() -> None:
    async with live("ideogram") as (provider, c):
        base = job("ideogram-2", size="1920x1080")
        result = await provider.generate(repointed(base, upstream_model="V_3",
                                                   extras={"rendering_speed": "TURBO", "magic_prompt": "OFF"}))
    [sent] = seen(c.app)
    assert sent.path == "/v1/ideogram-v3/generate"
    assert (sent.body["aspect_ratio"], sent.body["rendering_speed"], sent.body["num_images"]) == \
        (["16x9"], ["TURBO"], ["1"])
    assert len(result.images) == 1 and result.model_used == "V_3"


@sync
async def test_ideogram_unsafe_items_are_withheld_and_the_rest_delivered() -> None:
    async with live("ideogram", moderate_output_indexes={1}) as (provider, c):
        v3 = repointed(job("ideogram-2", n=3), upstream_model="V_3", extras={})
        result = await provider.generate(v3)
        assert (len(result.images), result.filtered, result.charged_images) == (2, 1, 3)
        c.knobs.moderate_output_indexes = {3, 4}  # the next call's two images
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(repointed(v3, n=2))
    assert c.charges.images() == 5  # Ideogram bills withheld images; we bill only delivered ones


@sync
async def test_ideogram_input_moderation_rate_limit_and_failures() -> None:
    async with live("ideogram", moderate_input=True) as (provider, c):
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(job("ideogram-2"))
        c.knobs.moderate_input = False
        c.knobs.fail_after_charge_next = 1
        with pytest.raises(UpstreamError):
            await provider.generate(job("ideogram-2"))
        assert len(c.charges) == 1
        c.knobs.rate_limit_next, c.knobs.retry_after_s = 1, 0.1
        assert len((await provider.generate(job("ideogram-2"))).images) == 1
        c.knobs.expected_api_key = "rotated"
        with pytest.raises(ProviderUnavailable, match="IDEOGRAM_API_KEY"):
            await provider.generate(job("ideogram-2"))
    assert len(c.charges) == 2 and len(seen(c.app)) == 4


# ---------------------------------------------------------------- Google


@pytest.mark.parametrize("surface", ["google", "vertex"])
@sync
async def test_imagen_3_is_served_by_gemini_on_generate_content_on_both_surfaces(surface: str) -> None:
    async with live(surface) as (provider, c):
        result = await provider.generate(job("imagen-3", n=2))
    sent = seen(c.app)
    if surface == "google":
        assert [s.path for s in sent] == ["/v1beta/models/gemini-nano-banana-2.1:generateContent"] * 2
        assert sent[0].headers["x-goog-api-key"] == "test-key"
    else:
        assert sent[0].path == ("/v1/projects/proj/locations/us-central1/publishers/google/models/"
                                "gemini-nano-banana-2.1:generateContent")
        assert sent[0].headers["Authorization"] == "Bearer test-key"
    assert sent[0].body == {"contents": [{"role": "user", "parts": [{"text": "a red fox in snow"}]}],
                            "generationConfig": {"responseModalities": ["IMAGE"],
                                                 "imageConfig": {"aspectRatio": "1:1", "imageSize": "1K"}}}
    assert [(i.width, i.height) for i in result.images] == [(1024, 1024)] * 2
    assert result.model_used == "gemini-nano-banana-2.1" and c.charges.images() == 2
    assert result.usage is not None and result.usage.image_output == 2 * 1120


@sync
async def test_gemini_sizes_map_to_ratio_and_tier() -> None:
    async with live("google") as (provider, c):
        result = await provider.generate(job("gemini-3-pro-image", size="4096x2304"))
    assert seen(c.app)[0].body["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "4K"}
    assert [(i.width, i.height) for i in result.images] == [(5504, 3072)]
    assert result.usage is not None and result.usage.image_output == 2000  # the Pro model's 4K image


@sync
async def test_gemini_refusals_are_content_policy_and_partial_ones_deliver_the_rest() -> None:
    async with live("google", moderate_output_indexes={1}) as (provider, c):
        result = await provider.generate(job("imagen-3", n=3))
        assert (len(result.images), result.filtered) == (2, 1)
        # We bill what was delivered; Google bills all three calls' tokens.
        assert result.usage is not None and result.usage.image_output == 2 * 1120
        assert result.charged_usage is not None and result.charged_usage.text_output == 3 * 12
        c.knobs.moderate_output_indexes = {3, 4}  # the next two calls: IMAGE_SAFETY, no image part
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(job("imagen-3", n=2))
        c.knobs.moderate_input = True  # promptFeedback.blockReason, no candidates
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(job("imagen-3"))


@sync
async def test_a_gone_gemini_model_is_model_gone_and_the_listing_is_read_page_by_page() -> None:
    async with live("google", retired_models={"gemini-nano-banana-2.1"}) as (provider, c):
        with pytest.raises(ModelGone) as gone:
            await provider.generate(job("imagen-3"))
        listed = await provider.list_models()  # type: ignore[attr-defined]
    assert gone.value.retry_safe is True and len(c.charges) == 0
    names = {m.id for m in listed}
    assert "gemini-3-pro-image" in names and "gemini-nano-banana-2.1" not in names


def imagen(base: object) -> object:
    """The job as the retired imagen-3 deployment (Imagen 4 on :predict) made it."""
    return repointed(base, upstream_model="imagen-4.0-generate-001",  # type: ignore[arg-type]
                     extras={"personGeneration": "allow_adult"})


@sync
async def test_legacy_imagen_predict_partial_and_full_filtering() -> None:
    async with live("google", moderate_output_indexes={1}) as (provider, c):
        result = await provider.generate(imagen(job("imagen-3", n=3)))  # type: ignore[arg-type]
        assert (len(result.images), result.filtered) == (2, 1)
        assert seen(c.app)[0].path == "/v1beta/models/imagen-4.0-generate-001:predict"
        c.knobs.moderate_output_indexes = {0, 1}
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(imagen(job("imagen-3", n=2)))  # type: ignore[arg-type]
    assert c.charges.images() == 2  # Google does not bill filtered images either


@sync
async def test_legacy_imagen_refused_prompt_rejected_key_and_quota() -> None:
    async with live("google", moderate_input=True) as (provider, c):
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(imagen(job("imagen-3")))  # type: ignore[arg-type]
        c.knobs.moderate_input = False
        c.knobs.rate_limit_next, c.knobs.retry_after_s = 1, 0.1  # RetryInfo in the body, no header
        assert len((await provider.generate(imagen(job("imagen-3")))).images) == 1  # type: ignore[arg-type]
        c.knobs.rate_limit_next, c.knobs.retry_after_s = 1, 40
        with pytest.raises(ProviderUnavailable) as caught:
            await provider.generate(imagen(job("imagen-3", time_remaining=5)))  # type: ignore[arg-type]
        assert caught.value.retry_after == 40
        c.knobs.expected_api_key = "rotated"  # Gemini answers 400 API_KEY_INVALID
        with pytest.raises(ProviderUnavailable, match="GEMINI_API_KEY"):
            await provider.generate(imagen(job("imagen-3")))  # type: ignore[arg-type]
        c.knobs.expected_api_key = "test-key"
        c.knobs.malformed_body_next = 1
        with pytest.raises(UpstreamError):
            await provider.generate(imagen(job("imagen-3")))  # type: ignore[arg-type]
    assert len(c.charges) == 2
