"""The audit log of admin actions: who (the token's fingerprint), what, on what, when, from where."""
from __future__ import annotations

import time
from typing import Any

import orjson

from perf.admin.v1 import admin_service_pb2 as apb
from server.admin.auth import current_admin
from server.admin.cursors import decode_cursor, encode_cursor, page_limit
from server.database import Store
from server.database.admin_records import AuditEvent
from server.database.ids import ordered_id
from server.runtime.outages import backend
from server.runtime.request_context import REQUEST_ID

CURSOR_TAG = "a"


class AuditLog:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(self, action: str, target: str, detail: dict[str, Any]) -> None:
        """Record a completed action; `detail` must never hold a secret."""
        caller = current_admin()
        event = AuditEvent(id=ordered_id("aud_"), at=int(time.time()), actor=caller.actor, action=action,
                           target=target, address=caller.address, detail=orjson.dumps(detail).decode(),
                           request_id=REQUEST_ID.get())
        with backend("database"):
            await self._store.record_audit(event)

    async def page(self, request: apb.ListAuditEventsRequest) -> apb.ListAuditEventsResponse:
        limit = page_limit(request.limit, 50, 500)
        before = decode_cursor(CURSOR_TAG, request.cursor) if request.cursor else None
        with backend("database"):
            events = await self._store.list_audit(limit + 1, before)
        page, more = events[:limit], len(events) > limit
        return apb.ListAuditEventsResponse(
            data=[apb.AuditEvent(id=e.id, at=e.at, actor=e.actor, action=e.action, target=e.target, address=e.address,
                                 detail=e.detail, request_id=e.request_id) for e in page],
            next_cursor=encode_cursor(CURSOR_TAG, page[-1].at, page[-1].id) if more else "")
