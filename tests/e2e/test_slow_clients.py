"""Slow and idle clients (issue 7): a body must arrive within PERF_BODY_READ_TIMEOUT_SECONDS (408 and
the connection closed), and idle keep-alive connections close after PERF_KEEPALIVE_TIMEOUT_SECONDS.
Before, 30 of 30 connections that sent Content-Length: 1000 and 10 bytes were still open after 100 s."""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.error_shape import problems
from tests.rawhttp import Connection, RawReply, request_bytes
from tests.stack import Stack

BODY_TIMEOUT_S = 1.0
KEEPALIVE_S = 2.0
GEN = "/v1/images/generations"


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("slow"), env_overrides={
        "PERF_BODY_READ_TIMEOUT_SECONDS": str(BODY_TIMEOUT_S), "PERF_KEEPALIVE_TIMEOUT_SECONDS": str(KEEPALIVE_S)})
    running.start()
    try:
        yield running
    finally:
        running.stop()


def stalled_body(stack: Stack, head: bytes, sent: bytes) -> tuple[RawReply, bool]:
    """Send a request whose body stops short; the reply, and whether the server then hung up at once."""
    connection = Connection(stack.http_port, timeout_s=BODY_TIMEOUT_S + 5)
    reply = connection.send(head + sent)
    return reply, connection.wait_closed(within_s=1.0)


def assert_408(reply: RawReply) -> None:
    assert reply.status == 408, reply.body
    assert problems(reply.status, reply.headers, reply.body) == []
    assert reply.json()["error"]["type"] == "timeout"
    assert BODY_TIMEOUT_S * 0.9 <= reply.elapsed_s < BODY_TIMEOUT_S + 2


def test_a_body_shorter_than_its_content_length_is_408_and_closed(slow_stack: Stack) -> None:
    head = f"POST {GEN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    reply, closed = stalled_body(slow_stack, head.encode(), b"0123456789")
    assert_408(reply)
    assert reply.headers["connection"] == "close"
    assert closed
    log = (slow_stack.data_dir / "gateway.log").read_text()
    assert "request body not received within 1s" in log
    assert " ERROR " not in log and "Traceback" not in log


def test_a_chunked_body_that_never_ends_is_408(slow_stack: Stack) -> None:
    head = f"POST {GEN} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    reply, closed = stalled_body(slow_stack, head.encode(), b"5\r\n{\"pro\r\n")
    assert_408(reply)
    assert closed


def test_thirty_stalled_bodies_are_all_let_go(slow_stack: Stack) -> None:
    head = f"POST {GEN} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode()
    started = time.monotonic()
    with ThreadPoolExecutor(30) as pool:
        outcomes = list(pool.map(lambda _: stalled_body(slow_stack, head, b"0123456789"), range(30)))
    assert [reply.status for reply, _ in outcomes] == [408] * 30
    assert all(closed for _, closed in outcomes)
    assert time.monotonic() - started < BODY_TIMEOUT_S + 4


def test_a_body_that_arrives_in_time_is_served(slow_stack: Stack) -> None:
    body = b'{"prompt": "slow but in time"}'
    head = request_bytes("POST", GEN, {"Authorization": f"Bearer {slow_stack.first_key}",
                                       "Content-Type": "application/json"}, body)[: -len(body)]
    with socket.create_connection(("127.0.0.1", slow_stack.http_port), timeout=10) as sock:
        sock.sendall(head + body[:10])
        time.sleep(BODY_TIMEOUT_S / 2)
        sock.sendall(body[10:])
        assert sock.recv(12) == b"HTTP/1.1 200"


def test_an_idle_keep_alive_connection_is_closed_after_the_documented_time(slow_stack: Stack) -> None:
    connection = Connection(slow_stack.http_port)
    reply = connection.send(request_bytes("GET", "/healthz"))
    assert reply.status == 200 and not reply.closed
    idle_since = time.monotonic()
    assert connection.wait_closed(within_s=KEEPALIVE_S + 2)
    assert KEEPALIVE_S * 0.8 <= time.monotonic() - idle_since <= KEEPALIVE_S + 2


def test_headers_that_never_finish_are_cut_off_too(slow_stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", slow_stack.http_port), timeout=KEEPALIVE_S + 3) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        assert sock.recv(100) == b""  # closed without a reply
        assert time.monotonic() - started <= KEEPALIVE_S + 2
