"""Edits, variations and streams over gRPC: raw image bytes both ways, statuses before the first event,
idempotent replays of a stream, and a caller that leaves a stream early."""
from __future__ import annotations

import asyncio
import io
import sqlite3
import time
from collections.abc import Callable

import grpc
import pytest
from PIL import Image

from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from tests.stack import Stack


def png(width: int = 256, height: int = 256, color: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


async def stream_events(stack: Stack, key: str, request: pb.GenerateImagesRequest | pb.EditImagesRequest,
                        extra: tuple[tuple[str, str], ...] = ()) -> list[pb.ImageStreamEvent]:
    async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
        stub = pb_grpc.ImageServiceStub(channel)
        method = stub.StreamEditImages if isinstance(request, pb.EditImagesRequest) else stub.StreamGenerateImages
        call = method(request, metadata=(("authorization", f"Bearer {key}"), *extra), timeout=20)
        return [event async for event in call]


def test_edit_and_variation_take_and_return_raw_bytes(stack: Stack, test_key: str) -> None:
    async def call() -> tuple[pb.GenerateImagesResponse, pb.GenerateImagesResponse]:
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            stub = pb_grpc.ImageServiceStub(channel)
            metadata = (("authorization", f"Bearer {test_key}"),)
            edit = await stub.EditImages(pb.EditImagesRequest(images=[png(), png(color=(1, 2, 3))], prompt="merge",
                                                              model="gemini-3-pro-image", size="1024x1024",
                                                              response_format="b64_json"), metadata=metadata, timeout=20)
            variation = await stub.CreateImageVariation(pb.CreateImageVariationRequest(image=png(), n=2,
                                                                                       size="512x512"),
                                                        metadata=metadata, timeout=20)
            return edit, variation

    edit, variation = asyncio.run(call())
    assert edit.perf.model_used == "gemini-3-pro-image" and edit.size == "1024x1024" and len(edit.data) == 1
    assert len(variation.data) == 2 and variation.perf.size == "512x512" and variation.perf.cost_usd == 0.036


def test_a_stream_over_grpc_sends_partial_bytes_then_the_completed_response(stack: Stack, test_key: str) -> None:
    events = asyncio.run(stream_events(stack, test_key, pb.GenerateImagesRequest(
        prompt="a kite", model="gpt-image-2", partial_images=3, quality="low", size="1024x1024")))
    assert [e.type for e in events] == ["image_generation.partial_image"] * 3 + ["image_generation.completed"]
    for event in events[:3]:
        assert Image.open(io.BytesIO(event.image)).size == (1024, 1024)
    final = events[-1]
    assert final.perf.request_id and final.perf.cost_usd > 0 and final.response.perf == final.perf
    assert Image.open(io.BytesIO(final.image)).size == (1024, 1024)
    assert final.response.data[0].url  # the response as the unstreamed call would give it (url by default)


def test_a_bad_stream_fails_with_its_status_before_any_event(stack: Stack, test_key: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        asyncio.run(stream_events(stack, test_key, pb.EditImagesRequest(images=[b"junk"], prompt="p",
                                                                        model="gpt-image-2")))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "image 1" in (refused.value.details() or "")


def test_a_repeated_stream_with_one_idempotency_key_replays_the_completed_event(stack: Stack, test_key: str) -> None:
    request = pb.GenerateImagesRequest(prompt="once", model="gpt-image-2", partial_images=2, quality="low",
                                       response_format="b64_json")
    key = (("idempotency-key", "stream-replay-1"),)
    first = asyncio.run(stream_events(stack, test_key, request, key))
    again = asyncio.run(stream_events(stack, test_key, request, key))
    assert [e.type for e in again] == ["image_generation.completed"]  # the partials are not replayed
    assert again[0].perf == first[-1].perf  # same request id, same cost: billed once
    # The first stream's completed event carries the image once (as `image`); the replay, from the
    # stored answer, carries it in the response.
    assert not first[-1].response.data[0].data and again[0].response.data[0].data == first[-1].image


def test_a_caller_leaving_a_stream_early_leaves_one_ledger_row(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(PERF_SANDBOX_LATENCY_MS="1500")
    key = stack.create_key("test")

    async def leave_after_first_event() -> str:
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            call = pb_grpc.ImageServiceStub(channel).StreamGenerateImages(
                pb.GenerateImagesRequest(prompt="bye", model="gpt-image-2", partial_images=3, quality="low"),
                metadata=(("authorization", f"Bearer {key}"),), timeout=20)
            first = await call.read()
            call.cancel()
            return first.type

    assert asyncio.run(leave_after_first_event()) == "image_generation.partial_image"
    rows: list[tuple[str, str, str, int, int]] = []
    deadline = time.monotonic() + 10
    while not rows and time.monotonic() < deadline:  # the row is written as the server sees the cancel
        time.sleep(0.1)
        with sqlite3.connect(stack.data_dir / "perf.sqlite3") as db:
            rows = db.execute("SELECT kind, status, error_type, n_delivered, cost_micros FROM usage_ledger").fetchall()
    assert rows == [("generation", "error", "cancelled", 0, 0)]
