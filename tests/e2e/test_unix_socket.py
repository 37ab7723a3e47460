"""PERF_GRPC_UNIX_SOCKET: the server also listens on a Unix-domain socket, and a gateway on the same host
reaches it there (PERF_GRPC_TARGET=unix:<path>) instead of over TCP loopback."""
from __future__ import annotations

import os
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from tests.stack import Stack

GEN = "/v1/images/generations"


@pytest.fixture
def socket_path() -> Iterator[Path]:
    # Not under tmp_path: a socket's path must fit in 107 bytes.
    with tempfile.TemporaryDirectory(prefix="perf-uds-") as folder:
        yield Path(folder) / "grpc.sock"


def unix_stack(data_dir: Path, path: Path) -> Stack:
    # The gateway's only way to the server is the socket: its target names no TCP port.
    return Stack(data_dir, env_overrides={"PERF_GRPC_UNIX_SOCKET": str(path), "PERF_GRPC_TARGET": f"unix:{path}"})


def test_the_gateway_reaches_the_server_over_the_socket_and_the_file_goes_at_stop(tmp_path: Path,
                                                                                  socket_path: Path) -> None:
    stack = unix_stack(tmp_path, socket_path)
    try:
        stack.start()  # inside: a start that fails still stops what it started
        assert stat.S_ISSOCK(os.stat(socket_path).st_mode)
        key = stack.create_key("test")
        response = stack.post(GEN, {"prompt": "a harbour at dawn", "model": "dall-e-3"}, key=key)
        assert response.status == 200, response.body
        assert response.json()["data"][0]["url"].startswith(stack.base_url)
        # Internal gRPC clients on the host may use it too; the API key is checked as on the port.
        with grpc.insecure_channel(f"unix:{socket_path}") as channel:
            stub = pb_grpc.ImageServiceStub(channel)
            request = pb.GenerateImagesRequest(prompt="a quay", model="dall-e-3")
            reply = stub.GenerateImages(request, metadata=[("authorization", f"Bearer {key}")], timeout=10)
            assert reply.data[0].url
            with pytest.raises(grpc.RpcError) as refused:
                stub.GenerateImages(request, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert f"also listening on unix:{socket_path}" in stack.server_log()
    finally:
        stack.stop()
    assert not socket_path.exists()


def test_a_socket_file_left_by_a_killed_server_does_not_stop_the_next(tmp_path: Path, socket_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(socket_path))  # bound and never listened on: what a SIGKILL leaves behind
    stale.close()
    stack = unix_stack(tmp_path, socket_path)
    try:
        stack.start()
        response = stack.post(GEN, {"prompt": "a lighthouse", "model": "dall-e-3"}, key=stack.create_key("test"))
        assert response.status == 200, response.body
    finally:
        stack.stop()


def test_a_socket_the_server_cannot_create_stops_it_with_the_path_in_the_log(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "grpc.sock"
    stack = unix_stack(tmp_path, missing)
    with pytest.raises(RuntimeError, match="server exited"):
        stack.start()
    stack.stop()
    assert "no-such-folder" in stack.server_log()
