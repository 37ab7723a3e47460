"""The transport floor: an ImageService whose GenerateImages does only what no product can skip.

It is run by bench/floor.py as `python -m bench.floor_server GRPC_PORT UPSTREAM_URL`: grpc.aio on the
same event loop as ours (uvloop), one aiohttp session to the fake OpenAI upstream, orjson for its reply,
pybase64 for the image, and a GenerateImagesResponse carrying the raw bytes. No key, limit, validation,
routing, ledger, metrics or image checks: what our server costs above this is our product's own work.
"""
from __future__ import annotations

import sys
import time

import aiohttp
import grpc
import orjson
import pybase64

from contract import event_loop
from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from server.runtime.grpc_services import GenericHandlersOnly

UPSTREAM_BODY = orjson.dumps({"model": "gpt-image-2", "prompt": "benchmark", "n": 1, "size": "1024x1024",
                              "quality": "medium"})
UPSTREAM_HEADERS = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}


class FloorService(pb_grpc.ImageServiceServicer):
    def __init__(self, session: aiohttp.ClientSession, upstream: str) -> None:
        self._session = session
        self._url = upstream + "/v1/images/generations"

    async def GenerateImages(self, request: pb.GenerateImagesRequest,
                             context: grpc.aio.ServicerContext) -> pb.GenerateImagesResponse:
        async with self._session.post(self._url, data=UPSTREAM_BODY, headers=UPSTREAM_HEADERS) as reply:
            body = await reply.read()
        image = pybase64.b64decode(orjson.loads(body)["data"][0]["b64_json"], validate=True)
        return pb.GenerateImagesResponse(
            created=int(time.time()), data=[pb.Image(data=image)], size="1024x1024", quality="standard",
            output_format="png", perf=pb.Perf(request_id="req_img_floor", model_used=request.model, size="1024x1024",
                                              quality="standard", cost_usd=0.04, latency_ms=1))


async def serve(port: int, upstream: str, unix_socket: str | None) -> None:
    # No connection cap (aiohttp's default is 100): a 1,000-request hold would queue in rounds of 100, where
    # ours opens as many upstream connections as its provider concurrency allows.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        server = grpc.aio.server()
        # Registered as ours is (server/runtime/grpc_services.py): one pending request, not one per method.
        pb_grpc.add_ImageServiceServicer_to_server(FloorService(session, upstream), GenericHandlersOnly(server))
        server.add_insecure_port(f"127.0.0.1:{port}")
        if unix_socket:  # the hop ours takes in the benchmarks (bench/live.py)
            server.add_insecure_port(f"unix:{unix_socket}")
        await server.start()
        print("ready", flush=True)
        await server.wait_for_termination()


if __name__ == "__main__":
    event_loop.run(serve(int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
