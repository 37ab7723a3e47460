"""GET /openapi.json: the gateway's REST contract as an OpenAPI 3.1 document.

The document is gateway/openapi.json, written by hand (never generated from the routes): it is the
promise, and the tests hold the code to it (tests/openapi_check.py validates every response the
end-to-end suite receives; tests/e2e/test_openapi_schemathesis.py fuzzes the live gateway against it;
tests/gateway/test_openapi_document.py checks its route list against app.router). The only change
made when serving it is `servers`: this gateway's own PERF_PUBLIC_URL.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")


def load_document(public_url: str | None = None) -> dict[str, Any]:
    """The document as a dict; with `public_url`, naming that as its one server."""
    document: dict[str, Any] = orjson.loads(DOCUMENT_PATH.read_bytes())
    if public_url:
        document["servers"] = [{"url": public_url.rstrip("/"), "description": "this gateway"}]
    return document


def openapi_routes(public_url: str) -> list[web.RouteDef]:
    # Parsed and serialised once at start: a broken file stops the gateway instead of one request.
    body = orjson.dumps(load_document(public_url))

    async def document(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json", headers={"Cache-Control": "no-cache"})

    return [web.get("/openapi.json", document)]
