"""Edits, variations, streamed generations and edits, and the gpt-image output parameters, driven with
the official openai Python SDK through the real gateway and server (test mode: the sandbox draws)."""
from __future__ import annotations

import base64
import io
import sqlite3
from collections.abc import Callable

import openai
import pytest
from PIL import Image

from tests.rawhttp import exchange
from tests.stack import Stack, http, sdk_http_client

# The SDK marks create_variation deprecated (OpenAI retired dall-e-2); the route here still serves it.
pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")


def client(stack: Stack, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=stack.base_url + "/v1", max_retries=0, timeout=30,
                         http_client=sdk_http_client())


def png(width: int = 512, height: int = 512, mode: str = "RGB", color: tuple[int, ...] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, "PNG")
    return out.getvalue()


def left_half_mask(width: int = 512, height: int = 512) -> bytes:
    """OpenAI's convention: fully transparent pixels are the area to edit (here the left half)."""
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


def fetched(stack: Stack, url: str) -> Image.Image:
    reply = http("GET", url)
    assert reply.status == 200, reply.body
    return Image.open(io.BytesIO(reply.body))


def ledger(stack: Stack) -> list[tuple[str, str, int, str]]:
    with sqlite3.connect(stack.data_dir / "perf.sqlite3") as db:
        return db.execute("SELECT kind, status, n_delivered, model FROM usage_ledger ORDER BY created_at, rowid").fetchall()


def test_an_edit_of_one_image_keeps_its_aspect_and_is_billed_as_an_edit(stack: Stack, test_key: str) -> None:
    sdk = client(stack, test_key)
    result = sdk.images.edit(model="flux-2-pro", image=("photo.png", png(768, 512)), prompt="add a red hat",
                             response_format="b64_json")
    image = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json or "")))
    # No size: the first image's own, where the model can make it (FLUX.2 takes any size on its grid).
    assert image.size == (768, 512)
    perf = result.model_extra["perf"]  # type: ignore[index]
    assert perf["size"] == "768x512" and perf["model_used"] == "flux-2-pro"
    assert result.size == "768x512" and result.output_format == "png"
    # Billed as FLUX.2 prices an edit: output megapixels plus the input image's megapixels.
    assert perf["cost_usd"] > 0


def test_several_images_and_a_mask_with_webp_output(stack: Stack, test_key: str) -> None:
    sdk = client(stack, test_key)
    three = [(f"in{i}.png", png(color=(i * 60, 10, 10))) for i in range(3)]
    result = sdk.images.edit(model="gpt-image-2", image=three, mask=("mask.png", left_half_mask()),
                             prompt="a lake at dawn", size="1024x1024", output_format="webp", output_compression=40,
                             background="opaque", response_format="url")
    assert result.output_format == "webp" and result.background == "opaque" and result.size == "1024x1024"
    url = result.data[0].url or ""
    assert url.endswith(".webp")
    assert fetched(stack, url).format == "WEBP"


def test_a_transparent_background_is_delivered_with_alpha(stack: Stack, test_key: str) -> None:
    result = client(stack, test_key).images.generate(model="gpt-image-2", prompt="a sticker of a fox",
                                                     background="transparent", response_format="b64_json")
    image = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json or "")))
    assert image.format == "PNG" and image.mode == "RGBA"
    assert image.getextrema()[3][0] == 0  # some pixel is fully transparent
    assert result.background == "transparent"


def test_jpeg_output_with_compression_is_a_jpeg(stack: Stack, test_key: str) -> None:
    sdk = client(stack, test_key)
    small = sdk.images.generate(model="gpt-image-2", prompt="a fox", output_format="jpeg", output_compression=5,
                                response_format="b64_json")
    large = sdk.images.generate(model="gpt-image-2", prompt="a fox", output_format="jpeg", output_compression=95,
                                response_format="b64_json")
    small_bytes, large_bytes = (base64.b64decode(r.data[0].b64_json or "") for r in (small, large))
    assert small_bytes[:3] == b"\xff\xd8\xff" and large_bytes[:3] == b"\xff\xd8\xff"
    assert len(small_bytes) < len(large_bytes)  # the compression was applied, not ignored


