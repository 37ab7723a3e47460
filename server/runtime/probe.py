"""Container health probe for the server: `python -m server.runtime.probe` exits 0 only when SERVING.

Uses the synchronous gRPC API (no event loop) and only packages the image already has, so no
grpc_health_probe binary needs downloading. PROBE_SERVICE="" checks liveness; the default checks
the ImageService (readiness).
"""
from __future__ import annotations

import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main() -> int:
    target = os.environ.get("PROBE_TARGET", f"127.0.0.1:{os.environ.get('PERF_GRPC_PORT', '50051')}")
    service = os.environ.get("PROBE_SERVICE", "perf.images.v1.ImageService")
    try:
        with grpc.insecure_channel(target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                               timeout=2.0)
    except grpc.RpcError as error:
        print(f"unhealthy: {error.code().name}", file=sys.stderr)
        return 1
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main())
