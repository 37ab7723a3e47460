"""Where a webhook may be sent: the SSRF rules of upstream downloads (server/providers/fetch.py), for any host.

At submission: an absolute https URL without userinfo, whose host, if an IP literal, is public; plain
http only for a host:port in PERF_INSECURE_HTTP_HOSTS (the test setting). At delivery the session's
GuardedResolver refuses a name with any non-public DNS answer (except those same trusted hosts), and
redirects are not followed.
"""
from __future__ import annotations

import ipaddress

from yarl import URL

from server.errors import InvalidRequest
from server.providers.fetch import is_public_address

MAX_URL_CHARS = 2048


def checked_webhook_url(url: str, insecure_hosts: frozenset[str]) -> str:
    """`url` if a webhook may go there; InvalidRequest (param webhook_url) saying why not."""
    def refuse(why: str) -> InvalidRequest:
        return InvalidRequest(f"webhook_url {why}", param="webhook_url")

    if len(url) > MAX_URL_CHARS:
        raise refuse(f"is longer than {MAX_URL_CHARS} characters")
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
        return url
    if not trusted and not is_public_address(literal):
        raise refuse("points at a private or reserved address")
    return url
