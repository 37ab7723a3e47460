"""Price models and lifecycle routing over the shipped catalog, as pure functions."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from server.catalog import CatalogError, load_catalog
from server.catalog.lifecycle import LifecycleError, Lifecycles, check_lifecycle
from server.catalog.loader import DEFAULT_PATH
from server.catalog.pricing import PerMegapixel, PerToken, TokenUsage, Work

CATALOG = load_catalog()
TODAY = dt.date(2026, 12, 1)


def work(model_id: str, quality: str, size: str = "1024x1024", n: int = 1) -> Work:
    w, h = (int(v) for v in size.split("x"))
    return Work(n=n, width=w, height=h, quality=quality, size=size, prompt_bytes=200)


@pytest.mark.parametrize("model_id", list(CATALOG.models))
def test_no_model_costs_nothing_unless_its_price_is_nothing(model_id: str) -> None:
    model = CATALOG.models[model_id]
    for quality in model.qualities:
        job = work(model_id, quality)
        assert model.price.estimate(job) > 0, (model_id, quality)
        assert model.price.settle(job, 1, None) > 0, (model_id, quality)
        if isinstance(model.price, PerToken):
            reported = TokenUsage(text_input=50, image_output=272)
            assert 0 < model.price.settle(job, 1, reported) <= model.price.estimate(job)
    for deployment_id in model.deployments:
        deployment = CATALOG.deployments[deployment_id]
        assert deployment.upstream_price.settle(work(model_id, model.qualities[0]), 1, None) > 0, deployment_id


def test_per_megapixel_bills_each_started_megapixel() -> None:
    price = CATALOG.models["flux-2-pro"].price
    assert isinstance(price, PerMegapixel)
    assert price.estimate(work("flux-2-pro", "standard")) == 30_000  # 1024x1024 is one megapixel
    assert price.settle(work("flux-2-pro", "standard", "1024x1040"), 1) == 30_000 + 15_000  # a second one started
    assert price.settle(work("flux-2-pro", "standard", "1440x1440"), 1) == 30_000 + 15_000  # 1.98
    with_input = Work(n=2, width=1024, height=1024, quality="standard", size="1024x1024", input_pixels=(1_500_000,))
    assert price.estimate(with_input) == 2 * (30_000 + 2 * 15_000)


def test_per_token_estimates_are_upper_bounds_of_what_gpt_image_reports() -> None:
    price = CATALOG.models["gpt-image-2"].price
    assert isinstance(price, PerToken)
    # What the fake (gpt-image-1's table) reports for 1024x1024 at each quality, 3 images.
    for quality, per_image in {"low": 272, "medium": 1056, "high": 4160}.items():
        reported = TokenUsage(text_input=len(b"a fox"), image_output=3 * per_image)
        job = Work(n=3, width=1024, height=1024, quality=quality, size="1024x1024", prompt_bytes=5)
        assert price.settle(job, 3, reported) < price.estimate(job)
    assert price.cost(TokenUsage(text_input=1_000_000)) == 5_000_000
    assert price.cost(TokenUsage(image_output=1)) == 30  # $30 per million, in micro-dollars, rounded up


def test_retired_defaults_move_to_their_successors_on_the_day() -> None:
    lifecycles = Lifecycles(CATALOG, lambda: TODAY)
    dall_e_2, imagen = CATALOG.models["dall-e-2"], CATALOG.models["imagen-3"]
    eve = TODAY - dt.timedelta(days=1)
    assert lifecycles.serving(dall_e_2, eve).upstream_model == "gpt-image-1-mini"  # type: ignore[union-attr]
    assert lifecycles.serving(dall_e_2, TODAY).upstream_model == "gpt-image-2"  # type: ignore[union-attr]
    assert lifecycles.serving(imagen, TODAY).upstream_model == "gemini-nano-banana-2.1"  # type: ignore[union-attr]
    assert lifecycles.view(dall_e_2, eve).status == "deprecated" and lifecycles.view(dall_e_2, eve).shutdown_on == TODAY
    assert lifecycles.view(dall_e_2, TODAY).status == "active"
    warned = {d.id: left for d, left in lifecycles.warnings(dt.date(2026, 11, 10), 30)}
    assert warned == {"dall-e-2/gpt-image-1-mini": 21}
    check_lifecycle(CATALOG, TODAY)


def test_an_upstream_that_says_gone_retires_the_deployment_at_once() -> None:
    lifecycles = Lifecycles(CATALOG, lambda: TODAY)
    gpt = CATALOG.models["gpt-image-2"]
    lifecycles.retire(CATALOG.deployments["gpt-image-2/openai"], "404 model_not_found")
    assert lifecycles.serving(gpt) is None and lifecycles.view(gpt).status == "retired"
    dall_e_2 = CATALOG.models["dall-e-2"]
    lifecycles.retire(CATALOG.deployments["dall-e-2/gpt-image-2"], "404 model_not_found")
    assert lifecycles.serving(dall_e_2) is None


def test_a_chain_that_ends_in_a_shut_down_deployment_refuses_to_start(tmp_path: Path) -> None:
    catalog = load_catalog(_without_deployment(tmp_path, "dall-e-2/gpt-image-2"))
    with pytest.raises(LifecycleError, match="model dall-e-2 has no live deployment on 2026-12-01"):
        check_lifecycle(catalog, TODAY)
    check_lifecycle(catalog, TODAY - dt.timedelta(days=1))  # the day before, gpt-image-1-mini still serves


def test_a_deployment_that_no_model_reaches_is_refused(tmp_path: Path) -> None:
    orphaned = tmp_path / "orphaned.toml"
    orphaned.write_text(DEFAULT_PATH.read_text().replace('successor = "dall-e-2/gpt-image-2"\n', "", 1))
    with pytest.raises(CatalogError, match="deployment dall-e-2/gpt-image-2: no model lists it"):
        load_catalog(orphaned)


def _without_deployment(tmp_path: Path, deployment_id: str) -> Path:
    """The shipped catalog with one deployment (and every reference to it as a successor) removed."""
    lines, out, skipping = DEFAULT_PATH.read_text().splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith("["):
            skipping = line.startswith(f'[deployments."{deployment_id}"')
        if not skipping and line.strip() != f'successor = "{deployment_id}"':
            out.append(line)
    path = tmp_path / "without.toml"
    path.write_text("".join(out))
    return path