def test_variations_make_n_images_of_the_size_asked_without_our_prompt(stack: Stack, test_key: str) -> None:
    result = client(stack, test_key).images.create_variation(image=("cat.png", png()), n=2, size="256x256")
    assert len(result.data) == 2
    for item in result.data:
        assert item.revised_prompt is None  # the variation prompt is catalog data, not the caller's
        assert fetched(stack, item.url or "").size == (256, 256)
    perf = result.model_extra["perf"]  # type: ignore[index]
    # dall-e-2 edit_price: $0.016 per 256x256 image plus $0.015 for the started input megapixel.
    assert perf["model_used"] == "dall-e-2" and perf["cost_usd"] == pytest.approx(2 * (0.016 + 0.015))


def test_a_streamed_generation_sends_partials_then_the_completed_image(stack: Stack, test_key: str) -> None:
    sdk = client(stack, test_key)
    events = list(sdk.images.generate(model="gpt-image-2", prompt="a fox in snow", stream=True, partial_images=2,
                                      size="1024x1024", quality="low"))
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]  # type: ignore[union-attr]
    final = events[-1]
    image = Image.open(io.BytesIO(base64.b64decode(final.b64_json)))
    assert image.size == (1024, 1024)
    perf = final.model_extra["perf"]  # type: ignore[index]
    plain = sdk.images.generate(model="gpt-image-2", prompt="a fox in snow", size="1024x1024", quality="low")
    # The same price streamed or not: a stream is the same request with its events shown.
    assert perf["cost_usd"] == plain.model_extra["perf"]["cost_usd"]  # type: ignore[index]
    assert perf["request_id"].startswith("req_img_")


