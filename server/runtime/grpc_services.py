"""Puts each gRPC service on the server as its generic handler only, not also as "registered methods".

Generated `add_*Servicer_to_server` functions add a service twice: as a generic handler (a name → handler
lookup) and as registered methods, which take precedence. grpc.aio's server (1.85) keeps one request
pending per registered method and, on every RPC it accepts, waits again over all of them at once
(`asyncio.wait` in its main loop): with the image service, the admin API, health and reflection that is
31 futures per RPC on the path of every small request. The generic handler answers the same names
with the same handlers, so leaving out the second registration changes no routing and leaves one
pending request. Measured beside the double registration with `python -m bench.ab d26efc5 --rounds 4`
(small image, 16 connections, each side started first in turn): server CPU per request −0.024 ms of
~1.72 (−1.4 %), req/s +0.9 %.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc


class GenericHandlersOnly:
    """The server as generated `add_*Servicer_to_server` functions see it: the generic handler goes on."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service_name: str,
                                       method_handlers: Mapping[str, grpc.RpcMethodHandler]) -> None:
        """Left out: the generic handler added just before answers the same methods."""


def add_reflection(service_names: Sequence[str], services: GenericHandlersOnly) -> None:
    # reflection.enable_server_reflection picks its asyncio servicer only for a grpc.aio.Server instance.
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(reflection.aio.ReflectionServicer(service_names),
                                                               services)
