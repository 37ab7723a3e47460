"""The guarded fetcher and image checks: every SSRF form of reliability.md 6, hostile bodies, and bytes
that are not an image. A loopback canary proves refused targets are never contacted."""
from __future__ import annotations

import asyncio
import io
import ipaddress
import struct
import zlib

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from server.errors import UpstreamError
from server.providers.fetch import AddressRefused, Allowlist, Fetcher, GuardedResolver, Refused, is_public_address
from server.providers.images import BadImage, ImageLimits, conform, inspect_image
from server.providers.upstream import Deadline
from tests.fakes.images import make_image
from tests.fakes.server import running
from tests.fakes.testing import sync


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2606:4700::1111", True), ("64:ff9b::808:808", True), ("2002:808:808::1", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("192.0.0.8", False),
    ("198.18.0.1", False), ("224.0.0.1", False), ("255.255.255.255", False),
    ("::1", False), ("::", False), ("fe80::1", False), ("fc00::1", False), ("fec0::1", False), ("ff02::1", False),
    ("::ffff:169.254.169.254", False), ("::ffff:127.0.0.1", False),
    ("64:ff9b::a9fe:a9fe", False), ("64:ff9b::7f00:1", False), ("64:ff9b:1::a9fe:a9fe", False),
    ("2002:a9fe:a9fe::1", False), ("2002:7f00:1::1", False), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
    ("::a9fe:a9fe", False),
])
def test_public_address_judges_embedded_ipv4(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


class Canary:
    """A TCP listener that only counts connections: proof that a refused target was never contacted."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0

    async def __aenter__(self) -> Canary:
        async def seen(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self._server = await asyncio.start_server(seen, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()


def app_serving(body: bytes | None = None, *, status: int = 200, headers: dict[str, str] | None = None,
                drip: bool = False) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        if drip:  # a slow body: one byte, then silence
            resp = web.StreamResponse(headers={"Content-Type": "image/png"})
            await resp.prepare(request)
            await resp.write(b"\x89")
            await asyncio.sleep(5)
            return resp
        return web.Response(body=body, status=status, headers=headers or {"Content-Type": "image/png"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    return app


async def fetcher_for(url: str, session: aiohttp.ClientSession, **kw: object) -> tuple[Fetcher, Allowlist]:
    host_port = url.split("://", 1)[1]
    limits = ImageLimits(int(kw.pop("max_bytes", 1 << 20)), int(kw.pop("max_pixels", 40_000_000)))  # type: ignore[call-overload]
    options = {"insecure_hosts": frozenset({host_port}), "limits": limits, "connect_s": 1.0, "read_s": 0.3, **kw}
    return Fetcher("Test", session, **options), Allowlist.of(("*.example.com",), url)  # type: ignore[arg-type]


async def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=GuardedResolver()))


def deadline(seconds: float = 5) -> Deadline:
    return Deadline.of(None, seconds)


@pytest.mark.parametrize(("url", "reason"), [
    ("http://cdn.example.com/a.png", "scheme http"),
    ("https://user:pw@cdn.example.com/a.png", "userinfo"),
    ("https://evil.test/a.png", "allowlist"),
    ("https://cdn.example.com:8443/a.png", "allowlist"),
    ("https://169.254.169.254/latest/meta-data/", "allowlist"),
    ("https://2130706433/", "allowlist"),
    ("file:///etc/passwd", "absolute"),
    ("/relative.png", "absolute"),
])
@sync
async def test_url_rules(url: str, reason: str) -> None:
    async with await session() as http:
        fetcher, allow = await fetcher_for("http://127.0.0.1:1", http)
        with pytest.raises(Refused, match=reason):
            fetcher.check(url, allow)
        assert fetcher.check("https://cdn.example.com/a.png", allow).host == "cdn.example.com"


@sync
async def test_ip_literal_origins_must_be_public_unless_listed_for_tests() -> None:
    async with await session() as http:
        fetcher = Fetcher("Test", http, insecure_hosts=frozenset(), limits=ImageLimits(1, 1), connect_s=1, read_s=1)
        for host in ("169.254.169.254", "[::ffff:169.254.169.254]", "[64:ff9b::a9fe:a9fe]", "[2002:a9fe:a9fe::1]"):
            allow = Allowlist.of((), f"https://{host}")  # even an allowed origin
            with pytest.raises(Refused, match="not public"):
                fetcher.check(f"https://{host}/x", allow)


@sync
async def test_names_resolving_to_private_addresses_are_refused_before_connecting() -> None:
    with pytest.raises(AddressRefused):
        await GuardedResolver().resolve("localhost", 443)
    assert await GuardedResolver(frozenset({"localhost:443"})).resolve("localhost", 443)
    async with Canary() as canary, await session() as http:
        fetcher = Fetcher("Test", http, insecure_hosts=frozenset(), limits=ImageLimits(1 << 20, 10**7),
                          connect_s=1, read_s=1)
        url = f"https://localhost:{canary.port}/a.png"
        with pytest.raises(UpstreamError, match="will not fetch") as caught:
            await fetcher.image(url, Allowlist.of((), url), deadline())
        assert isinstance(caught.value.__cause__, Refused) and canary.connections == 0


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:{canary}/",
                                    "https://[::ffff:169.254.169.254]/", "https://localhost:{canary}/"])
@sync
async def test_redirects_are_checked_on_every_hop(target: str) -> None:
    async with Canary() as canary, await session() as http:
        location = target.format(canary=canary.port)
        async with running(app_serving(status=302, headers={"Location": location})) as url:
            fetcher, allow = await fetcher_for(url, http)
            with pytest.raises(UpstreamError, match="will not fetch"):
                await fetcher.image(url + "/a.png", allow, deadline())
        assert canary.connections == 0


@pytest.mark.parametrize(("body", "headers", "cause"), [
    (b"<html><script>alert(1)</script></html>", None, BadImage),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None, BadImage),
    (make_image(64, 64)[:200], None, BadImage),  # truncated
    (b"\0" * 2_000_000, None, Refused),  # over the 1 MiB cap, with an honest Content-Length
])
@sync
async def test_hostile_bodies_are_refused(body: bytes, headers: dict | None, cause: type) -> None:
    async with await session() as http, running(app_serving(body, headers=headers)) as url:
        fetcher, allow = await fetcher_for(url, http)
        with pytest.raises(UpstreamError) as caught:
            await fetcher.image(url + "/a.png", allow, deadline())
        assert isinstance(caught.value.__cause__, cause)


@sync
async def test_slow_drip_hits_the_read_timeout_and_gives_up() -> None:
    async with await session() as http, running(app_serving(drip=True)) as url:
        fetcher, allow = await fetcher_for(url, http, read_s=0.2)
        with pytest.raises(UpstreamError, match="failed"):
            await fetcher.image(url + "/a.png", allow, deadline(3))


@sync
async def test_a_good_image_is_fetched_with_its_detected_type() -> None:
    webp = make_image(96, 64, "webp")
    async with await session() as http, running(app_serving(webp, headers={"Content-Type": "image/png"})) as url:
        fetcher, allow = await fetcher_for(url, http)
        image = await fetcher.image(url + "/a.png", allow, deadline())
    assert (image.mime, image.width, image.height) == ("image/webp", 96, 64)  # the bytes, not the header


def png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose IHDR claims another size: a pixel bomb's header."""
    out = io.BytesIO()
    Image.new("RGB", (1, 1)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    return bytes(data)


def test_image_checks() -> None:
    assert inspect_image(make_image(32, 16, "jpeg"), 10**6).mime == "image/jpeg"
    with pytest.raises(BadImage, match="pixel limit"):
        inspect_image(png_claiming(10_000, 5_000), 40_000_000)
    with pytest.raises(BadImage, match="pixel limit"):  # a PNG's header is read without Pillow (png_header.py)
        inspect_image(png_claiming(100_000, 100_000), 40_000_000)
    with pytest.raises(BadImage, match="truncated"):
        inspect_image(make_image(64, 64, "jpeg")[:-10], 10**6)
    with pytest.raises(BadImage, match="truncated"):
        inspect_image(make_image(64, 64, "webp")[:-10], 10**6)
    with pytest.raises(BadImage, match="not a PNG"):
        inspect_image(b"GIF89a" + b"\0" * 20, 10**6)


@sync
async def test_conform_crops_to_the_aspect_then_resizes() -> None:
    image = inspect_image(make_image(1536, 1024), 10**7)
    out = await conform(image, 1792, 1024)
    assert (out.width, out.height, out.mime) == (1792, 1024, "image/png")
    assert Image.open(io.BytesIO(out.data)).size == (1792, 1024)
    assert await conform(image, 1536, 1024) is image
