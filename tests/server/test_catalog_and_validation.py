"""Catalog loading and request validation as pure functions."""
from __future__ import annotations

from pathlib import Path

import pytest

from perf.images.v1 import image_service_pb2 as pb
from server.catalog import CatalogError, load_catalog
from server.catalog.loader import DEFAULT_PATH
from server.catalog.model import CustomSizes
from server.catalog.pricing import PerImage
from server.catalog.sizes import deliverable_size
from server.errors import InvalidRequest, NotFound
from server.pipeline.kinds import Rules, validate_generation

CATALOG = load_catalog()


SEED = ["dall-e-3", "dall-e-2", "stable-diffusion-3", "flux-pro", "flux-dev", "ideogram-2", "imagen-3"]


def test_catalog_has_the_seven_public_models_with_seed_prices() -> None:
    assert list(CATALOG.models)[:7] == SEED
    seed_prices = {
        "dall-e-3": {("1024x1024", "standard"): 40_000, ("1024x1024", "hd"): 80_000,
                     ("1792x1024", "standard"): 80_000, ("1792x1024", "hd"): 120_000,
                     ("1024x1792", "standard"): 80_000, ("1024x1792", "hd"): 120_000},
        "dall-e-2": {("256x256", "standard"): 16_000, ("512x512", "standard"): 18_000,
                     ("1024x1024", "standard"): 20_000},
        "stable-diffusion-3": {("any", "standard"): 35_000}, "flux-pro": {("any", "standard"): 55_000},
        "flux-dev": {("any", "standard"): 25_000}, "ideogram-2": {("any", "standard"): 40_000},
        "imagen-3": {("any", "standard"): 40_000},
    }
    for model, prices in seed_prices.items():
        price = CATALOG.models[model].price
        assert isinstance(price, PerImage) and price.prices == prices, model


@pytest.mark.parametrize(("edit", "message"), [
    (('max_n = 1\nsizes = ["1024x1024", "1792x1024"', 'max_n = 0\nsizes = ["1024x1024", "1792x1024"'), "max_n"),
    (('{ size = "1792x1024", quality = "hd", usd = "0.120" },', ""), "no price for 1792x1024 hd"),
    (('usd = "0.016"', 'usd = "0.0160001"'), "micro-dollar"),
    (('provider = "google"', 'provider = "nobody"'), "unknown provider"),
    (('upstream_price = { per_image = [{ size = "any", quality = "standard", usd = "0.065" }] }',
          'not_a_price = { per_image = [{ size = "any", quality = "standard", usd = "0.065" }] }'), "unknown keys"),
    (('deployments = ["flux-2-max/bfl"]', 'deployments = ["flux-2-max/nowhere"]'), "no deployment"),
    (('deployments = ["flux-2-max/bfl"]', 'deployments = ["flux-2-pro/bfl"]'), "serves both"),
    (('successor = "imagen-3/gemini-nano-banana-2.1"', 'successor = "imagen-3/imagen-4.0-generate-001"'), "loops"),
    (('shutdown_on = 2026-08-17', 'shutdown_on = "2026-08-17"'), "must be a date"),
    (('first_mp = "0.03", extra_mp = "0.015"', 'first_mp = "0.03"'), "missing extra_mp"),
    (('output_per_megapixel = { auto = 5200, low = 340, medium = 1320, high = 5200 }\ninput_per_megapixel = 1600\n\n[models.flux-2-pro]',
      'input_per_megapixel = 1600\n\n[models.flux-2-pro]'), "exactly one of output_per_megapixel"),
    (('step = 32, min_side = 256, max_side = 1440 }\ndeployments = ["flux-pro/flux-pro-1.1",',
      'step = 30, min_side = 256, max_side = 1440 }\ndeployments = ["flux-pro/flux-pro-1.1",'), "multiples of step"),
])
def test_catalog_mistakes_refuse_to_load(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    text = DEFAULT_PATH.read_text()
    assert edit[0] in text
    broken = tmp_path / "models.toml"
    broken.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(CatalogError, match=message):
        load_catalog(broken)


@pytest.mark.parametrize(("custom", "request_size", "delivered"), [
    (CustomSizes("grid", step=32, min_side=256, max_side=1440), (1920, 1080), (1440, 800)),
    (CustomSizes("grid", step=32, min_side=256, max_side=1440), (100, 100), (256, 256)),
    (CustomSizes("grid", step=32, min_side=256, max_side=1440), (1000, 700), (992, 704)),
    (CustomSizes("grid", step=32, min_side=256, max_side=1440), (64, 4096), (256, 1440)),
    (CustomSizes("nearest_of", deliverable=((1024, 1024), (1344, 768), (768, 1344))), (1920, 1080), (1344, 768)),
    (CustomSizes("nearest_of", deliverable=((1024, 1024), (1344, 768), (768, 1344))), (500, 520), (1024, 1024)),
])
def test_custom_sizes_map_to_what_the_upstream_delivers(custom: CustomSizes, request_size: tuple[int, int],
                                                       delivered: tuple[int, int]) -> None:
    assert deliverable_size(custom, *request_size) == delivered


RULES = Rules(CATALOG)


def test_validation_fills_defaults_and_prices() -> None:
    valid = validate_generation(pb.GenerateImagesRequest(prompt="p"), RULES, False)
    assert (valid.model.id, valid.n, valid.size, valid.quality, valid.style, valid.response_format) == \
        ("dall-e-3", 1, "1024x1024", "standard", "vivid", "url")
    assert valid.estimate_micros == 40_000
    flux = validate_generation(pb.GenerateImagesRequest(prompt="p", model="flux-pro", n=4, size="2000x1000"), RULES, False)
    assert (flux.size, flux.estimate_micros, flux.style) == ("1440x704", 220_000, None)


def test_validation_errors_name_params() -> None:
    with pytest.raises(NotFound) as unknown:
        validate_generation(pb.GenerateImagesRequest(prompt="p", model="nope"), RULES, False)
    assert unknown.value.param == "model"
    with pytest.raises(InvalidRequest) as budget:
        validate_generation(pb.GenerateImagesRequest(prompt="p", model="dall-e-2", n=10, max_cost_per_call=0.199), RULES, False)
    assert budget.value.param == "max_cost_per_call"
    assert validate_generation(pb.GenerateImagesRequest(prompt="p", model="dall-e-2", n=10, max_cost_per_call=0.2),
                               RULES, False).estimate_micros == 200_000
    emoji = "👩‍👩‍👧‍👦"  # 7 code points
    assert validate_generation(pb.GenerateImagesRequest(prompt=emoji * 571), RULES, False)
    with pytest.raises(InvalidRequest):
        validate_generation(pb.GenerateImagesRequest(prompt=emoji * 572), RULES, False)
