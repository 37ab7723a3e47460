"""AdminService: the gRPC face of the admin API. Each method is one call into its module.

Authentication happens before any method runs (server/runtime/call_wrappers.py, its admin guard →
server/admin/auth.py); mutations are audited by the modules that make them.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

import grpc

from perf.admin.v1 import admin_service_pb2 as apb
from perf.admin.v1 import admin_service_pb2_grpc as apb_grpc
from server.admin.audit import AuditLog
from server.admin.catalog import catalog_listing, provider_status
from server.admin.generations import list_generations
from server.admin.keys import KeyAdmin
from server.admin.usage import usage_report
from server.catalog import Catalog
from server.catalog.lifecycle import Lifecycles
from server.database import Store
from server.pipeline.routing import Router
from server.providers.plugin import ProviderPlugin
from server.runtime.grpc_services import GenericHandlersOnly
from server.storage.signing import UrlSigner

Context: TypeAlias = grpc.aio.ServicerContext
ADMIN_SERVICE_NAME = apb.DESCRIPTOR.services_by_name["AdminService"].full_name


@dataclass(frozen=True)
class AdminDeps:
    store: Store
    pepper: bytes
    catalog: Catalog
    lifecycles: Lifecycles
    signer: UrlSigner
    plugins: Mapping[str, ProviderPlugin]
    configured: frozenset[str]
    # Live routing (circuit breakers and which deployments are configured), for the catalog and providers.
    router: Router | None = None


class AdminService(apb_grpc.AdminServiceServicer):
    def __init__(self, deps: AdminDeps) -> None:
        self._deps = deps
        self._audit = AuditLog(deps.store)
        self._keys = KeyAdmin(deps.store, deps.pepper, self._audit)

    async def CreateKey(self, request: apb.CreateKeyRequest, context: Context) -> apb.KeyWithSecret:
        return await self._keys.create(request)

    async def ListKeys(self, request: apb.ListKeysRequest, context: Context) -> apb.ListKeysResponse:
        return await self._keys.list()

    async def GetKey(self, request: apb.KeyRef, context: Context) -> apb.Key:
        return await self._keys.get(request.key_id)

    async def UpdateKey(self, request: apb.UpdateKeyRequest, context: Context) -> apb.Key:
        return await self._keys.update(request)

    async def RotateKey(self, request: apb.KeyRef, context: Context) -> apb.KeyWithSecret:
        return await self._keys.rotate(request.key_id)

    async def RevokeKey(self, request: apb.KeyRef, context: Context) -> apb.Key:
        return await self._keys.revoke(request.key_id)

    async def GetUsage(self, request: apb.UsageRequest, context: Context) -> apb.Usage:
        return await usage_report(self._deps.store, request, _utc_today())

    async def ListGenerations(self, request: apb.ListGenerationsRequest,
                              context: Context) -> apb.ListGenerationsResponse:
        return await list_generations(self._deps.store, self._deps.signer, request, _utc_today(), time.time())

    async def ListCatalog(self, request: apb.ListCatalogRequest, context: Context) -> apb.ListCatalogResponse:
        return catalog_listing(self._deps.catalog, self._deps.lifecycles)

    async def ListProviders(self, request: apb.ListProvidersRequest, context: Context) -> apb.ListProvidersResponse:
        d = self._deps
        return await provider_status(d.store, d.catalog, d.plugins, set(d.configured), time.time(),
                                     d.router.breakers if d.router is not None else None)

    async def ListAuditEvents(self, request: apb.ListAuditEventsRequest,
                              context: Context) -> apb.ListAuditEventsResponse:
        return await self._audit.page(request)


def _utc_today() -> dt.date:
    # The ledger's days are UTC calendar days (not the lifecycle's possibly fixed test date).
    return dt.datetime.now(dt.UTC).date()


def add_admin_service(server: GenericHandlersOnly, deps: AdminDeps) -> None:
    apb_grpc.add_AdminServiceServicer_to_server(AdminService(deps), server)
