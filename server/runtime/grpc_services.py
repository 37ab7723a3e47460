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

Each generic handler also goes on wrapped (call_wrappers.py): the first lookup of a method builds its
wrapper and keeps it, so a call finds its wrapped handler with one dictionary lookup.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

Wrap = Callable[[str, grpc.RpcMethodHandler], grpc.RpcMethodHandler]


class _WrappedHandlers(grpc.GenericRpcHandler):
    """A generated generic handler (a fixed name → handler dictionary) with each handler wrapped once."""

    def __init__(self, inner: grpc.GenericRpcHandler, wrap: Wrap) -> None:
        self._inner = inner
        self._wrap = wrap
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = self._inner.service(handler_call_details)
            if handler is None:  # not this service's: nothing kept, so unknown names cannot grow the dictionary
                return None
            wrapped = self._wrapped[method] = self._wrap(method, handler)
        return wrapped


class GenericHandlersOnly:
    """The server as generated `add_*Servicer_to_server` functions see it: the generic handler goes on,
    wrapped by `wrap` when one is given."""

    def __init__(self, server: grpc.aio.Server, wrap: Wrap | None = None) -> None:
        self._server = server
        self._wrap = wrap

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        wrap = self._wrap
        self._server.add_generic_rpc_handlers(handlers if wrap is None else [_WrappedHandlers(h, wrap) for h in handlers])

    def add_registered_method_handlers(self, service_name: str,
                                       method_handlers: Mapping[str, grpc.RpcMethodHandler]) -> None:
        """Left out: the generic handler added just before answers the same methods."""


def add_reflection(service_names: Sequence[str], services: GenericHandlersOnly) -> None:
    # reflection.enable_server_reflection picks its asyncio servicer only for a grpc.aio.Server instance.
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(reflection.aio.ReflectionServicer(service_names),
                                                               services)
