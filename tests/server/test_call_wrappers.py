"""The server's catch-all over a real socket: an unexpected exception never leaks its text."""
from __future__ import annotations

import asyncio

import grpc
import pytest

from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from server.errors import RateLimitExceeded
from server.runtime.call_wrappers import CallWrappers
from server.runtime.grpc_services import GenericHandlersOnly


class Faulty(pb_grpc.ImageServiceServicer):
    async def GenerateImages(self, request, context):  # type: ignore[no-untyped-def]
        if request.prompt == "limit":
            raise RateLimitExceeded("Rate limit exceeded for image generation", retry_after=7.2)
        raise ValueError("secret internal detail /etc/perf")


async def call(prompt: str) -> grpc.aio.AioRpcError:
    server = grpc.aio.server()
    pb_grpc.add_ImageServiceServicer_to_server(Faulty(), GenericHandlersOnly(server, CallWrappers().wrap))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await pb_grpc.ImageServiceStub(channel).GenerateImages(pb.GenerateImagesRequest(prompt=prompt),
                                                                       timeout=5)
            return caught.value
    finally:
        await server.stop(None)


def test_unexpected_exception_becomes_generic_internal() -> None:
    error = asyncio.run(call("boom"))
    assert error.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (error.details() or "")
    assert error.details().startswith("internal error (request req_img_")


def test_domain_error_keeps_code_and_retry_delay() -> None:
    from gateway.errors import from_rpc_error

    error = asyncio.run(call("limit"))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    public = from_rpc_error(error, "req_img_x")
    assert (public.status, public.type, public.retry_after) == (429, "rate_limit_exceeded", 8)
    assert public.response_headers()["Retry-After"] == "8"
    assert public.body()["error"]["retry_after"] == 8
