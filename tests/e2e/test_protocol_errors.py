"""Requests aiohttp's HTTP parser refuses, over a raw socket (issue 7): they leave as our JSON error
with x-request-id and the right status, the input is not echoed, and each logs one WARNING line at
most (they were text/plain 400s echoing the input, with an ERROR traceback logged per request)."""
from __future__ import annotations

import time

import pytest

from tests.error_shape import problems
from tests.rawhttp import exchange
from tests.stack import Stack

MARK = "ECHOMARK"  # put into each offending part, so an echo of the input is easy to see
GEN = "/v1/images/generations"
CASES = {
    "header over 8 KB": (431, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {MARK}{'a' * 9000}\r\n\r\n"),
    "header name over 8 KB": (431, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-{MARK}{'a' * 9000}: 1\r\n\r\n"),
    "129 headers": (431, "GET /healthz HTTP/1.1\r\nHost: x\r\n" + "".join(f"X-{MARK}-{n}: a\r\n" for n in range(129))
                    + "\r\n"),
    "URL over 4 KB": (414, f"GET /{MARK}{'a' * 5000} HTTP/1.1\r\nHost: x\r\n\r\n"),
    "lower-case method": (501, "get /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
    "unknown method": (501, f"{MARK} /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
    "TLS on the HTTP port": (501, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),
    "Content-Length with Transfer-Encoding": (400, f"POST {GEN} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                                   f"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "bad chunk size": (400, f"POST {GEN} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{MARK}\r\nab\r\n"
                            "0\r\n\r\n"),
    "control character in a header": (400, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: {MARK}\x01b\r\n\r\n"),
    "NUL in a header": (400, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: {MARK}\x00b\r\n\r\n"),
    "space before the colon": (400, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-{MARK} : b\r\n\r\n"),
    "two Content-Lengths": (400, f"POST {GEN} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"
                                 "abc"),
    "non-ASCII Content-Length": (400, f"POST {GEN} HTTP/1.1\r\nHost: x\r\nContent-Length: \u0661\r\n\r\na"),
    "unknown HTTP version": (400, f"GET /{MARK} HTTP/9.9\r\nHost: x\r\n\r\n"),
    "no Host": (400, f"GET /{MARK} HTTP/1.1\r\n\r\n"),
    "bad gzip body": (400, f"POST {GEN} HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 8\r\n\r\n"
                           f"{MARK}"),
    "Expect other than 100-continue": (417, f"POST {GEN} HTTP/1.1\r\nHost: x\r\nExpect: {MARK}\r\n"
                                            "Content-Length: 2\r\n\r\n{}"),
}


def log_lines_during(stack: Stack, send: object) -> list[str]:
    log = stack.data_dir / "gateway.log"
    before = log.stat().st_size
    send()  # type: ignore[operator]
    time.sleep(0.15)  # the lingering read of a broken body logs (if at all) right after the response
    with open(log, "rb") as handle:
        handle.seek(before)
        return handle.read().decode(errors="replace").splitlines()


@pytest.mark.parametrize("name", CASES)
def test_parser_refusals_are_json_errors(stack: Stack, name: str) -> None:
    status, request = CASES[name]
    replies = []
    lines = log_lines_during(stack, lambda: replies.append(exchange(stack.http_port, request.encode("utf-8"))))
    reply = replies[0]
    assert reply.status == status, (name, reply.body)
    assert problems(reply.status, reply.headers, reply.body, known_method=status != 501) == []
    assert MARK.encode() not in reply.body and MARK not in str(reply.headers)
    assert reply.closed  # the framing of the connection can no longer be trusted
    warnings = [line for line in lines if " WARNING " in line]
    assert len(warnings) <= 1, lines
    assert not [line for line in lines if " ERROR " in line or "Traceback" in line], lines
    assert all(MARK not in line for line in lines), lines


def test_a_known_method_not_routed_is_405_with_allow(stack: Stack) -> None:
    reply = exchange(stack.http_port, b"PROPFIND /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.status == 405 and reply.headers["allow"] == "GET, HEAD"
    assert problems(reply.status, reply.headers, reply.body) == []
