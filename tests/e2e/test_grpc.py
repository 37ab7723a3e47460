"""The same service over gRPC: generation, rich error details, health and reflection."""
from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from tests.stack import Stack

SERVICE = "perf.images.v1.ImageService"


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_generate_over_grpc(stack: Stack, test_key: str) -> None:
    async def call() -> tuple[pb.GenerateImagesResponse, dict[str, str]]:
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            rpc = pb_grpc.ImageServiceStub(channel).GenerateImages(
                pb.GenerateImagesRequest(prompt="over grpc", model="flux-dev", n=2, response_format="b64_json"),
                metadata=(("authorization", f"Bearer {test_key}"),), timeout=10)
            response = await rpc
            return response, dict(await rpc.trailing_metadata())

    response, metadata = run(call())
    assert len(response.data) == 2
    assert response.data[0].data.startswith(b"\x89PNG")  # raw bytes over gRPC, not base64
    assert response.perf.model_used == "flux-dev"
    assert response.perf.cost_usd == pytest.approx(0.05)
    assert metadata["x-request-id"] == response.perf.request_id


def test_grpc_errors_carry_rich_details(stack: Stack, test_key: str) -> None:
    async def call(request: pb.GenerateImagesRequest, key: str | None) -> grpc.aio.AioRpcError:
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            metadata = (("authorization", f"Bearer {key}"),) if key else ()
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await pb_grpc.ImageServiceStub(channel).GenerateImages(request, metadata=metadata, timeout=10)
            return caught.value

    bad_n = run(call(pb.GenerateImagesRequest(prompt="p", n=3), test_key))
    assert bad_n.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(bad_n)
    assert status is not None
    kinds = {d.type_url.rsplit("/", 1)[-1]: d for d in status.details}
    info = error_details_pb2.ErrorInfo()
    kinds["google.rpc.ErrorInfo"].Unpack(info)
    assert (info.reason, info.domain) == ("INVALID_REQUEST", "perf.images.v1")
    bad = error_details_pb2.BadRequest()
    kinds["google.rpc.BadRequest"].Unpack(bad)
    assert bad.field_violations[0].field == "n"

    no_key = run(call(pb.GenerateImagesRequest(prompt="p"), None))
    assert no_key.code() == grpc.StatusCode.UNAUTHENTICATED
    missing_prompt = run(call(pb.GenerateImagesRequest(), test_key))
    assert missing_prompt.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert missing_prompt.details() == "prompt is required"


def test_health_reports_each_service(stack: Stack) -> None:
    async def check(service: str) -> int:
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                                     timeout=2)
            return reply.status

    assert run(check("")) == health_pb2.HealthCheckResponse.SERVING
    assert run(check(SERVICE)) == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        run(check("no.such.Service"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_the_services(stack: Stack) -> None:
    async def services() -> set[str]:
        async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
            async for response in responses:
                return {s.name for s in response.list_services_response.service}
        return set()

    assert {SERVICE, "grpc.health.v1.Health"} <= run(services())


def test_container_probe_reports_serving_and_absent(stack: Stack) -> None:
    import os
    import subprocess
    import sys

    from tests.stack import ROOT, free_port

    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'generated'}{os.pathsep}{ROOT}", "PROBE_TARGET": stack.grpc_target}
    assert subprocess.run([sys.executable, "-m", "server.runtime.probe"], env=env, cwd=ROOT).returncode == 0
    env["PROBE_TARGET"] = f"127.0.0.1:{free_port()}"
    absent = subprocess.run([sys.executable, "-m", "server.runtime.probe"], env=env, cwd=ROOT, capture_output=True)
    assert absent.returncode == 1 and b"unhealthy" in absent.stderr
