"""`make run`: start the gRPC server, wait until it is SERVING, then the gateway; stop both together.

For one machine on the embedded defaults. In containers each process runs on its own
(`python -m server`, `python -m gateway`).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def wait_until_serving(target: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with grpc.insecure_channel(target) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
        except grpc.RpcError:
            time.sleep(0.2)
    return False


def main() -> int:
    env = dict(os.environ)
    grpc_target = f"127.0.0.1:{env.get('PERF_GRPC_PORT', '50051')}"
    server = subprocess.Popen([sys.executable, "-m", "server"], env=env)
    if not wait_until_serving(grpc_target, server):
        server.terminate()
        print("the gRPC server did not become ready", file=sys.stderr)
        return 1
    gateway = subprocess.Popen([sys.executable, "-m", "gateway"], env=env)
    port = env.get("PERF_HTTP_PORT", "8080")
    print(f"Gateway on http://127.0.0.1:{port}  (gRPC on {grpc_target}); Ctrl-C stops both.", flush=True)

    def forward(signum: int, _frame: object) -> None:
        for process in (gateway, server):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    # Either process ending ends the pair: half a service is worse than none.
    while gateway.poll() is None and server.poll() is None:
        time.sleep(0.5)
    forward(signal.SIGTERM, None)
    return max(gateway.wait(), server.wait())


if __name__ == "__main__":
    sys.exit(main())
