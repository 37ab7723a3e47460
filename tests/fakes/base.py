"""Plumbing shared by the provider fakes: latency, request recording, JSON helpers, signed image URLs.

Nothing here is provider-specific wire format; each provider module builds its own bodies and error
envelopes and only borrows these mechanics.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from .knobs import Knobs

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Seen:
    """One request as the fake parsed it, so adapter tests can assert what was really sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON, or a dict of multipart text fields (file parts: their byte length)


SEEN: web.AppKey[list[Seen]] = web.AppKey("seen", list)
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)


def seen(app: web.Application) -> list[Seen]:
    """Requests recorded by ``record`` on this app, oldest first."""
    return app[SEEN]


def record(request: web.Request, body: Any) -> None:
    request.app[SEEN].append(
        Seen(request.method, request.path, dict(request.query), dict(request.headers), body)
    )


def new_app(knobs: Knobs, *extra: Any) -> web.Application:
    """An app with the latency knob applied to every route and an empty request record."""

    @web.middleware
    async def latency(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Read per request, not at build time: tests change the knob between requests.
        if knobs.latency_s > 0:
            await asyncio.sleep(knobs.latency_s)
        return await handler(request)

    app = web.Application(middlewares=[latency, *extra], client_max_size=64 * 1024 * 1024)
    app[SEEN] = []
    app[FILES] = FileStore()
    return app


def dumps(obj: Any) -> bytes:
    # orjson: bodies carry megabytes of base64 and the stdlib json module is slow at that.
    return orjson.dumps(obj)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> web.Response:
    resp = web.Response(body=dumps(obj), status=status, headers=headers)
    resp.headers["Content-Type"] = content_type
    return resp


def truncated(body: bytes) -> bytes:
    """A prefix of ``body`` that no JSON parser accepts (what a cut connection leaves behind)."""
    return body[: max(1, len(body) // 2)]


def seconds_header(value: float) -> str:
    """Retry-After is integer seconds in RFC 9110; keep fractions only when a test asks for them."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_hex(n_bytes: int = 16) -> str:
    return secrets.token_hex(n_bytes)


class FileStore:
    """Images a fake serves by URL, with HMAC-signed, expiring links like real delivery hosts use."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(16)
        self._files: dict[str, tuple[bytes, str]] = {}

    def put(self, data: bytes, mime: str) -> str:
        key = new_hex(12)
        self._files[key] = (data, mime)
        return key

    def get(self, key: str) -> tuple[bytes, str] | None:
        return self._files.get(key)

    def sign(self, path: str, expires: int) -> str:
        return hmac.new(self._secret, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()[:40]

    def valid(self, path: str, expires: str, sig: str) -> bool:
        try:
            exp = int(expires)
        except ValueError:
            return False
        return exp > time.time() and hmac.compare_digest(self.sign(path, exp), sig)


FILES: web.AppKey[FileStore] = web.AppKey("files", FileStore)


def blob_denied() -> web.Response:
    # Signed delivery links (Azure blob SAS for OpenAI/BFL) refuse bad or expired signatures with
    # 403 and an XML body, not the API's JSON envelope.
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
        "<Message>Server failed to authenticate the request. Make sure the value of Authorization "
        "header is formed correctly including the signature.</Message></Error>"
    )
    return web.Response(status=403, text=body, content_type="application/xml")


_ENDLESS_CAP = 8 * 1024 * 1024 * 1024  # safety net so a forgotten client cannot pin a handler forever


async def serve_image(request: web.Request, knobs: Knobs, data: bytes, mime: str) -> web.StreamResponse:
    """Answer an image download, honouring the redirect and endless-body knobs."""
    if knobs.redirect_image_to is not None:
        # A delivery host answering with a redirect (here: to wherever the test says, e.g. an
        # internal address) is how SSRF reaches a naive fetcher.
        raise web.HTTPFound(knobs.redirect_image_to)
    if not knobs.endless_image_body:
        return web.Response(body=data, content_type=mime)
    # No Content-Length, chunked, never ends: only a size cap on the client side stops this.
    resp = web.StreamResponse(status=200, headers={"Content-Type": mime})
    await resp.prepare(request)
    filler = b"\0" * 65536
    sent = 0
    try:
        await resp.write(data)
        while sent < _ENDLESS_CAP:
            await resp.write(filler)
            sent += len(filler)
    except ConnectionError:
        pass  # the client hung up, which is the expected way out
    return resp


def signed_path_ok(request: web.Request, exp_param: str, sig_param: str) -> bool:
    files: FileStore = request.app[FILES]
    return files.valid(request.path, request.query.get(exp_param, ""), request.query.get(sig_param, ""))


def origin(request: web.Request) -> str:
    """Absolute origin the client used (Host header), so URLs we hand out point back at this fake."""
    return f"{request.scheme}://{request.host}"


def ttl(knobs: Knobs, real_default_s: float) -> float:
    return real_default_s if knobs.image_url_ttl_s is None else knobs.image_url_ttl_s


def blob_download(knobs: Knobs) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler for signed, blob-store-style image links (OpenAI and BFL serve them alike)."""

    async def download(request: web.Request) -> web.StreamResponse:
        if not signed_path_ok(request, "se", "sig"):
            return blob_denied()
        found = request.app[FILES].get(request.match_info["key"])
        if found is None:
            return blob_denied()
        return await serve_image(request, knobs, *found)

    return download
