"""Images leave in pieces: an image far larger than the gRPC message limit is served whole through the
gateway, from the local directory and from a bucket; gRPC clients still get small images in one message."""
from __future__ import annotations

import asyncio
import os
import secrets
import time

import grpc
import pytest

from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from server.runtime.instance_secret import derive_keys
from server.storage.signing import UrlSigner
from tests.stack import Stack

MESSAGE_LIMIT = 1024 * 1024
BIG = b"\x89PNG\r\n\x1a\n" + os.urandom(5 * MESSAGE_LIMIT)


def signed_path(secret: str, image_id: str) -> str:
    signer = UrlSigner(derive_keys(secret.encode()).url_signing, 3600, "")
    return signer.url(image_id, "png", time.time())


@pytest.mark.parametrize("where", ["local", "s3"])
def test_an_image_five_times_the_message_limit_streams_through_the_gateway(
        where: str, request: pytest.FixtureRequest, make_stack) -> None:  # type: ignore[no-untyped-def]
    secret = secrets.token_hex(16)
    limits = {"PERF_SECRET": secret, "PERF_MAX_MESSAGE_BYTES": str(MESSAGE_LIMIT)}
    image_id = "img_" + secrets.token_hex(16)
    if where == "s3":
        seaweed, bucket = request.getfixturevalue("seaweed"), request.getfixturevalue("bucket")
        stack: Stack = make_stack(**seaweed.env(bucket), **limits)
        seaweed.probe().put(bucket, f"images/{image_id}.png", BIG, "image/png")
    else:
        stack = make_stack(**limits)
        (stack.data_dir / "images" / f"{image_id}.png").write_bytes(BIG)
    served = stack.get(signed_path(secret, image_id))
    assert served.status == 200, served.body[:300]
    assert served.headers["content-length"] == str(len(BIG))
    assert served.headers["content-type"] == "image/png"
    assert served.body == BIG

    async def whole_over_grpc() -> grpc.StatusCode:
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            _, expires, filename = signed_path(secret, image_id).rsplit("/", 2)
            request_ = pb.GetImageContentRequest(image_id=image_id, expires=int(expires),
                                                 signature=filename.split(".")[0], extension="png")
            try:
                await pb_grpc.ImageServiceStub(channel).GetImageContent(request_, timeout=10)
            except grpc.aio.AioRpcError as error:
                return error.code()
            return grpc.StatusCode.OK

    # The one-message RPC is bounded by the limit, which is why the gateway streams.
    assert asyncio.run(whole_over_grpc()) == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_grpc_clients_still_get_a_small_image_in_one_message(stack: Stack, test_key: str) -> None:
    made = stack.post("/v1/images/generations", {"prompt": "one message", "model": "dall-e-2", "size": "256x256"},
                      key=test_key)
    assert made.status == 200, made.body
    url = made.json()["data"][0]["url"]
    image_id, expires, filename = url.rsplit("/", 3)[1:]
    request_ = pb.GetImageContentRequest(image_id=image_id, expires=int(expires), signature=filename.split(".")[0],
                                         extension="png")

    async def fetch() -> pb.ImageContent:
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            return await pb_grpc.ImageServiceStub(channel).GetImageContent(request_, timeout=10)

    content = asyncio.run(fetch())
    assert content.content_type == "image/png" and content.expires == int(expires)
    assert content.data == stack.get(url).body
