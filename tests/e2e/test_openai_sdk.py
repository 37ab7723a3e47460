"""The official openai Python SDK, pointed at our gateway by changing base_url only."""
from __future__ import annotations

import base64

import openai
import pytest

from tests.stack import Stack, sdk_http_client


def client(stack: Stack, key: str) -> openai.OpenAI:
    # max_retries=0: a retry would hide which status the gateway really returned.
    return openai.OpenAI(api_key=key, base_url=stack.base_url + "/v1", max_retries=0, timeout=30,
                         http_client=sdk_http_client())


def test_sdk_generates_url_and_b64(stack: Stack, test_key: str) -> None:
    sdk = client(stack, test_key)
    result = sdk.images.generate(model="dall-e-3", prompt="A serene Japanese garden", size="1792x1024",
                                 quality="hd", style="natural")
    assert result.data[0].url and result.data[0].url.startswith(stack.base_url)
    assert result.data[0].revised_prompt == "A serene Japanese garden"
    assert result.created > 0
    perf = result.model_extra["perf"]  # type: ignore[index]
    assert perf["cost_usd"] == pytest.approx(0.12)
    assert perf["size"] == "1792x1024"

    b64 = sdk.images.generate(model="dall-e-2", prompt="tiny", n=3, size="256x256", response_format="b64_json")
    assert len(b64.data) == 3
    assert base64.b64decode(b64.data[0].b64_json or "").startswith(b"\x89PNG")


def test_sdk_lists_models(stack: Stack, test_key: str) -> None:
    ids = [m.id for m in client(stack, test_key).models.list()]
    assert "flux-pro" in ids and "gpt-image-2" in ids and len(ids) == 17
    assert client(stack, test_key).models.retrieve("imagen-3").owned_by == "google"


def test_sdk_raises_typed_errors_with_request_id(stack: Stack, test_key: str) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client(stack, test_key).images.generate(model="dall-e-3", prompt="p", n=2)
    assert bad.value.param == "n"
    assert bad.value.type == "invalid_request"
    assert bad.value.request_id and bad.value.request_id.startswith("req_img_")
    with pytest.raises(openai.AuthenticationError):
        client(stack, "pk_test_wrong").images.generate(prompt="p")
    with pytest.raises(openai.NotFoundError):
        client(stack, test_key).images.generate(model="dall-e-4", prompt="p")