def test_a_streamed_edit_and_its_ledger_rows(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    key = stack.create_key("test")
    sdk = client(stack, key)
    events = list(sdk.images.edit(model="gpt-image-2", image=("in.png", png()), prompt="make it night",
                                  stream=True, partial_images=1))
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    sdk.images.create_variation(image=("in.png", png()), n=3, size="512x512")
    with pytest.raises(openai.BadRequestError):
        sdk.images.edit(model="gpt-image-2", image=("in.png", b"not an image"), prompt="p")
    rows = ledger(stack)
    assert [(kind, status, images) for kind, status, images, _ in rows] == \
        [("edit", "ok", 1), ("variation", "ok", 3), ("edit", "error", 0)]


@pytest.mark.parametrize(("call", "param"), [
    (lambda sdk: sdk.images.edit(model="gpt-image-2", image=("a.png", b"GIF89a...."), prompt="p"), "image"),
    (lambda sdk: sdk.images.edit(model="gpt-image-2", image=("a.png", png()), prompt="p",
                                 mask=("m.png", left_half_mask(256, 256))), "mask"),
    (lambda sdk: sdk.images.edit(model="gpt-image-2", image=("a.png", png()), prompt="p",
                                 mask=("m.png", png())), "mask"),  # no alpha channel
    (lambda sdk: sdk.images.edit(model="gpt-image-2", image=[("a.png", png(64, 64))] * 17, prompt="p"), "image"),
    (lambda sdk: sdk.images.edit(model="gpt-image-2", image=("a.png", png()), prompt=" "), "prompt"),
    (lambda sdk: sdk.images.edit(model="flux-pro", image=[("a.png", png())] * 5, prompt="p"), "image"),
    (lambda sdk: sdk.images.edit(model="stable-diffusion-3", image=("a.png", png()), prompt="p"), "mask"),
    (lambda sdk: sdk.images.edit(model="imagen-3", image=("a.png", png()), prompt="p",
                                 mask=("m.png", left_half_mask())), "mask"),
    (lambda sdk: sdk.images.edit(model="gpt-image-2", image=("a.png", png()), prompt="p",
                                 input_fidelity="extreme"), "input_fidelity"),
    (lambda sdk: sdk.images.create_variation(image=("a.png", png()), model="flux-pro"), "model"),
    (lambda sdk: sdk.images.create_variation(image=("a.png", png()), size="1792x1024"), "size"),
    (lambda sdk: sdk.images.generate(model="gpt-image-2", prompt="p", stream=True, n=2), "n"),
    (lambda sdk: sdk.images.generate(model="gpt-image-2", prompt="p", partial_images=2), "partial_images"),
    (lambda sdk: sdk.images.generate(model="gpt-image-2", prompt="p", stream=True, partial_images=4),
     "partial_images"),
    (lambda sdk: sdk.images.generate(model="gpt-image-2", prompt="p", background="transparent",
                                     output_format="jpeg"), "background"),
    (lambda sdk: sdk.images.generate(model="gpt-image-2", prompt="p", output_compression=50), "output_compression"),
    (lambda sdk: sdk.images.generate(model="dall-e-3", prompt="p", output_format="gif"), "output_format"),
    (lambda sdk: sdk.images.generate(model="flux-pro", prompt="p", background="transparent"), "background"),
    (lambda sdk: sdk.images.generate(model="gpt-image-2", prompt="p", moderation="none"), "moderation"),
])
def test_bad_edits_and_streams_are_400s_naming_the_parameter(stack: Stack, test_key: str,
                                                             call: Callable[[openai.OpenAI], object],
                                                             param: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        result = call(client(stack, test_key))
        list(result) if isinstance(result, openai.Stream) else None  # type: ignore[func-returns-value]
    assert refused.value.param == param, refused.value.message
    assert refused.value.type == "invalid_request"


def test_a_refused_stream_is_a_plain_json_error_not_an_event_stream(stack: Stack) -> None:
    reply = http("POST", stack.base_url + "/v1/images/generations",
                 {"prompt": "p", "model": "gpt-image-2", "stream": True},
                 {"Content-Type": "application/json", "Authorization": "Bearer pk_test_" + "0" * 48})
    assert reply.status == 401 and reply.headers["content-type"].startswith("application/json")
    assert reply.json()["error"]["type"] == "authentication_error"


def test_the_event_stream_is_framed_as_the_sdks_parse_it(stack: Stack, test_key: str) -> None:
    reply = http("POST", stack.base_url + "/v1/images/generations",
                 {"prompt": "p", "model": "gpt-image-2", "stream": True, "partial_images": 1, "quality": "low"},
                 {"Content-Type": "application/json", "Authorization": f"Bearer {test_key}"})
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in reply.body.decode().split("\n\n") if f]
    kinds = [f.split("\n")[0] for f in frames]
    assert kinds == ["event: image_generation.partial_image", "event: image_generation.completed"]
    assert all(f.split("\n")[1].startswith("data: {") for f in frames)


@pytest.mark.parametrize(("parts", "message"), [
    ({"image": png(), "image[]": png()}, "not both"),
    ({"image": png(), "colour": b"red"}, "Unknown parameter"),
    ({"image": png(), "n": b"2.5"}, "integer"),
    ({"image": png(), "stream": b"yes"}, "true or false"),
])
def test_malformed_forms_are_400s(stack: Stack, test_key: str, parts: dict[str, bytes], message: str) -> None:
    body, content_type = multipart({"prompt": b"p", **parts})
    reply = http("POST", stack.base_url + "/v1/images/edits", body,
                 {"Content-Type": content_type, "Authorization": f"Bearer {test_key}"})
    assert reply.status == 400, reply.body
    assert message in reply.json()["error"]["message"]


def test_an_edit_sent_as_json_is_told_to_use_multipart(stack: Stack, test_key: str) -> None:
    reply = stack.post("/v1/images/edits", {"prompt": "p"}, key=test_key)
    assert reply.status == 400 and "multipart/form-data" in reply.json()["error"]["message"]


def test_an_upload_over_the_cap_is_a_413_before_it_is_read_to_the_end(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(PERF_MAX_UPLOAD_FILE_BYTES="100000", PERF_MAX_UPLOAD_BYTES="150000")
    key = stack.create_key("test")
    sdk = client(stack, key)
    noise = Image.frombytes("RGB", (300, 300), bytes(range(256)) * 1054 + b"\0" * 276)
    big = io.BytesIO()
    noise.save(big, "PNG", compress_level=0)
    assert len(big.getvalue()) > 100_000
    with pytest.raises(openai.APIStatusError) as one_file:
        sdk.images.edit(model="gpt-image-2", image=("big.png", big.getvalue()), prompt="p")
    assert one_file.value.status_code == 413 and "100000" in one_file.value.message
    with pytest.raises(openai.APIStatusError) as together:
        sdk.images.edit(model="gpt-image-2", image=[("a.png", png(200, 200, color=(1, 2, 3)))] * 1 +
                        [("n.png", big.getvalue()[:90_000])] * 2, prompt="p")
    assert together.value.status_code == 413 and "150000" in together.value.message
    assert ledger(stack) == []  # refused at the gateway: nothing reached the server
    # A raw client that keeps sending after the 413 is hung up on rather than read to the end.
    body, content_type = multipart({"prompt": b"p", "image": b"\x89PNG" + b"\0" * 400_000})
    raw = exchange(stack.http_port, b"POST /v1/images/edits HTTP/1.1\r\nHost: x\r\n"
                         + f"Authorization: Bearer {key}\r\nContent-Type: {content_type}\r\n".encode()
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    assert raw.status == 413 and raw.closed


def multipart(fields: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = "perfboundary42"
    out = b""
    for name, value in fields.items():
        filename = f'; filename="{name}.png"' if name in ("image", "image[]", "mask") else ""
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"{filename}\r\n\r\n'.encode()
        out += value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_safety_identifier_is_recorded_as_the_end_user(stack: Stack, test_key: str) -> None:
    sdk = client(stack, test_key)
    generated = sdk.images.generate(model="gpt-image-2", prompt="p", quality="low", user="old-name",
                                    safety_identifier="user-42")
    edited = sdk.images.edit(model="gpt-image-2", image=("a.png", png()), prompt="p", safety_identifier="user-43")
    ids = [r.model_extra["perf"]["request_id"] for r in (generated, edited)]  # type: ignore[index]
    with sqlite3.connect(stack.data_dir / "perf.sqlite3") as db:
        users = [db.execute("SELECT end_user FROM usage_ledger WHERE request_id = ?", (i,)).fetchone()[0] for i in ids]
    assert users == ["user-42", "user-43"]


def test_edits_bill_their_own_price_where_the_catalog_gives_one(stack: Stack, test_key: str) -> None:
    sdk = client(stack, test_key)
    # dall-e-3 edits: the generation price plus $0.015 per started input megapixel (its upstream bills inputs).
    two = sdk.images.edit(model="dall-e-3", image=[("a.png", png(1024, 1024)), ("b.png", png(1100, 1000))],
                          prompt="p", size="1024x1024")
    assert two.model_extra["perf"]["cost_usd"] == pytest.approx(0.040 + 0.015 + 2 * 0.015)  # type: ignore[index]
    # flux-dev: a masked edit goes to an inpainting upstream that charges more than a generation.
    masked = sdk.images.edit(model="flux-dev", image=("a.png", png()), mask=("m.png", left_half_mask()), prompt="p")
    unmasked = sdk.images.edit(model="flux-dev", image=("a.png", png()), prompt="p")
    assert masked.model_extra["perf"]["cost_usd"] == pytest.approx(0.060)  # type: ignore[index]
    assert unmasked.model_extra["perf"]["cost_usd"] == pytest.approx(0.025)  # type: ignore[index]
    listed = stack.get("/v1/models/flux-dev", key=test_key).json()
    assert listed["inpaint_pricing"]["pricing"] == [{"size": "any", "quality": "standard", "usd_per_image": 0.06}]
    assert "edit_pricing" not in listed
    assert stack.get("/v1/models/dall-e-3", key=test_key).json()["edit_pricing"]["input_megapixel_usd"] == 0.015


def test_gpt_image_models_answer_b64_json_by_default_as_openai_does(stack: Stack, test_key: str) -> None:
    sdk = client(stack, test_key)
    gpt = sdk.images.generate(model="gpt-image-2", prompt="p", quality="low")
    seed = sdk.images.generate(model="dall-e-3", prompt="p")
    assert gpt.data[0].b64_json and gpt.data[0].url is None
    assert seed.data[0].url and seed.data[0].b64_json is None  # the seed ids keep the seed's url default
