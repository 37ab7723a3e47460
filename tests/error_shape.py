"""The documented error contract as a checker: what every HTTP response must look like, as a list of
problems (empty when it conforms), so the fuzz tests can count violations instead of stopping at one."""
from __future__ import annotations

import json
from collections.abc import Mapping

from contract.errors import ERROR_KINDS
from contract.request_ids import REQUEST_ID

# Statuses a type may take besides its own (README error table).
EXTRA_STATUSES = {"invalid_request": {405, 413, 414, 417, 431, 501}, "timeout": {408}}
# An error message quotes client text only cut short (contract.errors.echo), so it stays small.
MAX_MESSAGE_CHARS = 300
ERROR_KEYS = {"type", "message", "param", "retry_after"}


def problems(status: int, headers: Mapping[str, str], body: bytes, *, known_method: bool = True,
             head: bool = False) -> list[str]:
    """What is wrong with this response, judged by the contract alone; `headers` has lower-case names.

    The one 5xx client input may earn is 501 for a method nobody here recognises (RFC 9110 section
    15.6.2; methods are case-sensitive, so `get` is one): pass known_method=False when sending such.
    A response to HEAD has no body to judge (`head`).
    """
    found = []
    if not REQUEST_ID.fullmatch(headers.get("x-request-id", "")):
        found.append(f"x-request-id missing or malformed: {headers.get('x-request-id')!r}")
    if status >= 500 and not (status == 501 and not known_method):
        found.append(f"server error {status}")
    if status < 400:
        return found
    if not headers.get("content-type", "").startswith("application/json"):
        found.append(f"error content-type {headers.get('content-type')!r}")
        return found
    if head:
        return found
    try:
        document = json.loads(body)
    except ValueError:
        return [*found, f"error body is not JSON: {body[:80]!r}"]
    if not isinstance(document, dict) or set(document) != {"error"} or not isinstance(document["error"], dict):
        return [*found, f"error body is not {{'error': {{...}}}}: {body[:80]!r}"]
    error = document["error"]
    if not set(error) <= ERROR_KEYS:
        found.append(f"unexpected error keys {sorted(set(error) - ERROR_KEYS)}")
    kind = ERROR_KINDS.get(error.get("type"))  # type: ignore[arg-type]
    if kind is None:
        found.append(f"unknown error type {error.get('type')!r}")
    elif status != kind.http_status and status not in EXTRA_STATUSES.get(kind.type, set()):
        found.append(f"type {kind.type} with status {status}")
    message = error.get("message")
    if not isinstance(message, str) or not message or len(message) > MAX_MESSAGE_CHARS:
        found.append(f"message missing, empty or unbounded ({len(message) if isinstance(message, str) else message!r})")
    elif "Traceback" in message or "Error parsing" in message:
        found.append(f"message leaks internals: {message[:80]!r}")
    param = error.get("param")
    if param is not None and (not isinstance(param, str) or len(param) > MAX_MESSAGE_CHARS):
        found.append("param is not a short string")
    retry_after = error.get("retry_after")
    if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
        found.append(f"retry_after {retry_after!r}")
    return found
