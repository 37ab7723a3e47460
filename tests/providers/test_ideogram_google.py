"""Ideogram (legacy JSON and 3.0 multipart) and Google Imagen (Gemini API and Vertex AI) against their
fakes: translation, downloads, partial moderation and failures with charges counted."""
from __future__ import annotations

import pytest

from server.errors import ContentPolicyViolation, ProviderUnavailable, UpstreamError
from tests.fakes.base import seen
from tests.fakes.testing import sync

from .support import job, live, repointed

# ---------------------------------------------------------------- Ideogram


@sync
async def test_ideogram_legacy_v2_json_with_aspect_ratio_and_downloads() -> None:
    async with live("ideogram") as (provider, c):
        result = await provider.generate(job("ideogram-2", size="1920x1080", n=2))
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
        result = await provider.generate(job("ideogram-2", n=3))
        assert (len(result.images), result.filtered) == (2, 1)
        c.knobs.moderate_output_indexes = {0, 1}
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(job("ideogram-2", n=2))
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
async def test_imagen_3_is_served_by_imagen_4_on_both_surfaces(surface: str) -> None:
    async with live(surface) as (provider, c):
        result = await provider.generate(job("imagen-3", n=2))
    [sent] = seen(c.app)
    if surface == "google":
        assert sent.path == "/v1beta/models/imagen-4.0-generate-001:predict"
        assert sent.headers["x-goog-api-key"] == "test-key"
    else:
        assert sent.path == ("/v1/projects/proj/locations/us-central1/publishers/google/models/"
                             "imagen-4.0-generate-001:predict")
        assert sent.headers["Authorization"] == "Bearer test-key"
    assert sent.body["parameters"]["sampleCount"] == 2 and sent.body["parameters"]["aspectRatio"] == "1:1"
    assert [(i.width, i.height) for i in result.images] == [(1024, 1024)] * 2
    assert result.model_used == "imagen-4.0-generate-001" and c.charges.images() == 2


@sync
async def test_imagen_partial_and_full_filtering() -> None:
    async with live("google", moderate_output_indexes={1}) as (provider, c):
        result = await provider.generate(job("imagen-3", n=3))
        assert (len(result.images), result.filtered) == (2, 1)
        c.knobs.moderate_output_indexes = {0, 1}
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(job("imagen-3", n=2))
    assert c.charges.images() == 2  # Google does not bill filtered images either


@sync
async def test_imagen_refused_prompt_rejected_key_and_quota() -> None:
    async with live("google", moderate_input=True) as (provider, c):
        with pytest.raises(ContentPolicyViolation):
            await provider.generate(job("imagen-3"))
        c.knobs.moderate_input = False
        c.knobs.rate_limit_next, c.knobs.retry_after_s = 1, 0.1  # RetryInfo in the body, no header
        assert len((await provider.generate(job("imagen-3"))).images) == 1
        c.knobs.rate_limit_next, c.knobs.retry_after_s = 1, 40
        with pytest.raises(ProviderUnavailable) as caught:
            await provider.generate(job("imagen-3", time_remaining=5))
        assert caught.value.retry_after == 40
        c.knobs.expected_api_key = "rotated"  # Gemini answers 400 API_KEY_INVALID
        with pytest.raises(ProviderUnavailable, match="GEMINI_API_KEY"):
            await provider.generate(job("imagen-3"))
        c.knobs.expected_api_key = "test-key"
        c.knobs.malformed_body_next = 1
        with pytest.raises(UpstreamError):
            await provider.generate(job("imagen-3"))
    assert len(c.charges) == 2
