"""Model lifecycle through the real gateway and server against the fakes: traffic moves to the successor
on the shutdown day, or at once when the upstream says the model is gone; `server.catalog check`."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.catalog.loader import DEFAULT_PATH
from tests.fakes.upstreams import Upstreams
from tests.stack import ROOT, Stack

GEN = "/v1/images/generations"
BODY = {"prompt": "a lighthouse at dusk", "model": "dall-e-2", "size": "512x512", "n": 2,
        "response_format": "b64_json"}


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with Upstreams(("openai", "google")) as running:
        yield running


def stack_on(day: str, upstreams: Upstreams, tmp_path: Path, **env: str) -> Stack:
    return Stack(tmp_path / day, env_overrides={**upstreams.env(), "PERF_LIFECYCLE_TODAY": day, **env})


@pytest.fixture()
def stacks(upstreams: Upstreams, tmp_path: Path) -> Iterator[list[Stack]]:
    started: list[Stack] = []
    yield started
    for stack in started:
        stack.stop()


def started(stacks: list[Stack], stack: Stack) -> Stack:
    stack.data_dir.mkdir(parents=True)
    stacks.append(stack.start())
    return stack


def test_on_the_shutdown_day_traffic_moves_to_the_successor_and_nothing_else_changes(
        upstreams: Upstreams, stacks: list[Stack], tmp_path: Path) -> None:
    upstreams.reset()
    answers = {}
    for day in ("2026-11-30", "2026-12-01"):
        stack = started(stacks, stack_on(day, upstreams, tmp_path))
        response = stack.post(GEN, BODY, key=stack.create_key("live"))
        assert response.status == 200, response.body
        answers[day] = response.json()
        models = stack.get("/v1/models/dall-e-2", key=stack.first_key or stack.create_key("test")).json()
        answers[day]["lifecycle"] = models["lifecycle"]
    eve, day = answers["2026-11-30"], answers["2026-12-01"]
    assert eve["perf"]["model_used"] == "gpt-image-1-mini" and day["perf"]["model_used"] == "gpt-image-2"
    for answer in (eve, day):
        for moving in ("request_id", "latency_ms", "model_used"):
            answer["perf"].pop(moving)
        answer.pop("created")
    assert [d.get("revised_prompt") for d in eve["data"]] == [d.get("revised_prompt") for d in day["data"]]
    assert eve["perf"] == day["perf"] == {"size": "512x512", "quality": "standard", "cost_usd": 0.036}
    assert eve["lifecycle"] == {"status": "deprecated", "deprecated_on": "2026-06-02", "shutdown_on": "2026-12-01",
                                "served_by": {"provider": "openai", "upstream_model": "gpt-image-1-mini"}}
    assert day["lifecycle"]["status"] == "active"
    assert [c.model for c in upstreams["openai"].charges] == ["gpt-image-1-mini", "gpt-image-2"]


def test_an_upstream_saying_gone_moves_traffic_at_once_without_a_restart(
        upstreams: Upstreams, stacks: list[Stack], tmp_path: Path) -> None:
    upstreams.reset()
    upstreams["openai"].knobs.retired_models = {"gpt-image-1-mini"}  # shut down early, upstream's own call
    stack = started(stacks, stack_on("2026-11-20", upstreams, tmp_path))
    key = stack.create_key("live")
    first = stack.post(GEN, BODY, key=key)
    assert first.status == 200 and first.json()["perf"]["model_used"] == "gpt-image-2"
    second = stack.post(GEN, BODY, key=key)
    assert second.status == 200 and second.json()["perf"]["model_used"] == "gpt-image-2"
    openai = upstreams["openai"]
    assert [c.model for c in openai.charges] == ["gpt-image-2", "gpt-image-2"]  # the gone model charged nothing
    assert openai.requests("POST") == 3  # one refusal, then never asked again
    log = stack.server_log()
    assert "ERROR" in log and "dall-e-2/gpt-image-1-mini" in log and "is gone upstream" in log
    lifecycle = stack.get("/v1/models/dall-e-2", key=key).json()["lifecycle"]
    assert lifecycle["served_by"]["upstream_model"] == "gpt-image-2"


def check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.catalog", "check", *args], cwd=ROOT, capture_output=True,
                          text=True, env={"PYTHONPATH": f"{ROOT / 'generated'}:{ROOT}", "PATH": "/usr/bin:/bin", **env})


def test_catalog_check_prints_the_table_and_fails_on_a_chain_that_ends_retired(tmp_path: Path) -> None:
    ok = check({"PERF_LIFECYCLE_TODAY": "2026-11-10"}, "--days", "30")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "dall-e-2" in ok.stdout and "deprecated" in ok.stdout and "openai/gpt-image-1-mini" in ok.stdout
    broken = tmp_path / "models.toml"
    broken.write_text(DEFAULT_PATH.read_text().replace('successor = "dall-e-2/gpt-image-2"\n', "", 1)
                      .replace('deployments = ["dall-e-2/gpt-image-1-mini"]',
                               'deployments = ["dall-e-2/gpt-image-1-mini", "dall-e-2/gpt-image-2"]'))
    # Still served (by the second in the list) after the shutdown: passes.
    assert check({"PERF_LIFECYCLE_TODAY": "2026-11-10", "PERF_CATALOG_PATH": str(broken)}).returncode == 0
    retired = tmp_path / "retired.toml"
    text = DEFAULT_PATH.read_text().replace('successor = "dall-e-2/gpt-image-2"\n', "", 1)
    text = text.replace('[deployments."dall-e-2/gpt-image-2"]', '[deployments."gpt-image-2/spare"]', 1)
    text = text.replace('[deployments."dall-e-2/gpt-image-2".', '[deployments."gpt-image-2/spare".')
    retired.write_text(text.replace('deployments = ["gpt-image-2/openai"]',
                                    'deployments = ["gpt-image-2/openai", "gpt-image-2/spare"]')
                       .replace('quality = { standard = "low" }\nsize = { "256x256" = "1024x1024", "512x512" = '
                                '"1024x1024" }\nedit = { upstream_model = "gpt-image-2", max_images = 16, mask = true }\n'
                                    'stream = true\nsources = ["https://developers.openai.com/api/docs/models/gpt-image-2"]'
                                '\n\n[deployments."gpt-image-2/spare".upstream_price',
                                'quality = { auto = "auto", low = "low", medium = "medium", high = "high" }\n'
                                'sources = []\n\n[deployments."gpt-image-2/spare".upstream_price'))
    failing = check({"PERF_LIFECYCLE_TODAY": "2026-11-10", "PERF_CATALOG_PATH": str(retired)}, "--days", "30")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "FAIL dall-e-2 has no live deployment from 2026-12-01" in failing.stdout


def test_catalog_check_live_asks_the_upstream_listings(upstreams: Upstreams) -> None:
    upstreams.reset()
    env = {**upstreams.env(), "PERF_LIFECYCLE_TODAY": "2026-12-01"}
    fine = check(env, "--live")
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "openai:" in fine.stdout and "google:" in fine.stdout
    upstreams["google"].knobs.retired_models = {"gemini-nano-banana-2.1"}
    gone = check(env, "--live")
    assert gone.returncode == 1
    assert "imagen-3/gemini-nano-banana-2.1: gemini-nano-banana-2.1 is GONE upstream (in use)" in gone.stdout
