"""Where a webhook may be sent: the SSRF rules of upstream downloads (server/providers/fetch.py), for any host.

At submission: an absolute https URL without userinfo, whose host, if an IP literal, is public; plain
http only for a host:port in PERF_INSECURE_HTTP_HOSTS (the test setting). At delivery the session's
GuardedResolver refuses a name with any non-public DNS answer (except those same trusted hosts), and
redirects are not followed.
"""
from __future__ import annotations

import ipaddress
import re

from yarl import URL

from server.errors import InvalidRequest
from server.providers.fetch import is_public_address

MAX_URL_CHARS = 2048
# A DNS name as a webhook can reach it (a non-ASCII name goes in its punycode spelling).
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")


def checked_webhook_url(url: str, insecure_hosts: frozenset[str]) -> str:
    """`url` if a webhook may go there; InvalidRequest (param webhook_url) saying why not."""
    def refuse(why: str) -> InvalidRequest:
        return InvalidRequest(f"webhook_url {why}", param="webhook_url")

    if len(url) > MAX_URL_CHARS:
        raise refuse(f"is longer than {MAX_URL_CHARS} characters")
    # Printable ASCII only: a NUL could not even be stored (PostgreSQL refuses it in text), and a space
    # or control character is no URL a receiver has; percent-encode the rest.
    if not url.isascii() or not url.isprintable() or " " in url:
        raise refuse("must be printable ASCII without spaces (percent-encode the rest; punycode a non-ASCII host)")
    try:
        parsed = URL(url)
        host, port = (parsed.raw_host or "").lower(), parsed.port
    except (ValueError, TypeError):
        raise refuse("is not a URL") from None
    if not parsed.is_absolute() or not host or port is None or parsed.scheme not in ("http", "https"):
        raise refuse("must be an absolute https URL")
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise refuse("must not carry a user name or password")
    trusted = f"{host}:{port}" in insecure_hosts
    if parsed.scheme != "https" and not trusted:
        raise refuse("must use https")
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not HOST_NAME.fullmatch(host):
            raise refuse("has a host that is neither a DNS name nor an IP address") from None
        return url
    if not trusted and not is_public_address(literal):
        raise refuse("points at a private or reserved address")
    return url
