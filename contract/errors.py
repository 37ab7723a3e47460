"""The public error types and how each travels over gRPC and HTTP.

Every failure a client sees is one of these types, on both protocols::

    type                      gRPC code            HTTP   when
    invalid_request           INVALID_ARGUMENT     400    a field is missing, malformed or not allowed (param names it);
                                                   the gateway answers 413 with this type for a body over its limit,
                                                   and 405/414/417/431/501 for what HTTP itself refuses
    content_policy_violation  INVALID_ARGUMENT     400    our policy or the upstream's moderation refused
    authentication_error      UNAUTHENTICATED      401    no key, malformed, unknown or revoked
    permission_denied         PERMISSION_DENIED    403    key may not do this; image URL signature invalid
    not_found                 NOT_FOUND            404    unknown model; unknown or expired image
    rate_limit_exceeded       RESOURCE_EXHAUSTED   429    tier limit (retry_after set)
    conflict                  ABORTED              409    idempotency key in flight or reused differently
    upstream_error            UNAVAILABLE          502    the provider failed after our retries
    provider_unavailable      UNAVAILABLE          503    provider not configured, or the service is not reachable
    timeout                   DEADLINE_EXCEEDED    504    the deadline passed (408: the request body did not arrive in time)
    internal_error            INTERNAL             500    our bug; the message carries only the request id

The server puts the type in ``google.rpc.ErrorInfo.reason`` (upper snake case) inside
``grpc-status-details-bin``; the gateway reads it back from there and never from message text.

A message may quote what the client sent only through ``echo``: messages travel in gRPC trailers
(16 KiB for all metadata together) and in response bodies, and must never grow with the input.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import grpc

ERROR_DOMAIN = "perf.images.v1"
# ErrorInfo metadata key: "false" when a retry could make an upstream charge again (x-should-retry).
SHOULD_RETRY = "should_retry"
# Client-supplied text quoted in an error message is cut to this many characters.
MAX_ECHO_CHARS = 64
# Category Cc, which is U+0000-U+001F and U+007F-U+009F for good (Unicode's stability policy). Client
# text is checked against it as one regex character class, in C: a per-character unicodedata walk cost
# ~0.03 ms per 500 characters, and it runs per request (the prompt, the end-user id, the ledger's texts).
CONTROL_CHARACTERS = frozenset(chr(c) for c in range(0x100) if unicodedata.category(chr(c)) == "Cc")


def character_class(chars: frozenset[str] | set[str]) -> re.Pattern[str]:
    """A regex matching any one of `chars`."""
    return re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]")


_CONTROL = character_class(CONTROL_CHARACTERS)


def has_control(text: str) -> bool:
    # isprintable() is false for every Cc character and cheaper than a search: most texts end here.
    return not text.isprintable() and _CONTROL.search(text) is not None


def echo(value: str, limit: int = MAX_ECHO_CHARS) -> str:
    """`value` as an error message may quote it: cut with an ellipsis past `limit`, control characters
    replaced (messages travel in gRPC trailers and into logs; unbounded or raw input must not)."""
    cut = value if len(value) <= limit else value[:limit] + "…"
    # isprintable() is false for every Cc character and cheaper than a sub: most texts end here.
    return cut if cut.isprintable() else _CONTROL.sub("\ufffd", cut)


@dataclass(frozen=True)
class ErrorKind:
    type: str
    grpc_code: grpc.StatusCode
    http_status: int

    @property
    def reason(self) -> str:
        """The ErrorInfo.reason spelling of the type (AIP-193: UPPER_SNAKE_CASE)."""
        return self.type.upper()


ERROR_KINDS: dict[str, ErrorKind] = {
    kind.type: kind
    for kind in (
        ErrorKind("invalid_request", grpc.StatusCode.INVALID_ARGUMENT, 400),
        ErrorKind("content_policy_violation", grpc.StatusCode.INVALID_ARGUMENT, 400),
        ErrorKind("authentication_error", grpc.StatusCode.UNAUTHENTICATED, 401),
        ErrorKind("permission_denied", grpc.StatusCode.PERMISSION_DENIED, 403),
        ErrorKind("not_found", grpc.StatusCode.NOT_FOUND, 404),
        ErrorKind("rate_limit_exceeded", grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        ErrorKind("conflict", grpc.StatusCode.ABORTED, 409),
        ErrorKind("upstream_error", grpc.StatusCode.UNAVAILABLE, 502),
        ErrorKind("provider_unavailable", grpc.StatusCode.UNAVAILABLE, 503),
        ErrorKind("timeout", grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        ErrorKind("internal_error", grpc.StatusCode.INTERNAL, 500),
    )
}

KINDS_BY_REASON: dict[str, ErrorKind] = {kind.reason: kind for kind in ERROR_KINDS.values()}
