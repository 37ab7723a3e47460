"""Services go on the gRPC server as generic handlers only: same routing, one pending request per RPC."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from server.runtime.grpc_services import GenericHandlersOnly, add_reflection

SERVICE = "perf.images.v1.ImageService"


class Models(pb_grpc.ImageServiceServicer):
    async def ListModels(self, request, context):  # type: ignore[no-untyped-def]
        return pb.ListModelsResponse(data=[pb.Model(id="flux-dev")])


class Recorder:
    def __init__(self) -> None:
        self.generic: list[grpc.GenericRpcHandler] = []
        self.registered: list[str] = []

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.generic.extend(handlers)

    def add_registered_method_handlers(self, service_name: str, method_handlers: Any) -> None:
        self.registered.append(service_name)


class Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def test_generated_registration_reaches_the_server_as_its_generic_handler_only() -> None:
    recorder = Recorder()
    pb_grpc.add_ImageServiceServicer_to_server(Models(), GenericHandlersOnly(recorder))  # type: ignore[arg-type]
    assert recorder.registered == []
    (handler,) = recorder.generic
    assert handler.service(Details(f"/{SERVICE}/ListModels")) is not None
    assert handler.service(Details(f"/{SERVICE}/NoSuchMethod")) is None


async def serve(register: Callable[[grpc.aio.Server], None], waited: list[int]) -> tuple[set[str], int]:
    """Starts a server registered by `register`, then asks it over a socket what the real server is asked."""
    server = grpc.aio.server()
    register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            for _ in range(3):
                models = await pb_grpc.ImageServiceStub(channel).ListModels(pb.ListModelsRequest(), timeout=5)
                assert [m.id for m in models.data] == ["flux-dev"]
            check = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert check.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await pb_grpc.ImageServiceStub(channel).GenerateImages(pb.GenerateImagesRequest(), timeout=5)
            assert unknown.value.code() == grpc.StatusCode.UNIMPLEMENTED  # the servicer's base answer
            replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
            listed: set[str] = set()
            async for reply in replies:
                listed = {s.name for s in reply.list_services_response.service}
                break
        return listed, max(waited, default=0)
    finally:
        await server.stop(None)


def measured(register: Callable[[grpc.aio.Server], None], monkeypatch: pytest.MonkeyPatch) -> tuple[set[str], int]:
    """What the server lists, and the most futures its loop waited on at once (grpc.aio calls asyncio.wait)."""
    waited: list[int] = []
    real_wait = asyncio.wait

    def counting_wait(fs: Any, *args: Any, **kwargs: Any) -> Any:
        waited.append(len(fs))
        return real_wait(fs, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(asyncio, "wait", counting_wait)
        return asyncio.run(serve(register, waited))


NAMES = (SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME)


def ours(server: grpc.aio.Server) -> None:
    services = GenericHandlersOnly(server)
    pb_grpc.add_ImageServiceServicer_to_server(Models(), services)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), services)
    add_reflection(NAMES, services)


def generated_default(server: grpc.aio.Server) -> None:
    pb_grpc.add_ImageServiceServicer_to_server(Models(), server)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    reflection.enable_server_reflection(NAMES, server)


def test_the_server_routes_every_service_while_waiting_on_one_pending_request(monkeypatch: pytest.MonkeyPatch) -> None:
    listed, pending = measured(ours, monkeypatch)
    assert set(NAMES) <= listed
    assert pending == 1
    # What the generated registration alone makes grpc.aio wait on: one per method (15 + 2-3 + 1 here),
    # which is what this test would see if the second registration reached the server.
    listed, pending = measured(generated_default, monkeypatch)
    assert set(NAMES) <= listed
    assert pending > len(pb.DESCRIPTOR.services_by_name["ImageService"].methods)
