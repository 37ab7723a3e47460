"""The admin API's REST routes (/admin/v1/…) onto perf.admin.v1.AdminService. No business logic.

Each handler: read → translate (gateway/admin_translate.py) → one RPC → translate back; failures leave
through the app's middleware as the public JSON error. The server decides who may call: the admin
token only (never an API key), refused per client address after repeated failures, and every method
NOT_FOUND (404 here) while no token is configured. The gateway passes the `Authorization` header as it
came and the client's address beside it. Answers carry `Cache-Control: no-store`: some hold secrets.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from contract.admin import CLIENT_ADDRESS_METADATA
from gateway import admin_translate as t
from gateway.context import CHANNEL, read_body, rpc_metadata
from gateway.translate import parse_json_object
from perf.admin.v1 import admin_service_pb2 as apb
from perf.admin.v1 import admin_service_pb2_grpc as apb_grpc

ADMIN_STUB = web.AppKey("admin_stub", apb_grpc.AdminServiceStub)
TIMEOUT_S = 30.0


def _metadata(request: web.Request) -> tuple[tuple[str, str], ...]:
    # The request id and Authorization as for every route, and the client's address for the server's limiter.
    return (*rpc_metadata(request), (CLIENT_ADDRESS_METADATA, request.remote or ""))


def _reply(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


async def _rpc(request: web.Request, method: str, message: Any) -> Any:
    return await getattr(request.app[ADMIN_STUB], method)(message, metadata=_metadata(request), timeout=TIMEOUT_S)


def build_handlers() -> list[web.RouteDef]:
    """The routes (bodies are read with the app's reader, which bounds how long one may take)."""

    async def body_of(request: web.Request) -> dict[str, Any]:
        return parse_json_object(await read_body(request))

    async def create_key(request: web.Request) -> web.Response:
        created = await _rpc(request, "CreateKey", t.create_key_request(await body_of(request)))
        return _reply(t.key_with_secret_response(created), status=201)

    async def list_keys(request: web.Request) -> web.Response:
        return _reply(t.keys_response(await _rpc(request, "ListKeys", apb.ListKeysRequest())))

    async def get_key(request: web.Request) -> web.Response:
        return _reply(t.key_response(await _rpc(request, "GetKey", apb.KeyRef(key_id=request.match_info["key_id"]))))

    async def update_key(request: web.Request) -> web.Response:
        message = t.update_key_request(request.match_info["key_id"], await body_of(request))
        return _reply(t.key_response(await _rpc(request, "UpdateKey", message)))

    async def rotate_key(request: web.Request) -> web.Response:
        await read_body(request)  # any body is ignored, but must arrive in time like every other
        rotated = await _rpc(request, "RotateKey", apb.KeyRef(key_id=request.match_info["key_id"]))
        return _reply(t.key_with_secret_response(rotated))

    async def revoke_key(request: web.Request) -> web.Response:
        await read_body(request)
        revoked = await _rpc(request, "RevokeKey", apb.KeyRef(key_id=request.match_info["key_id"]))
        return _reply(t.key_response(revoked))

    async def usage(request: web.Request) -> web.Response:
        return _reply(t.usage_response(await _rpc(request, "GetUsage", t.usage_request(request.query))))

    async def generations(request: web.Request) -> web.Response:
        page = await _rpc(request, "ListGenerations", t.generations_request(request.query))
        return _reply(t.generations_response(page))

    async def models(request: web.Request) -> web.Response:
        return _reply(t.catalog_response(await _rpc(request, "ListCatalog", apb.ListCatalogRequest())))

    async def providers(request: web.Request) -> web.Response:
        return _reply(t.providers_response(await _rpc(request, "ListProviders", apb.ListProvidersRequest())))

    async def audit(request: web.Request) -> web.Response:
        return _reply(t.audit_response(await _rpc(request, "ListAuditEvents", t.audit_request(request.query))))

    return [
        web.post("/admin/v1/keys", create_key),
        web.get("/admin/v1/keys", list_keys),
        web.get("/admin/v1/keys/{key_id}", get_key),
        web.patch("/admin/v1/keys/{key_id}", update_key),
        web.post("/admin/v1/keys/{key_id}/rotate", rotate_key),
        web.post("/admin/v1/keys/{key_id}/revoke", revoke_key),
        web.get("/admin/v1/usage", usage),
        web.get("/admin/v1/generations", generations),
        web.get("/admin/v1/models", models),
        web.get("/admin/v1/providers", providers),
        web.get("/admin/v1/audit", audit),
    ]


async def admin_stub_context(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context making the AdminService stub on the app's one channel (added after the channel's)."""
    app[ADMIN_STUB] = apb_grpc.AdminServiceStub(app[CHANNEL])
    yield
