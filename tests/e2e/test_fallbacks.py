"""Fallbacks across hosts and circuit breakers through the real gateway and server, against the BFL, fal.ai,
Replicate and Together fakes over loopback: who is asked, who charged, what the ledger and perf name, and
how a breaker opens and half-opens on the injected clock (PERF_BREAKER_CLOCK_FILE)."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.catalog.loader import DEFAULT_PATH
from tests.fakes.base import seen
from tests.fakes.upstreams import Upstreams
from tests.stack import Response, Stack, free_port

GEN = "/v1/images/generations"
# A breaker that never opens in the tests that are not about breakers.
NO_BREAKING = {"PERF_BREAKER_FAILURES": "1000", "PERF_BREAKER_MIN_CALLS": "1000"}


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with Upstreams(("bfl", "fal", "replicate", "together")) as running:
        yield running


@pytest.fixture(scope="module")
def stack(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("fallbacks"), env_overrides={**upstreams.env(), **NO_BREAKING}).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture()
def key(stack: Stack, upstreams: Upstreams) -> str:
    upstreams.reset()
    return stack.create_key("live")


@pytest.fixture()
def stacks() -> Iterator[list[Stack]]:
    started: list[Stack] = []
    yield started
    for running in started:
        running.stop()


def started(stacks: list[Stack], data: Path, **env: str) -> Stack:
    data.mkdir(parents=True, exist_ok=True)
    stacks.append(Stack(data, env_overrides=env).start())
    return stacks[-1]


def ledger_row(stack: Stack, response: Response) -> dict[str, Any]:
    with sqlite3.connect(stack.data_dir / "perf.sqlite3") as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM usage_ledger WHERE request_id = ?", (response.headers["x-request-id"],)).fetchone()
    assert row is not None
    return dict(row)


def charges(upstreams: Upstreams) -> dict[str, int]:
    return {name: len(r.charges) for name, r in upstreams.running.items() if r.charges}


def operator(stack: Stack) -> str:
    return stack.create_key("live", "--tier", "enterprise", "--minute-limit", "1000000", "--day-limit", "1000000",
                            "--operator")


def circuits(stack: Stack, admin: str, model: str) -> dict[str, tuple[str, Any]]:
    deployments = stack.get(f"/v1/models/{model}", key=admin).json()["deployments"]
    return {d["id"]: (d["circuit"], d["retry_after"]) for d in deployments}


@pytest.mark.parametrize("failure", ["503 before accepting", "connect refused"])
def test_a_bfl_that_cannot_have_charged_falls_over_to_fal_with_exactly_one_charge(
        failure: str, stack: Stack, upstreams: Upstreams, key: str, stacks: list[Stack], tmp_path: Path) -> None:
    if failure == "connect refused":
        dead = f"http://127.0.0.1:{free_port()}"
        stack = started(stacks, tmp_path / "dead", **{**upstreams.env(), **NO_BREAKING, "BFL_BASE_URL": dead,
                                                      "PERF_INSECURE_HTTP_HOSTS": upstreams.env()[
                                                          "PERF_INSECURE_HTTP_HOSTS"] + "," + dead[7:]})
        key = stack.create_key("live")
    else:
        upstreams["bfl"].knobs.fail_before_charge_next = 2  # both tasks of n=2 refused
    response = stack.post(GEN, {"prompt": "a lighthouse", "model": "flux-dev", "n": 2, "size": "1024x768",
                                "response_format": "b64_json"}, key=key)
    assert response.status == 200, response.body
    perf = response.json()["perf"]
    # We bill the public model's price whoever delivered; perf names the upstream model that did.
    assert (perf["model_used"], perf["size"], perf["cost_usd"]) == ("fal-ai/flux/dev", "1024x768", 0.05)
    assert charges(upstreams) == {"fal": 1} and upstreams["fal"].charges.images() == 2
    row = ledger_row(stack, response)
    assert (row["provider"], row["deployment"], row["upstream_model"], row["status"]) == \
        ("fal", "flux-dev/fal", "fal-ai/flux/dev", "ok")
    assert row["upstream_cost_micros"] == upstreams["fal"].charges.micros() == 50_000 and row["cost_micros"] == 50_000


@pytest.mark.parametrize("knob", ["task_error_next", "fail_after_charge_next"])
def test_no_fallback_once_bfl_accepted_the_job(stack: Stack, upstreams: Upstreams, key: str, knob: str) -> None:
    setattr(upstreams["bfl"].knobs, knob, 1)
    response = stack.post(GEN, {"prompt": "accepted, then failed", "model": "flux-dev"}, key=key)
    assert response.status == 502, response.body
    assert response.json()["error"]["type"] == "upstream_error" and response.headers["x-should-retry"] == "false"
    assert charges(upstreams) == {"bfl": 1} and upstreams["fal"].requests() == 0
    row = ledger_row(stack, response)
    assert (row["deployment"], row["status"], row["error_type"]) == ("flux-dev/flux-2-klein-9b", "error", "upstream_error")


@pytest.mark.parametrize(("fake", "fails_first", "model_used", "cost", "upstream_micros"), [
    ("replicate", ("bfl",), "black-forest-labs/flux-1.1-pro", 0.11, 80_000),
    ("together", ("bfl", "replicate"), "black-forest-labs/FLUX.1.1-pro", 0.11, 160_000),
])
def test_each_host_serves_flux_pro_down_the_chain(stack: Stack, upstreams: Upstreams, key: str, fake: str,
                                                 fails_first: tuple[str, ...], model_used: str, cost: float,
                                                 upstream_micros: int) -> None:
    for name in fails_first:
        upstreams[name].knobs.fail_before_charge_next = 2
    response = stack.post(GEN, {"prompt": "a fox", "model": "flux-pro", "n": 2, "size": "1440x1440",
                                "response_format": "url"}, key=key)
    assert response.status == 200, response.body
    body = response.json()
    assert (body["perf"]["model_used"], body["perf"]["size"], body["perf"]["cost_usd"]) == (model_used, "1440x1440", cost)
    image = stack.get(body["data"][0]["url"])
    assert image.status == 200 and image.headers["content-type"] == "image/png"
    assert charges(upstreams) == {fake: len(upstreams[fake].charges)} and upstreams[fake].charges.images() == 2
    row = ledger_row(stack, response)
    assert (row["provider"], row["upstream_model"], row["n_delivered"]) == (fake, model_used, 2)
    assert row["upstream_cost_micros"] == upstreams[fake].charges.micros() == upstream_micros


def test_a_200_without_an_image_is_a_counted_failure_never_fallen_over(upstreams: Upstreams, stacks: list[Stack],
                                                                      tmp_path: Path) -> None:
    upstreams.reset()
    clock = tmp_path / "clock"
    clock.write_text("0")  # time stands still: the cool-down left is exact
    stack = started(stacks, tmp_path / "empty", **upstreams.env(), PERF_BREAKER_FAILURES="2",
                    PERF_BREAKER_COOLDOWN_SECONDS="30", PERF_BREAKER_CLOCK_FILE=str(clock))
    key, admin = stack.create_key("live"), operator(stack)
    # flux-pro goes BFL → Replicate → Together; the first two refuse (charging nothing), Together answers empty.
    for _ in range(2):
        for name in ("bfl", "replicate"):
            upstreams[name].knobs.fail_before_charge_next = 1
        upstreams["together"].knobs.empty_output_next = 1
        response = stack.post(GEN, {"prompt": "nothing comes back", "model": "flux-pro"}, key=key)
        assert response.status == 502 and response.json()["error"]["type"] == "upstream_error", response.body
        assert response.headers["x-should-retry"] == "false"  # it may have been billed
    assert charges(upstreams) == {"together": 2}
    # Counted: two failures in a row opened Together's circuit (and BFL's and Replicate's, for their 503s).
    assert circuits(stack, admin, "flux-pro")["flux-pro/together"] == ("open", 30)
    assert ledger_row(stack, response)["deployment"] == "flux-pro/together"


def test_the_breaker_opens_skips_to_the_fallback_and_half_opens_after_the_cool_down(
        upstreams: Upstreams, stacks: list[Stack], tmp_path: Path) -> None:
    upstreams.reset()
    clock = tmp_path / "clock"
    clock.write_text("1000")
    stack = started(stacks, tmp_path / "breaker", **upstreams.env(), PERF_BREAKER_FAILURES="3",
                    PERF_BREAKER_COOLDOWN_SECONDS="60", PERF_BREAKER_CLOCK_FILE=str(clock))
    key, admin = stack.create_key("live"), operator(stack)
    bfl, fal = upstreams["bfl"], upstreams["fal"]
    body = {"prompt": "a lighthouse", "model": "flux-dev"}
    bfl.knobs.fail_before_charge_next = 1000  # BFL is down, refusing every submit
    for _ in range(3):
        response = stack.post(GEN, body, key=key)
        assert response.status == 200 and response.json()["perf"]["model_used"] == "fal-ai/flux/dev"
    assert bfl.requests("POST") == 3
    assert circuits(stack, admin, "flux-dev") == {"flux-dev/flux-2-klein-9b": ("open", 60), "flux-dev/fal": ("closed", None)}
    assert "circuit breaker open deployment=flux-dev/flux-2-klein-9b: 3 failures in a row" in stack.server_log()
    clock.write_text("1030")
    response = stack.post(GEN, body, key=key)
    assert response.status == 200 and bfl.requests("POST") == 3  # skipped while open: BFL is not asked
    assert ledger_row(stack, response)["provider"] == "fal"
    assert circuits(stack, admin, "flux-dev")["flux-dev/flux-2-klein-9b"] == ("open", 30)
    # Test keys keep the sandbox, open circuit or not.
    test_key = stack.create_key("test")
    assert stack.post(GEN, body, key=test_key).status == 200 and bfl.requests("POST") == 3
    clock.write_text("1060")
    assert circuits(stack, admin, "flux-dev")["flux-dev/flux-2-klein-9b"] == ("half_open", None)
    bfl.knobs.fail_before_charge_next = 0  # BFL is back: the probe succeeds and closes the circuit
    response = stack.post(GEN, body, key=key)
    assert response.status == 200 and response.json()["perf"]["model_used"] == "flux-2-klein-9b"
    assert bfl.requests("POST") == 4 and circuits(stack, admin, "flux-dev")["flux-dev/flux-2-klein-9b"] == ("closed", None)
    assert "circuit breaker closed deployment=flux-dev/flux-2-klein-9b: the probe succeeded" in stack.server_log()
    assert len(bfl.charges) == 1 and len(fal.charges) == 4


def test_with_every_circuit_open_the_answer_is_503_with_the_time_left(upstreams: Upstreams, stacks: list[Stack],
                                                                     tmp_path: Path) -> None:
    upstreams.reset()
    clock = tmp_path / "clock"
    clock.write_text("0")
    stack = started(stacks, tmp_path / "all-open", **upstreams.env(), PERF_BREAKER_FAILURES="1",
                    PERF_BREAKER_COOLDOWN_SECONDS="45", PERF_BREAKER_CLOCK_FILE=str(clock))
    key = stack.create_key("live")
    upstreams["bfl"].knobs.fail_before_charge_next = upstreams["fal"].knobs.fail_before_charge_next = 1
    first = stack.post(GEN, {"prompt": "p", "model": "flux-dev"}, key=key)
    assert first.status == 503 and first.json()["error"]["type"] == "provider_unavailable"  # fal's own 503
    clock.write_text("5")
    second = stack.post(GEN, {"prompt": "p", "model": "flux-dev"}, key=key)
    error = second.json()["error"]
    assert second.status == 503 and error["type"] == "provider_unavailable" and "circuit open" in error["message"]
    assert error["retry_after"] == 40 and second.headers["retry-after"] == "40"
    assert second.headers["x-should-retry"] == "true"
    assert upstreams["bfl"].requests("POST") == 1 and upstreams["fal"].requests("POST") == 1
    assert charges(upstreams) == {}


def test_operators_see_each_models_deployments_in_order_with_configuration_and_circuits(stack: Stack,
                                                                                      key: str) -> None:
    assert "deployments" not in stack.get("/v1/models/flux-pro", key=key).json()  # a customer's key
    admin = operator(stack)
    deployments = stack.get("/v1/models/flux-pro", key=admin).json()["deployments"]
    assert deployments == [
        {"id": "flux-pro/flux-pro-1.1", "provider": "bfl", "upstream_model": "flux-pro-1.1", "configured": True,
         "circuit": "closed", "retry_after": None},
        {"id": "flux-pro/replicate", "provider": "replicate", "upstream_model": "black-forest-labs/flux-1.1-pro",
         "configured": True, "circuit": "closed", "retry_after": None},
        {"id": "flux-pro/together", "provider": "together", "upstream_model": "black-forest-labs/FLUX.1.1-pro",
         "configured": True, "circuit": "closed", "retry_after": None}]
    dalle = stack.get("/v1/models/dall-e-3", key=admin).json()["deployments"]
    assert [(d["id"], d["configured"]) for d in dalle] == [("dall-e-3/gpt-image-2", False)]


def test_a_deployment_with_a_region_is_served_by_bfls_regional_endpoint(upstreams: Upstreams, stacks: list[Stack],
                                                                       tmp_path: Path) -> None:
    upstreams.reset()
    catalog = tmp_path / "models.toml"
    text = DEFAULT_PATH.read_text()
    anchor = '[deployments."flux-pro/flux-pro-1.1"]\nprovider = "bfl"\n'
    assert anchor in text
    catalog.write_text(text.replace(anchor, anchor + 'region = "eu"\n'))
    eu = "http://localhost:" + upstreams["bfl"].url.rsplit(":", 1)[1]  # the same fake under another name
    env = upstreams.env()
    stack = started(stacks, tmp_path / "eu", **{**env, "PERF_CATALOG_PATH": str(catalog), "BFL_EU_BASE_URL": eu,
                                                "PERF_INSECURE_HTTP_HOSTS": env["PERF_INSECURE_HTTP_HOSTS"] + "," + eu[7:]})
    key = stack.create_key("live")
    assert stack.post(GEN, {"prompt": "p", "model": "flux-pro"}, key=key).status == 200
    assert stack.post(GEN, {"prompt": "p", "model": "flux-dev"}, key=key).status == 200
    hosts = {(s.path, s.headers["Host"].split(":")[0]) for s in seen(upstreams["bfl"].app) if s.method == "POST"}
    assert hosts == {("/v1/flux-pro-1.1", "localhost"), ("/v1/flux-2-klein-9b", "127.0.0.1")}
