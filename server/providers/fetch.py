"""The one way to fetch a URL an upstream handed us, guarded against SSRF and against hostile bodies.

On the first URL and again on every redirect hop (redirects are followed by hand, at most 3):
  1. scheme https on any port of an allowed origin, or 443 for allowed names; plain http only
     for a host:port listed in PERF_INSECURE_HTTP_HOSTS; never userinfo (``user@host``);
  2. the host is on this upstream's allowlist: an exact name, a ``*.suffix``, or the operator's
     configured base origin;
  3. an IP-literal host must be public: aiohttp never hands IP literals to the resolver;
  4. every DNS answer must be public (GuardedResolver, installed in each provider session's
     connector), and aiohttp connects to the very address that was checked, so a second DNS
     answer cannot swap in another (rebinding).
"Public" judges the IPv4 address embedded in IPv4-mapped, NAT64 and 6to4 forms, and refuses
Teredo, CGNAT, benchmarking and IETF ranges outright (reliability.md 6.3: `is_global` alone
passes several of these). Then: status 200, at most `max_bytes` (counted while streaming, so
a lying or missing Content-Length does not matter), connect and read timeouts, and bytes that are
an image (images.ImageLimits.inspect). Our upstream credentials are never sent on a download.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass, field

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from server.errors import UpstreamError
from server.providers.base import GeneratedImage
from server.providers.images import BadImage, ImageLimits
from server.providers.upstream import BodyTooLarge, Deadline, read_capped

log = logging.getLogger("perf.fetch")

MAX_REDIRECTS = 3
ATTEMPTS = 3
_REDIRECTS = {301, 302, 303, 307, 308}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DENIED = tuple(ipaddress.ip_network(n) for n in (
    "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15",  # CGNAT, IETF protocol assignments, benchmarking
    "2001::/32", "64:ff9b:1::/48", "::/96", "fec0::/10",  # Teredo, local NAT64, IPv4-compatible, site-local
))


class Refused(Exception):
    """A URL or address we will not fetch; the message is the reason (logged, never sent to clients)."""


class AddressRefused(OSError):
    """Raised by GuardedResolver; aiohttp wraps it as the os_error of a ClientConnectorDNSError."""


def is_public_address(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return is_public_address(addr.ipv4_mapped)
        if addr in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
        if addr.sixtofour is not None:
            return is_public_address(addr.sixtofour)
    if any(addr in net for net in _DENIED if net.version == addr.version):
        return False
    return addr.is_global and not (addr.is_multicast or addr.is_reserved or addr.is_link_local
                                   or addr.is_loopback or addr.is_private or addr.is_unspecified)


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, but refuses names with any non-public answer."""

    def __init__(self, trusted: frozenset[str] = frozenset()) -> None:
        self._inner = DefaultResolver()
        self._trusted = trusted  # "host:port" the operator vouches for (insecure test hosts, base URLs)

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if f"{host.lower()}:{port}" in self._trusted:
            return results
        for result in results:
            # Every answer, not just the first: rotating A records are a known bypass.
            address = ipaddress.ip_address(result["host"].split("%")[0])
            if not is_public_address(address):
                raise AddressRefused(f"{host} resolves to the non-public address {address}")
        return results

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True)
class Allowlist:
    """Where one upstream's URLs may point: names (exact or ``*.suffix``, https:443) and base origins."""

    names: tuple[str, ...] = ()
    origins: frozenset[str] = field(default_factory=frozenset)  # "scheme://host:port"

    @classmethod
    def of(cls, names: tuple[str, ...], *base_urls: str) -> Allowlist:
        return cls(names, frozenset(_origin(URL(b)) for b in base_urls))

    def allows(self, url: URL) -> bool:
        if _origin(url) in self.origins:
            return True
        host = (url.raw_host or "").lower().rstrip(".")
        if url.scheme != "https" or url.port != 443:
            return False
        return any(host == n or (n.startswith("*.") and host.endswith(n[1:])) for n in self.names)


def _origin(url: URL) -> str:
    return f"{url.scheme}://{(url.raw_host or '').lower()}:{url.port}"


