"""HTTP/1.1 over a plain socket, byte for byte: for requests no HTTP library will send (bad framing,
control characters, lower-case methods) and for fast, keep-alive request loops in the fuzz tests."""
from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any

from tests.openapi_check import check_response


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes
    elapsed_s: float
    # The server closed the connection after this reply (or announced it would).
    closed: bool

    def json(self) -> Any:
        return json.loads(self.body)


class NoReply(Exception):
    """The server sent no complete response within the timeout, or hung up without one."""


def request_bytes(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One keep-alive connection to 127.0.0.1:`port`, reopened whenever the server closes it."""

    def __init__(self, port: int, timeout_s: float = 10.0) -> None:
        self._port = port
        self._timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._received = False

    def send(self, data: bytes, *, head: bool = False) -> RawReply:
        """Send `data` (one request) and read exactly one response (`head`: one without a body)."""
        reused = self._sock is not None
        try:
            return self._send_once(data, head)
        except NoReply:
            if not reused or self._received:
                raise
        # A kept-alive connection the server had closed just before we wrote: retry once, as clients do.
        return self._send_once(data, head)

    def _send_once(self, data: bytes, head: bool) -> RawReply:
        if self._sock is None:
            self._sock = socket.create_connection(("127.0.0.1", self._port), timeout=self._timeout_s)
            self._buffer = b""
        self._received = False
        started = time.monotonic()
        try:
            self._sock.sendall(data)
        except OSError:
            pass  # the server may refuse mid-request and answer anyway: read what it sent
        try:
            reply = self._read_reply(started, head)
        except BaseException:
            self.close()
            raise
        if reply.closed:
            self.close()
        _check_against_document(self._port, data, reply, head)
        return reply

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def wait_closed(self, within_s: float) -> bool:
        """True when the server closes this connection within `within_s` seconds."""
        if self._sock is None:
            return True
        self._sock.settimeout(within_s)
        try:
            while chunk := self._sock.recv(65536):
                self._buffer += chunk
            return True
        except TimeoutError:
            return False
        except OSError:  # reset counts as closed
            return True
        finally:
            self.close()

    def _read_reply(self, started: float, head: bool) -> RawReply:
        assert self._sock is not None
        while True:
            while b"\r\n\r\n" not in self._buffer:
                self._recv_more()
            raw_head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
            status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            if not 100 <= status < 200:  # skip interim responses (100 Continue)
                break
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head else int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            self._recv_more()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        closed = headers.get("connection", "").lower() == "close" or status_line.startswith("HTTP/1.0")
        return RawReply(status, headers, body, time.monotonic() - started, closed)

    def _recv_more(self) -> None:
        assert self._sock is not None
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            raise NoReply(f"no complete response within {self._timeout_s}s") from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise NoReply("the server closed the connection without a complete response")
        self._received = True
        self._buffer += chunk


def _check_against_document(port: int, data: bytes, reply: RawReply, head: bool) -> None:
    """As tests/stack.http does: a reply from a gateway a Stack started must be one the document allows."""
    from tests.stack import GATEWAYS  # not at import time: tests.stack imports nothing from here, keep it so

    if f"127.0.0.1:{port}" not in GATEWAYS:
        return
    method, _, rest = data.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
    target = rest.rsplit(" ", 1)[0] if " " in rest else rest
    # Only Content-Length bodies are read here (not a chunked event stream), and none after HEAD.
    read = not head and "chunked" not in reply.headers.get("transfer-encoding", "")
    check_response(method, target, reply.status, reply.headers, reply.body, body_read=read)


def exchange(port: int, data: bytes, timeout_s: float = 10.0) -> RawReply:
    """One request on a fresh connection, which is then closed."""
    connection = Connection(port, timeout_s)
    try:
        return connection.send(data)
    finally:
        connection.close()
