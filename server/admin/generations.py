"""Recent generations: ledger rows newest first, filtered and paged, with signed image URLs while valid.

An image stays valid as long as the caller's own URL does: the ledger row is written right after the
images were stored and signed, so its time plus PERF_IMAGE_TTL_SECONDS is that expiry (a second or two
later at most, within the sweeper's grace). Expired images get no URL: the console shows none.
"""
from __future__ import annotations

import datetime as dt

import orjson

from contract.image_urls import EXTENSION, IMAGE_ID
from perf.admin.v1 import admin_service_pb2 as apb
from server.accounting.usage import date_range
from server.admin.cursors import decode_cursor, encode_cursor, page_limit
from server.database import Store
from server.database.admin_records import GenerationQuery, GenerationRow
from server.errors import InvalidRequest
from server.runtime.outages import backend
from server.storage.signing import UrlSigner

MICROS = 1_000_000
CURSOR_TAG = "g"
STATUSES = ("", "ok", "error", "replayed")


async def list_generations(store: Store, signer: UrlSigner, request: apb.ListGenerationsRequest, today: dt.date,
                           now: float) -> apb.ListGenerationsResponse:
    start, end = date_range(request.start, request.end, today)
    if request.status not in STATUSES:
        raise InvalidRequest("status must be ok, error or replayed", param="status")
    limit = page_limit(request.limit, 50, 200)
    before = decode_cursor(CURSOR_TAG, request.cursor) if request.cursor else None
    query = GenerationQuery(start_day=start, end_day=end, limit=limit + 1, key_id=request.key_id, model=request.model,
                            status=request.status, before=before)
    with backend("database"):
        rows = await store.list_generations(query)
    page, more = rows[:limit], len(rows) > limit
    return apb.ListGenerationsResponse(
        data=[generation(row, signer, now) for row in page],
        next_cursor=encode_cursor(CURSOR_TAG, page[-1].created_at, page[-1].id) if more else "")


def generation(row: GenerationRow, signer: UrlSigner, now: float) -> apb.Generation:
    names = stored_images(row.images)
    expires = row.created_at + signer.ttl_s
    images = []
    if expires > now:
        for name in names:
            image_id, ext = name.split(".", 1)
            # Signed as of the row's time, so the URL expires when the caller's did, never later.
            images.append(apb.GenerationImage(url=signer.url(image_id, ext, row.created_at), expires=expires))
    return apb.Generation(
        id=row.id, request_id=row.request_id, key_id=row.key_id, key_name=row.key_name, mode=row.mode,
        model=row.model, provider=row.provider, upstream_model=row.upstream_model, n_requested=row.n_requested,
        n_delivered=row.n_delivered, size=row.size, quality=row.quality, cost_usd=row.cost_micros / MICROS,
        billed_usd=row.billed_micros / MICROS, upstream_cost_usd=row.upstream_cost_micros / MICROS,
        latency_ms=row.latency_ms, status=row.status, error_type=row.error_type, user=row.end_user,
        created=row.created_at, prompt=row.prompt, images=images, stored_images=len(names), kind=row.kind)


def stored_images(raw: str) -> list[str]:
    """The row's "img_….ext" names; anything else in the column is ignored, never signed."""
    if not raw:
        return []
    try:
        names = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    found = []
    for name in names if isinstance(names, list) else []:
        image_id, _, ext = name.partition(".") if isinstance(name, str) else ("", "", "")
        if IMAGE_ID.fullmatch(image_id) and EXTENSION.fullmatch(ext):
            found.append(name)
    return found