class Fetcher:
    """Downloads upstream image URLs through one provider's session under the rules above."""

    def __init__(self, upstream: str, session: aiohttp.ClientSession, *, insecure_hosts: frozenset[str],
                 limits: ImageLimits, connect_s: float, read_s: float) -> None:
        self._upstream = upstream
        self._session = session
        self._insecure = insecure_hosts
        self._limits = limits
        self._max_bytes = limits.max_bytes
        self._timeout = aiohttp.ClientTimeout(sock_connect=connect_s, sock_read=read_s)

    def check(self, url: str | URL, allow: Allowlist) -> URL:
        """The parsed URL if rules 1-3 pass; raises Refused otherwise (DNS is checked on connect)."""
        try:
            parsed = url if isinstance(url, URL) else URL(url)
            host, port = (parsed.raw_host or "").lower(), parsed.port
        except (ValueError, TypeError) as exc:
            raise Refused(f"unparseable URL: {exc}") from None
        if not parsed.is_absolute() or not host or port is None:
            raise Refused("not an absolute URL")
        if parsed.raw_user is not None or parsed.raw_password is not None:
            raise Refused("URL carries userinfo")
        trusted = f"{host}:{port}" in self._insecure
        if parsed.scheme != "https" and not (parsed.scheme == "http" and trusted):
            raise Refused(f"scheme {parsed.scheme} is not allowed for {host}:{port}")
        if not allow.allows(parsed):
            raise Refused(f"host {host}:{port} is not on the {self._upstream} allowlist")
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return parsed
        if not trusted and not is_public_address(literal):
            raise Refused(f"address {literal} is not public")
        return parsed

    async def image(self, url: str, allow: Allowlist, deadline: Deadline) -> GeneratedImage:
        """Fetch and check one image; UpstreamError (caused by Refused or BadImage) on any refusal."""
        for attempt in range(ATTEMPTS):
            try:
                return self._limits.inspect(await self._download(url, allow, deadline))
            except Refused as exc:
                log.warning("upstream=%s refused to fetch an image URL: %s", self._upstream, exc)
                raise UpstreamError(f"{self._upstream} returned an image URL the gateway will not fetch") from exc
            except BadImage as exc:
                log.warning("upstream=%s download is not an acceptable image: %s", self._upstream, exc)
                raise UpstreamError(f"{self._upstream} returned an unusable image") from exc
            except _Transient as exc:
                # A download is a GET of a result already paid for: retrying costs nothing upstream.
                if attempt + 1 == ATTEMPTS:
                    raise UpstreamError(f"downloading the image from {self._upstream} failed") from exc
                await deadline.sleep(0.2 * 2**attempt, f"download from {self._upstream}")
        raise AssertionError("unreachable")

    async def _download(self, url: str, allow: Allowlist, deadline: Deadline) -> bytes:
        target = self.check(url, allow)
        for _ in range(MAX_REDIRECTS + 1):
            remaining = deadline.remaining()
            if remaining <= 0:
                raise _Transient("deadline")
            try:
                async with asyncio.timeout(remaining):
                    async with self._session.get(target, allow_redirects=False, timeout=self._timeout) as resp:
                        if resp.status in _REDIRECTS:
                            location = resp.headers.get("Location")
                            if not location:
                                raise Refused(f"redirect {resp.status} without a Location")
                            target = self.check(target.join(URL(location)), allow)
                            continue
                        if resp.status >= 500 or resp.status == 429:
                            raise _Transient(f"status {resp.status}")
                        if resp.status != 200:
                            raise Refused(f"download answered {resp.status}")
                        try:
                            return await read_capped(resp, self._max_bytes)
                        except BodyTooLarge as exc:
                            raise Refused(str(exc)) from None
            except aiohttp.ClientConnectorDNSError as exc:
                if isinstance(exc.os_error, AddressRefused):  # our resolver's verdict, not a DNS outage
                    raise Refused(str(exc.os_error)) from exc
                raise _Transient(str(exc)) from exc
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise _Transient(str(exc) or type(exc).__name__) from exc
        raise Refused(f"more than {MAX_REDIRECTS} redirects")

class _Transient(Exception):
    """A failure a retried GET may not meet again (connection, 5xx, read timeout)."""

