"""x-should-retry: the official SDK (default retries on) must never make an upstream charge twice.

The SDK retries 5xx by itself unless the response says `x-should-retry: false`; every failure that
may come after an upstream accepted the work says so, and a failure that provably never reached
the upstream says `true`.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from server.catalog.loader import DEFAULT_PATH
from tests.fakes.upstreams import Upstreams
from tests.stack import Stack, free_port, sdk_http_client

GEN = "/v1/images/generations"


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with Upstreams(("openai", "bfl")) as running:
        yield running


@pytest.fixture(scope="module")
def stack(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("retry")
    # dall-e-2 repointed onto OpenAI's URL wire, so the image is downloaded after the call is charged.
    catalog = data / "models.toml"
    text = DEFAULT_PATH.read_text()
    old = '[deployments."dall-e-2/gpt-image-2"]\nprovider = "openai"\nupstream_model = "gpt-image-2"\n' \
          'quality = { standard = "low" }\n'
    assert old in text
    catalog.write_text(text.replace(old, '[deployments."dall-e-2/gpt-image-2"]\nprovider = "openai"\n'
                                         'upstream_model = "dall-e-2"\nparams = { response_format = "url" }\n'))
    running = Stack(data, env_overrides={**upstreams.env(), "PERF_CATALOG_PATH": str(catalog)}).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture()
def sdk(stack: Stack, upstreams: Upstreams) -> openai.OpenAI:
    upstreams.reset()
    # The SDK's defaults: two retries on 408/409/429/5xx, unless the response forbids them.
    return openai.OpenAI(api_key=stack.create_key("live"), base_url=stack.base_url + "/v1", timeout=30,
                         http_client=sdk_http_client())


def test_failure_after_the_upstream_charged_is_not_retried_by_the_sdk(sdk: openai.OpenAI,
                                                                      upstreams: Upstreams) -> None:
    upstreams["openai"].knobs.fail_after_charge_next = 3
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.images.generate(model="dall-e-3", prompt="charged, then failed")
    assert caught.value.status_code == 502 and caught.value.response.headers["x-should-retry"] == "false"
    assert len(upstreams["openai"].charges) == 1 and upstreams["openai"].requests("POST") == 1


def test_a_refused_image_download_is_502_not_500_and_charged_once(sdk: openai.OpenAI, upstreams: Upstreams) -> None:
    # The image URL answers a redirect to a host off OpenAI's allowlist: the fetcher refuses it.
    upstreams["openai"].knobs.redirect_image_to = f"http://127.0.0.1:{free_port()}/metadata"
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.images.generate(model="dall-e-2", prompt="two refused downloads", n=2)
    error = caught.value.response.json()["error"]
    assert caught.value.status_code == 502 and error["type"] == "upstream_error"
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert [c.n for c in upstreams["openai"].charges] == [2]


def test_a_bfl_task_that_fails_after_acceptance_is_charged_once(sdk: openai.OpenAI, upstreams: Upstreams) -> None:
    upstreams["bfl"].knobs.task_error_next = 3
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.images.generate(model="flux-pro", prompt="accepted, then Error")
    assert caught.value.status_code == 502 and caught.value.response.headers["x-should-retry"] == "false"
    assert len(upstreams["bfl"].charges) == 1 and upstreams["bfl"].requests("POST") == 1


def test_an_upstream_that_was_never_reached_is_safe_to_retry(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": dead + "/v1", "PERF_INSECURE_HTTP_HOSTS": dead[7:]}
    stack = Stack(tmp_path, env_overrides=env).start()
    try:
        response = stack.post(GEN, {"prompt": "nobody home"}, key=stack.create_key("live"))
    finally:
        stack.stop()
    assert response.status == 502 and response.headers["x-should-retry"] == "true"
