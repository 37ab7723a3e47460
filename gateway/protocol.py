"""HTTP/1.1 failures outside the handlers: what aiohttp's parser refuses, and what escapes the app.

aiohttp answers these itself, before any middleware runs: a text/plain 400 that echoes the offending
bytes, no x-request-id, and an ERROR traceback in the log per request. Here they leave as the
public JSON error, with a request id, a fixed message (input never echoed), the right status, and
one WARNING line:

    parser refusal                                          status
    a header over MAX_HEADER_BYTES, or over MAX_HEADERS      431
    a request target over MAX_URL_BYTES                      414
    a method the parser does not know (`get`, `FOO`)         501  (a known one not routed: the router's 405)
    anything else: a broken request line, framing (CL with   400
    TE, chunk sizes), control characters, version, no Host

The hook is RequestHandler.handle_error, which the protocol calls with the parser's exception; a
Server subclass makes our RequestHandler, and GatewayRunner (an AppRunner) builds that Server.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMessage,
    BadHttpMethod,
    BadStatusLine,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)

from contract.request_ids import new_request_id
from gateway.errors import PublicError, error_response, public_error

log = logging.getLogger("perf.gateway")

# Per header line (name and value), as aiohttp's default; more is 431.
MAX_HEADER_BYTES = 8190
MAX_HEADERS = 128
# Our longest URL (a signed image URL) is under 200 bytes. Distinct from MAX_HEADER_BYTES on purpose:
# the parser's LineTooLong carries only its limit, which is how a long URL (414) is told from a long
# header (431).
MAX_URL_BYTES = 4096

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def parser_error(exc: BaseException | None) -> PublicError:
    """The public error for a request aiohttp's parser refused; fixed messages, nothing quoted."""
    if isinstance(exc, LineTooLong):
        if len(exc.args) > 1 and exc.args[1] == MAX_URL_BYTES:
            return _invalid(414, f"The request target is longer than {MAX_URL_BYTES} bytes.")
        return _invalid(431, f"A request header is longer than {MAX_HEADER_BYTES} bytes.")
    if isinstance(exc, BadHttpMethod):  # before BadStatusLine, its base class
        # llhttp's one hint that a known method was read and the line broke after it ("GET\r\n").
        if exc.message.startswith("Expected space after method"):
            return _invalid(400, "The request line is not valid HTTP/1.1.")
        return _invalid(501, "The request method is not implemented (methods are case-sensitive).")
    if isinstance(exc, BadStatusLine):
        return _invalid(400, "The request line is not valid HTTP/1.1.")
    if isinstance(exc, InvalidURLError):
        return _invalid(400, "The request target is not a valid URL.")
    if isinstance(exc, InvalidHeader):
        return _invalid(400, "A request header has an invalid name or value.")
    # aiohttp raises this one with a fixed text and no subclass of its own.
    if isinstance(exc, BadHttpMessage) and exc.message.startswith("Too many headers"):
        return _invalid(431, f"The request has more than {MAX_HEADERS} headers.")
    return _invalid(400, "The request is not valid HTTP/1.1 (framing, a header or the body encoding).")


def _invalid(status: int, message: str) -> PublicError:
    return public_error("invalid_request", message, status=status)


def _reason(exc: BaseException | None) -> str:
    """A short, log-safe hint for operators: aiohttp's reason before it quotes the input."""
    if isinstance(exc, HttpProcessingError):
        return repr(exc.message.split(":", 1)[0][:60])
    return type(exc).__name__


class GatewayRequestHandler(web.RequestHandler):
    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: a response is under way, only hanging up is left
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        request_id = new_request_id()
        if isinstance(exc, HttpProcessingError):
            error = parser_error(exc)
            log.warning("refused malformed HTTP request from %s: %d %s request_id=%s", request.remote,
                        error.status, _reason(exc), request_id)
        elif status == 504:  # a handler's asyncio.TimeoutError that escaped the middleware
            error = public_error("timeout", "The request did not finish within its deadline.")
        else:  # only a bug of ours gets here: the middleware answers every handler failure
            log.error("unhandled gateway error request_id=%s", request_id, exc_info=exc)
            error = public_error("internal_error", f"internal error (request {request_id})")
        response = error_response(error, request_id)
        response.force_close()  # the connection's framing can no longer be trusted
        return response

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        # After a malformed body was answered (and logged) by the middleware, aiohttp's "lingering"
        # read of the rest re-raises the parser's error as an "Unhandled exception" with a traceback.
        if isinstance(kwargs.get("exc_info"), (HttpProcessingError, web.RequestPayloadError)):
            self.logger.debug(*args, **kwargs)
            return
        super().log_exception(*args, **kwargs)


def _outermost(handler: Handler) -> Handler:
    """Answers HTTP errors raised before the middleware runs (aiohttp's Expect handling: 417)."""
    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = error_response(public_error("invalid_request", f"{exc.status} {exc.reason}.",
                                                   status=exc.status), new_request_id())
            response.force_close()  # whether the body follows is now anyone's guess
            return response

    return handle


class GatewayServer(web.Server):
    """web.Server with our RequestHandler: Server.__call__ (the asyncio protocol factory) names
    RequestHandler directly and takes no class to use instead, so this is the one override."""

    def __init__(self, handler: Handler, **kwargs: Any) -> None:
        super().__init__(_outermost(handler), **kwargs)

    def __call__(self) -> web.RequestHandler:
        return GatewayRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An AppRunner whose connections use GatewayRequestHandler, with the parser limits above."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, max_line_size=MAX_URL_BYTES, max_field_size=MAX_HEADER_BYTES,
                         max_headers=MAX_HEADERS, **kwargs)

    async def _make_server(self) -> web.Server:
        # AppRunner's own: runs the app's startup, freezes it and collects the handler settings; the
        # server it returns is never started, only re-made as a GatewayServer with the same settings.
        plain = await super()._make_server()
        return GatewayServer(plain.request_handler, request_factory=plain.request_factory,
                             handler_cancellation=plain.handler_cancellation, loop=plain._loop, **plain._kwargs)
