"""Deployments are catalog data: the loader refuses a mistranslated one, and routing applies it to live
keys only (test keys keep the sandbox job exactly as before)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from perf.images.v1 import image_service_pb2 as pb
from server.catalog import CatalogError, load_catalog
from server.catalog.loader import DEFAULT_PATH
from server.database.records import ApiKey
from server.pipeline.kinds import Rules, validate_generation
from server.pipeline.routing import Router
from server.providers.sandbox import SandboxProvider

from .support import CATALOG, LIFECYCLES, job


def key(mode: str) -> ApiKey:
    return ApiKey(id="key_x", mode=mode, tier="pro", name="", hint="", created_at=0, revoked_at=None)


@pytest.mark.parametrize(("edit", "message"), [
    ('quality = { standard = "medium", hd = "high" }', 'quality = { standard = "medium" }'),
    ('upstream_model = "gpt-image-2"', 'upstream_model = ""'),
    ('size = { "256x256" = "1024x1024", "512x512" = "1024x1024" }', 'size = { "256x256" = "big" }'),
    ('size = { "256x256" = "1024x1024", "512x512" = "1024x1024" }', 'size = { "2048x2048" = "1024x1024" }'),
    ('[deployments."ideogram-2/ideogram-v4-turbo"]', '[deployments.midjourney]'),
    ('upstream_model = "V_4"\nparams', 'upstream_model = "V_4"\nregion = "eu"\nparams'),
    ('params = { safety_tolerance = 2 }', 'params = { safety_tolerance = [2] }'),
])
def test_mistranslated_deployments_refuse_to_load(tmp_path: Path, edit: str, message: str) -> None:
    text = DEFAULT_PATH.read_text()
    assert edit in text
    broken = tmp_path / "models.toml"
    broken.write_text(text.replace(edit, message, 1))
    with pytest.raises(CatalogError, match="deployment"):
        load_catalog(broken)


def test_every_seed_model_is_served_today_by_a_current_upstream_model() -> None:
    served = {m.id: LIFECYCLES.serving(m).upstream_model for m in CATALOG.models.values()}  # type: ignore[union-attr]
    assert {k: served[k] for k in list(served)[:7]} == {
        "dall-e-3": "gpt-image-2", "dall-e-2": "gpt-image-2", "stable-diffusion-3": "sd3.5-medium",
        "flux-pro": "flux-pro-1.1", "flux-dev": "flux-2-klein-9b", "ideogram-2": "V_4",
        "imagen-3": "gemini-nano-banana-2.1"}


def test_live_job_translates_and_carries_a_deadline_with_margin() -> None:
    before = time.monotonic()
    hd = job("dall-e-3", size="1024x1792", quality="hd", style="natural", time_remaining=30)
    assert (hd.upstream_model, hd.quality, hd.style, hd.width, hd.height, hd.upstream_size) == \
        ("gpt-image-2", "high", None, 1024, 1792, None)
    assert before + 28.9 <= hd.deadline <= time.monotonic() + 29.0  # 1 s kept back to answer in time
    small = job("dall-e-2", size="256x256", n=4, time_remaining=None)
    assert (small.upstream_size, small.quality, small.n, small.deadline) == ((1024, 1024), "low", 4, None)
    assert job("flux-pro", size="1000x700").extras == {"safety_tolerance": 2}


def test_test_keys_get_the_untranslated_sandbox_job() -> None:
    sandbox = SandboxProvider()
    router = Router(CATALOG, LIFECYCLES, sandbox, {"openai": sandbox})
    valid = validate_generation(pb.GenerateImagesRequest(prompt="p", model="dall-e-3", quality="hd"), Rules(CATALOG),
                                False)
    test_route = router.route(key("test"), valid)
    sandbox_job = router.job_for(test_route, valid, 5.0)
    assert (sandbox_job.upstream_model, sandbox_job.quality, sandbox_job.style, sandbox_job.deadline) == \
        ("dall-e-3", "hd", "vivid", None)
    assert test_route.sandbox and test_route.deployment.id == "dall-e-3/gpt-image-2"  # type: ignore[union-attr]
    assert router.job_for(router.route(key("live"), valid), valid, 5.0).upstream_model == "gpt-image-2"
