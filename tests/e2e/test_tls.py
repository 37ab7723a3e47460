"""TLS and mTLS on the gRPC hop, with certificates made for the test: real processes, real handshakes."""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from perf.images.v1 import image_service_pb2 as pb
from perf.images.v1 import image_service_pb2_grpc as pb_grpc
from tests.certs import Pair, make_ca, make_leaf, openssl_skip_reason
from tests.stack import ROOT, Stack, free_port, http

pytestmark = pytest.mark.skipif(openssl_skip_reason() is not None, reason=str(openssl_skip_reason()))
CLIENT_TLS = ("PERF_GRPC_TLS_CA_FILE", "PERF_GRPC_TLS_CLIENT_CERT_FILE", "PERF_GRPC_TLS_CLIENT_KEY_FILE",
              "PERF_GRPC_TLS_SERVER_NAME")
READINESS = health_pb2.HealthCheckRequest(service="perf.images.v1.ImageService")


@pytest.fixture()
def pki(tmp_path: Path) -> dict[str, Pair]:
    folder = tmp_path / "pki"
    ca = make_ca(folder)
    # A second CA nobody trusts: its client certificate must be refused like no certificate at all.
    stranger = make_ca(folder, "stranger-ca")
    return {"ca": ca, "server": make_leaf(ca, folder, "server"), "gateway": make_leaf(ca, folder, "gateway"),
            "stranger": make_leaf(stranger, folder, "stranger")}


def server_tls(pki: dict[str, Pair], mtls: bool) -> dict[str, str]:
    env = {"PERF_GRPC_TLS_CERT_FILE": str(pki["server"].cert), "PERF_GRPC_TLS_KEY_FILE": str(pki["server"].key),
           "PERF_GRPC_TLS_CA_FILE": str(pki["ca"].cert)}
    if mtls:
        env.update({"PERF_GRPC_TLS_CLIENT_CA_FILE": str(pki["ca"].cert),
                    "PERF_GRPC_TLS_CLIENT_CERT_FILE": str(pki["gateway"].cert),
                    "PERF_GRPC_TLS_CLIENT_KEY_FILE": str(pki["gateway"].key)})
    return env


@pytest.fixture()
def extra_gateway(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Starts one more gateway in front of a running server, with its own TLS settings; gives its URL."""
    started: list[subprocess.Popen[bytes]] = []

    def start(stack: Stack, **tls: str) -> str:
        port = free_port()
        env = {k: v for k, v in stack.env.items() if k not in CLIENT_TLS}
        env.update({"PERF_HTTP_PORT": str(port), "PERF_GRPC_TARGET": stack.grpc_target, **tls})
        log = open(tmp_path / f"gateway-{port}.log", "wb")
        started.append(subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=log))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if http("GET", url + "/healthz", timeout=2).status == 200:
                    return url
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the extra gateway did not start")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def readyz_after_connect_attempts(url: str) -> int:
    """/readyz once the channel has had time to try (and fail) its handshake."""
    status = 0
    for _ in range(5):
        status = http("GET", url + "/readyz", timeout=5).status
        if status == 200:
            break
        time.sleep(0.3)
    return status


def probe(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "server.runtime.probe", *args], cwd=ROOT,
                          env={**stack.env, **env}, capture_output=True, timeout=20)


def test_tls_stack_serves_a_generation_and_a_gateway_without_the_ca_is_not_ready(
        make_stack: Callable[..., Stack], pki: dict[str, Pair], extra_gateway: Callable[..., str]) -> None:
    stack = make_stack(**server_tls(pki, mtls=False), PERF_GRPC_TLS_SERVER_NAME="localhost")
    response = stack.post("/v1/images/generations", {"prompt": "over tls", "model": "dall-e-2", "size": "256x256"},
                          key=stack.first_key)
    assert response.status == 200, response.body
    assert "listening on 127.0.0.1:" in stack.server_log() and "(TLS)" in stack.server_log()
    # The server's own probe speaks TLS too.
    assert probe(stack, "server").returncode == 0
    # A plaintext gateway cannot talk to a TLS server: alive, never ready.
    plaintext = extra_gateway(stack)
    assert readyz_after_connect_attempts(plaintext) == 503
    assert http("GET", plaintext + "/healthz").status == 200
    # Trusting another CA is no better than trusting none.
    wrong_ca = extra_gateway(stack, PERF_GRPC_TLS_CA_FILE=str(pki["stranger"].cert),
                             PERF_GRPC_TLS_SERVER_NAME="localhost")
    assert readyz_after_connect_attempts(wrong_ca) == 503


def test_mtls_refuses_clients_without_a_certificate_from_the_client_ca(
        make_stack: Callable[..., Stack], pki: dict[str, Pair], extra_gateway: Callable[..., str]) -> None:
    stack = make_stack(**server_tls(pki, mtls=True), PERF_GRPC_TLS_SERVER_NAME="localhost")
    assert "client certificates required" in stack.server_log()
    response = stack.post("/v1/images/generations", {"prompt": "over mtls"}, key=stack.first_key)
    assert response.status == 200, response.body
    assert probe(stack, "server").returncode == 0
    # Without the probe's client variables it falls back to the server's own pair (issued by the same CA).
    bare = {name: "" for name in CLIENT_TLS}
    assert probe(stack, "server", **bare).returncode == 0

    ca = pki["ca"].cert.read_bytes()
    override = (("grpc.ssl_target_name_override", "localhost"),)
    for private_key, chain in ((None, None),
                               (pki["stranger"].key.read_bytes(), pki["stranger"].cert.read_bytes())):
        credentials = grpc.ssl_channel_credentials(ca, private_key, chain)
        with grpc.secure_channel(stack.grpc_target, credentials, options=override) as channel, \
                pytest.raises(grpc.RpcError) as refused:
            health_pb2_grpc.HealthStub(channel).Check(READINESS, timeout=3)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # A gateway that verifies the server but has no client certificate is refused, so never ready.
    no_cert = extra_gateway(stack, PERF_GRPC_TLS_CA_FILE=str(pki["ca"].cert), PERF_GRPC_TLS_SERVER_NAME="localhost")
    assert readyz_after_connect_attempts(no_cert) == 503


def test_plaintext_health_port_serves_health_only(make_stack: Callable[..., Stack], pki: dict[str, Pair]) -> None:
    """For Kubernetes' native gRPC probes, which cannot speak TLS: health in plaintext, nothing else."""
    health_port = free_port()
    stack = make_stack(**server_tls(pki, mtls=True), PERF_GRPC_TLS_SERVER_NAME="localhost",
                       PERF_GRPC_HEALTH_PORT=str(health_port))
    with grpc.insecure_channel(f"127.0.0.1:{health_port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(READINESS, timeout=3)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as refused:
            pb_grpc.ImageServiceStub(channel).ListModels(pb.ListModelsRequest(), timeout=3)
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert probe(stack, "server", PROBE_TARGET=f"127.0.0.1:{health_port}", PERF_GRPC_TLS_CERT_FILE="",
                 PERF_GRPC_TLS_KEY_FILE="", PERF_GRPC_TLS_CLIENT_CA_FILE="").returncode == 0
