"""The seed's request for every model, in test mode, through the real gateway and server over sockets."""
from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

from tests.stack import Stack

SEED_PROMPT = "A serene Japanese garden with cherry blossoms at sunset, photorealistic"
# model, request extras, delivered size, price per image
SEVEN_MODELS = [
    ("dall-e-3", {"size": "1024x1024", "quality": "hd", "style": "vivid"}, "1024x1024", 0.080),
    ("dall-e-2", {"size": "512x512"}, "512x512", 0.018),
    ("stable-diffusion-3", {"size": "1024x1024"}, "1024x1024", 0.035),
    ("flux-pro", {"size": "1024x1024"}, "1024x1024", 0.055),
    ("flux-dev", {"size": "1024x1024"}, "1024x1024", 0.025),
    ("ideogram-2", {"size": "1024x1024"}, "1024x1024", 0.040),
    ("imagen-3", {"size": "1024x1024"}, "1024x1024", 0.040),
]


def decode_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


@pytest.mark.parametrize(("model", "extra", "size", "price"), SEVEN_MODELS)
def test_seed_request_returns_signed_url_for_each_model(stack: Stack, test_key: str, model: str, extra: dict,
                                                        size: str, price: float) -> None:
    response = stack.post("/v1/images/generations", {"prompt": SEED_PROMPT, "model": model, **extra}, key=test_key)
    assert response.status == 200, response.body
    body = response.json()
    assert isinstance(body["created"], int)
    assert body["perf"]["model_used"] == model
    assert body["perf"]["size"] == size
    assert body["perf"]["cost_usd"] == pytest.approx(price, abs=1e-9)
    assert isinstance(body["perf"]["latency_ms"], int)
    assert re.fullmatch(r"req_img_\w+", body["perf"]["request_id"])
    assert response.headers["x-request-id"] == body["perf"]["request_id"]
    [item] = body["data"]
    assert item["revised_prompt"] == SEED_PROMPT
    assert "b64_json" not in item
    image = stack.get(item["url"])
    assert image.status == 200
    assert image.headers["content-type"] == "image/png"
    assert decode_png(image.body).size == tuple(int(s) for s in size.split("x"))


@pytest.mark.parametrize(("model", "request_size", "delivered"), [
    ("dall-e-3", "1792x1024", "1792x1024"),
    ("dall-e-2", "256x256", "256x256"),
    ("stable-diffusion-3", "1920x1080", "1344x768"),
    ("flux-dev", "1920x1080", "1440x800"),
    ("flux-pro", "500x500", "512x512"),
    ("ideogram-2", "1000x3000", "512x1536"),
])
def test_b64_json_decodes_to_the_delivered_size(stack: Stack, test_key: str, model: str, request_size: str,
                                                delivered: str) -> None:
    response = stack.post("/v1/images/generations", {"prompt": "a red fox", "model": model, "size": request_size,
                                                      "response_format": "b64_json"}, key=test_key)
    assert response.status == 200, response.body
    body = response.json()
    assert body["perf"]["size"] == delivered
    [item] = body["data"]
    assert "url" not in item
    assert decode_png(base64.b64decode(item["b64_json"], validate=True)).size == \
        tuple(int(s) for s in delivered.split("x"))


def test_defaults_are_dall_e_3_standard_1024(stack: Stack, test_key: str) -> None:
    body = stack.post("/v1/images/generations", {"prompt": "a lighthouse"}, key=test_key).json()
    assert body["perf"]["model_used"] == "dall-e-3"
    assert body["perf"]["size"] == "1024x1024"
    assert body["perf"]["quality"] == "standard"
    assert body["perf"]["cost_usd"] == pytest.approx(0.04)
    assert "url" in body["data"][0]


def test_n_images_are_priced_per_image_and_distinct(stack: Stack, test_key: str) -> None:
    body = stack.post("/v1/images/generations", {"prompt": "tiles", "model": "dall-e-2", "n": 10,
                                                  "size": "256x256", "response_format": "b64_json"},
                      key=test_key).json()
    assert len(body["data"]) == 10
    assert body["perf"]["cost_usd"] == pytest.approx(0.16)
    assert len({item["b64_json"] for item in body["data"]}) == 10


def test_same_request_gives_same_bytes(stack: Stack, test_key: str) -> None:
    request = {"prompt": "determinism", "model": "flux-dev", "response_format": "b64_json"}
    first = stack.post("/v1/images/generations", request, key=test_key).json()
    second = stack.post("/v1/images/generations", request, key=test_key).json()
    assert first["data"][0]["b64_json"] == second["data"][0]["b64_json"]
    other = stack.post("/v1/images/generations", {**request, "prompt": "something else"}, key=test_key).json()
    assert other["data"][0]["b64_json"] != first["data"][0]["b64_json"]


def test_models_routes_list_capabilities_and_prices(stack: Stack, test_key: str) -> None:
    listing = stack.get("/v1/models", key=test_key)
    assert listing.status == 200
    body = listing.json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids[:7] == [m[0] for m in SEVEN_MODELS]
    assert {"gpt-image-2", "flux-2-pro", "gemini-3-pro-image", "ideogram-4", "sd3.5-large"} <= set(ids)
    one = stack.get("/v1/models/dall-e-3", key=test_key).json()
    assert one["price_model"] == "per_image" and one["owned_by"] == "openai"
    assert one["lifecycle"] == {"status": "active", "deprecated_on": None, "shutdown_on": None,
                                "served_by": {"provider": "openai", "upstream_model": "gpt-image-2"}}
    imagen = stack.get("/v1/models/imagen-3", key=test_key).json()["lifecycle"]
    assert imagen["served_by"] == {"provider": "google", "upstream_model": "gemini-nano-banana-2.1"}
    tokens = stack.get("/v1/models/gpt-image-2", key=test_key).json()
    assert tokens["price_model"] == "per_token" and tokens["pricing"] == []
    assert tokens["token_pricing"]["image_output_usd_per_1m"] == pytest.approx(30.0)
    megapixels = stack.get("/v1/models/flux-2-pro", key=test_key).json()
    assert megapixels["megapixel_pricing"] == {"first_megapixel_usd": 0.03, "additional_megapixel_usd": 0.015,
                                               "input_megapixel_usd": 0.015}
    assert one["capabilities"]["max_n"] == 1
    assert one["capabilities"]["styles"] == ["vivid", "natural"]
    assert isinstance(one["created"], int)
    prices = {(p["size"], p["quality"]): p["usd_per_image"] for p in one["pricing"]}
    assert prices[("1792x1024", "hd")] == pytest.approx(0.12)
    assert stack.get("/v1/models/flux-dev", key=test_key).json()["capabilities"]["custom_sizes"] is True
    missing = stack.get("/v1/models/dall-e-9", key=test_key)
    assert missing.status == 404
    assert missing.json()["error"] == {"type": "not_found", "message": "The model 'dall-e-9' does not exist",
                                       "param": "model"}
