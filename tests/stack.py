"""Runs the real server and gateway as subprocesses on free loopback ports, as users run them."""
from __future__ import annotations

import http.client as httpclient
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2

from tests.openapi_check import check_response

ROOT = Path(__file__).resolve().parent.parent
# host:port of every gateway a Stack started: http() holds their responses to the OpenAPI document.
GATEWAYS: set[str] = set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, body: bytes | str | dict[str, Any] | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30.0) -> Response:
    parts = urlsplit(url)
    conn = httpclient.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    payload = json.dumps(body).encode() if isinstance(body, dict) else body
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=payload,
                     headers=headers or {})
        raw = conn.getresponse()
        response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
    finally:
        conn.close()
    if parts.netloc in GATEWAYS:
        # Every answer a test receives from a gateway must be one the document promises.
        check_response(method, parts.path, response.status, response.headers, response.body)
    return response


def sdk_http_client() -> httpx2.Client:
    """A client for the official SDK (`openai.OpenAI(http_client=...)`; httpx2 is its transport) that, as
    http() does, holds every gateway response to the OpenAPI document; the body is read here once and
    kept for the SDK."""

    def check(response: httpx2.Response) -> None:
        url = response.request.url
        if f"{url.host}:{url.port}" in GATEWAYS:
            response.read()
            check_response(response.request.method, url.path, response.status_code, dict(response.headers),
                           response.content)

    return httpx2.Client(event_hooks={"response": [check]})


@dataclass
class Stack:
    data_dir: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    server: subprocess.Popen[bytes] | None = None
    gateway: subprocess.Popen[bytes] | None = None
    first_key: str = ""
    # What "started" means: /readyz (backend SERVING), or /healthz for tests of an unready backend.
    ready_path: str = "/readyz"
    # The checkout whose server and gateway run: this one, or another (bench/ab.py's git worktree).
    root: Path = ROOT
    # A command both processes run under (bench/instructions.py's callgrind), and how long they may take to start.
    launch_prefix: tuple[str, ...] = ()
    start_timeout_s: float = 20.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "PYTHONPATH": f"{self.root / 'generated'}{os.pathsep}{self.root}",
            "PERF_DATA_DIR": str(self.data_dir),
            "PERF_GRPC_PORT": str(self.grpc_port),
            "PERF_HTTP_PORT": str(self.http_port),
            "PERF_DRAIN_SECONDS": "0.2",
            "PERF_LOG_LEVEL": "INFO",
        })
        env.update(self.env_overrides)
        return env

    def start(self) -> Stack:
        self.server = subprocess.Popen([*self.launch_prefix, sys.executable, "-m", "server"], cwd=self.root, env=self.env,
                                       stdout=subprocess.PIPE, stderr=open(self.data_dir / "server.log", "wb"))
        self._stdout: list[str] = []
        threading.Thread(target=self._collect_stdout, daemon=True).start()
        GATEWAYS.add(f"127.0.0.1:{self.http_port}")
        self.gateway = subprocess.Popen([*self.launch_prefix, sys.executable, "-m", "gateway"], cwd=self.root, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=open(self.data_dir / "gateway.log", "wb"))
        try:
            self._wait_ready()
        except BaseException:  # a stack that never became ready leaves no process behind
            self.stop()
            raise
        # The server prints a first key (only when the store had none), then logs that it listens;
        # with ready_path=/healthz the gateway is up before that, so wait for the server too. /readyz
        # answered only once the server serves: that is its listening (its log line is INFO, which a
        # stack run at PERF_LOG_LEVEL=WARNING, as the benchmarks are, never writes).
        deadline = time.monotonic() + self.start_timeout_s
        listening_at: float | None = time.monotonic() if self.ready_path == "/readyz" else None
        while time.monotonic() < deadline:
            self.first_key = self.first_key or next((ln for ln in self._stdout if ln.startswith("pk_test_")), "")
            if listening_at is None and "gRPC server listening" in self.server_log():
                listening_at = time.monotonic()
            if listening_at is not None and (self.first_key or time.monotonic() - listening_at > 0.5):
                break  # listening, with its key or (the store already had keys) without one
            time.sleep(0.01)
        return self

    def _collect_stdout(self) -> None:
        assert self.server is not None and self.server.stdout is not None
        for raw in self.server.stdout:
            self._stdout.append(raw.decode().strip())

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            try:
                if http("GET", self.base_url + self.ready_path, timeout=2).status == 200:
                    return
            except OSError:
                pass
            for proc, name in ((self.server, "server"), (self.gateway, "gateway")):
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: " + (self.data_dir / f"{name}.log").read_text())
            time.sleep(0.1)
        raise RuntimeError("stack did not become ready")

    def create_key(self, mode: str = "test", *extra: str) -> str:
        """A new key; by default an enterprise key with limits no functional test reaches."""
        options = extra or ("--tier", "enterprise", "--minute-limit", "1000000", "--day-limit", "1000000")
        done = subprocess.run([sys.executable, "-m", "server.keys", "create", "--mode", mode, *options],
                              cwd=self.root, env=self.env, capture_output=True, check=True)
        return done.stdout.decode().strip().splitlines()[-1]

    def keys_command(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "server.keys", *args], cwd=self.root, env=self.env,
                              capture_output=True)

    def post(self, path: str, body: Any, key: str | None = None, headers: dict[str, str] | None = None) -> Response:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        return http("POST", self.base_url + path, body, all_headers)

    def get(self, path_or_url: str, key: str | None = None) -> Response:
        url = path_or_url if path_or_url.startswith("http") else self.base_url + path_or_url
        return http("GET", url, headers={"Authorization": f"Bearer {key}"} if key else {})

    def server_log(self) -> str:
        return (self.data_dir / "server.log").read_text()

    def stop(self) -> None:
        for proc in (self.gateway, self.server):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.gateway, self.server):
            if proc is None:
                continue
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
