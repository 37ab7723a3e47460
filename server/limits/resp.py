"""One pipelined connection to Redis for the limiter's scripts: every request's command goes on it.

redis-py spent ~110 µs of this process's CPU per EVALSHA (pool checkout, retry wrapper, argument
handling, stream reads) where packing, sending and parsing the bytes costs ~40 (3,000 sequential
calls each, on this project's 2-core machine); with two commands per request that was a tenth of the
server's CPU on the PostgreSQL + Redis path. Redis answers a connection's commands in order, so one
connection serves every request: each command's future waits its turn in a FIFO, and the commands
issued in one loop turn leave in one write (the pipelining that used to be done by hand).

hiredis (redis-py's optional C parser) reads the replies; redis-py still parses the URL and maps
Redis' error codes to its exception classes, so callers and runtime/outages.py see the errors they
saw before. A reply not back within `timeout_s` means the connection can no longer line replies up
with futures: it is dropped, every waiter fails with TimeoutError, and the next command reconnects.
"""
from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any

import hiredis
from redis._parsers.base import BaseParser  # redis-py's map of error codes to exception classes
from redis.asyncio.connection import SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

Command = tuple[str | int | bytes, ...]


def _packed(command: Command) -> bytes:
    return hiredis.pack_command(command)  # type: ignore[arg-type]  # its stub declares a 1-tuple


class _ErrorReply(Exception):
    """What hiredis makes of an error reply (`-CODE message`), before redis-py names it."""


class _Link(asyncio.Protocol):
    """One connection: commands out in order, replies matched to their futures in the same order."""

    def __init__(self, timeout_s: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._timeout_s = timeout_s
        self._reader = hiredis.Reader(replyError=_ErrorReply, encoding="utf-8")
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._out: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.broken: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def send(self, packed: bytes, replies: int) -> list[asyncio.Future[Any]]:
        if self.broken is not None:
            raise self.broken
        deadline = self._loop.time() + self._timeout_s
        futures = [self._loop.create_future() for _ in range(replies)]
        self._waiting.extend((future, deadline) for future in futures)
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(packed)
        if self._timer is None:
            self._timer = self._loop.call_at(deadline, self._check_deadline)
        return futures

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self.broken is None and self._transport is not None:
            self._transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        try:
            self._reader.feed(data)
            while (reply := self._reader.gets()) is not False:
                if not self._waiting:
                    # Spoken out of turn (a Redis in protected mode greets with -DENIED): nothing can be trusted.
                    raise reply if isinstance(reply, _ErrorReply) else RedisConnectionError("unexpected reply")
                future, _ = self._waiting.popleft()
                if future.done():  # its caller gave up; the reply only keeps the order
                    continue
                if isinstance(reply, _ErrorReply):
                    future.set_exception(BaseParser.parse_error(str(reply)))
                else:
                    future.set_result(reply)
        except Exception as error:
            self._fail(BaseParser.parse_error(str(error)) if isinstance(error, _ErrorReply) else
                       RedisConnectionError(f"unreadable reply from Redis: {error}"))

    def _check_deadline(self) -> None:
        self._timer = None
        if not self._waiting:
            return
        deadline = self._waiting[0][1]
        if deadline <= self._loop.time():
            self._fail(RedisTimeoutError(f"Redis did not answer within {self._timeout_s:g} s"))
        else:
            self._timer = self._loop.call_at(deadline, self._check_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"connection to Redis lost: {exc or 'closed by the server'}"))

    def close(self) -> None:
        self._fail(RedisConnectionError("the Redis client is closed"))

    def _fail(self, error: Exception) -> None:
        if self.broken is None:
            self.broken = error
        waiting, self._waiting = self._waiting, deque()
        for future, _ in waiting:
            if not future.done():
                future.set_exception(error)
        self._out.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.abort()


class RespClient:
    """Commands to the Redis at `url` (redis://, rediss://, unix://; user, password and db as redis-py
    reads them), over one lazily opened connection, reopened after a failure."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        self._options = parse_url(url)
        self._timeout_s = timeout_s
        self._link: _Link | None = None
        self._opening: asyncio.Task[_Link] | None = None

    async def execute(self, *command: str | int | bytes) -> Any:
        link = await self._usable()
        (reply,) = link.send(_packed(command), 1)
        return await reply

    async def pipeline(self, *commands: Command) -> list[Any]:
        """Several commands back to back, none of another caller's between them; replies in order."""
        link = await self._usable()
        replies = link.send(b"".join(_packed(c) for c in commands), len(commands))
        return await asyncio.gather(*replies)  # the first error; gather retrieves the others

    async def close(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    async def _usable(self) -> _Link:
        link = self._link
        if link is not None and link.broken is None:
            return link
        opening = self._opening
        if opening is None:  # callers arriving while it opens wait for the same connection
            opening = self._opening = asyncio.get_running_loop().create_task(self._open())
            opening.add_done_callback(lambda _: setattr(self, "_opening", None))
        return await asyncio.shield(opening)

    async def _open(self) -> _Link:
        options, loop = self._options, asyncio.get_running_loop()
        where = options.get("path") or f"{options.get('host', 'localhost')}:{options.get('port', 6379)}"
        link: _Link | None = None
        try:
            async with asyncio.timeout(self._timeout_s):
                if options.get("path"):
                    _, link = await loop.create_unix_connection(lambda: _Link(self._timeout_s), options["path"])
                else:
                    _, link = await loop.create_connection(lambda: _Link(self._timeout_s),
                                                           options.get("host", "localhost"),
                                                           int(options.get("port", 6379)), ssl=self._tls())
                handshake: list[Command] = []
                if options.get("password") is not None:
                    user = options.get("username")
                    handshake.append(("AUTH", user, options["password"]) if user else ("AUTH", options["password"]))
                if int(options.get("db", 0) or 0):
                    handshake.append(("SELECT", int(options["db"])))
                for command in handshake:
                    (reply,) = link.send(_packed(command), 1)
                    await reply
        except BaseException as error:
            if link is not None:  # connected, but refused (a wrong password, say): not for use
                link.close()
            if isinstance(error, TimeoutError):
                raise RedisTimeoutError(f"Timeout connecting to Redis at {where}") from error
            if isinstance(error, OSError):
                raise RedisConnectionError(f"Error connecting to Redis at {where}: {error}") from error
            raise
        self._link = link
        return link

    def _tls(self) -> ssl.SSLContext | None:
        options = self._options
        if options.get("connection_class") is not SSLConnection:
            return None
        ca_certs = options.get("ssl_ca_certs")
        context = ssl.create_default_context(cafile=str(ca_certs) if ca_certs else None)
        if options.get("ssl_cert_reqs") in ("none", ssl.CERT_NONE):  # rediss://…?ssl_cert_reqs=none
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
