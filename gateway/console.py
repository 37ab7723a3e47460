"""The operator console: static files from gateway/console/static/, served at /console/ with strict headers.

Nothing here decides anything: the console is a page that calls /admin/v1/ and /v1/ from the browser.

Caching by content: every asset is served under /console/assets/<build>/<path>, where <build> is a
hash of all the files, with `Cache-Control: immutable`; a changed file changes <build>, so a browser
never mixes old and new modules (relative ES-module imports keep working inside one build). Any other
<build> is 404. index.html is served with `no-cache` and an ETag, so a new build is picked up at once.

Headers on every console response: a Content-Security-Policy with no inline script or style and no
eval, images only from here and from our own image URL origin (PERF_PUBLIC_URL), no framing;
X-Frame-Options DENY, nosniff, and no Referer (signed image URLs must not leak through it).
"""
from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

STATIC = Path(__file__).with_name("console") / "static"
PREFIX = "/console/"
ASSETS = "/console/assets/"
BUILD_PLACEHOLDER = b"{{BUILD}}"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".png": "image/png",
                 ".svg": "image/svg+xml", ".LICENSE": "text/plain"}


@dataclass(frozen=True)
class ConsoleFiles:
    build: str
    index: bytes
    assets: dict[str, bytes]

    @classmethod
    def load(cls, root: Path = STATIC) -> ConsoleFiles:
        files = {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*"))
                 if path.is_file()}
        digest = hashlib.sha256()
        for name, data in files.items():
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        build = digest.hexdigest()[:16]
        index = files.pop("index.html").replace(BUILD_PLACEHOLDER, build.encode())
        return cls(build=build, index=index, assets=files)


def security_headers(public_url: str) -> dict[str, str]:
    parts = urlsplit(public_url)
    images = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    policy = "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' {images}".strip(),
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ))
    return {"Content-Security-Policy": policy, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cross-Origin-Opener-Policy": "same-origin"}


def _content_type(name: str) -> str:
    suffix = Path(name).suffix
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def console_routes(public_url: str, files: ConsoleFiles | None = None) -> list[web.RouteDef]:
    console = files or ConsoleFiles.load()
    headers = security_headers(public_url)
    etag = f'"{console.build}"'

    async def redirect(request: web.Request) -> web.StreamResponse:
        # Returned, not raised: the app's middleware turns raised HTTP exceptions into JSON errors.
        return web.Response(status=308, headers={**headers, "Location": PREFIX})

    async def index(request: web.Request) -> web.Response:
        page_headers = {**headers, "Cache-Control": "no-cache", "ETag": etag}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=page_headers)
        return web.Response(body=console.index, content_type="text/html", charset="utf-8", headers=page_headers)

    async def asset(request: web.Request) -> web.Response:
        data = console.assets.get(request.match_info["path"])
        if request.match_info["build"] != console.build or data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, headers={**headers, "Content-Type": _content_type(request.match_info["path"]),
                                                "Cache-Control": "public, max-age=31536000, immutable"})

    return [web.get("/console", redirect), web.get(PREFIX, index),
            web.get(ASSETS + "{build}/{path:.+}", asset)]
