"""The limiter's one pipelined Redis connection (server/limits/resp.py): replies reach the caller that
asked, whatever the others do, and a dropped, silent or refusing connection fails its waiters with
the errors redis-py raised and is replaced by the next command."""
from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from limits_support import REDIS_URL, redis_skip_reason
from redis.exceptions import AuthenticationError, NoScriptError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.limits.resp import RespClient
from server.runtime.outages import is_outage


@pytest.fixture()
def redis_url() -> str:
    reason = redis_skip_reason()
    if reason:
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture()
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stopping = threading.Event()
    listener.settimeout(0.1)

    def accept() -> None:
        while not stopping.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stopping.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_concurrent_callers_each_get_their_own_reply_even_when_some_give_up(redis_url: str) -> None:
    async def scenario() -> tuple[list[object], list[object]]:
        client = RespClient(redis_url, timeout_s=2)
        try:
            await client.execute("PING")
            tasks = [asyncio.create_task(client.execute("ECHO", f"v{i}")) for i in range(300)]
            await asyncio.sleep(0)  # every command is on its way
            for task in tasks[::7]:
                task.cancel()  # gone before their replies: the replies after them must still line up
            done = await asyncio.gather(*tasks, return_exceptions=True)
            piped = await client.pipeline(("SET", "resp:test", "x"), ("GET", "resp:test"), ("DEL", "resp:test"))
            return [reply for reply in done if not isinstance(reply, BaseException)], piped
        finally:
            await client.close()

    kept, piped = asyncio.run(scenario())
    assert kept == [f"v{i}" for i in range(300) if i % 7]
    assert piped == ["OK", "x", 1]


def test_a_connection_the_server_drops_fails_its_waiters_and_the_next_command_reconnects(redis_url: str) -> None:
    name = f"resp-test-{uuid.uuid4().hex}"

    async def scenario() -> list[object]:
        client = RespClient(redis_url, timeout_s=2)
        try:
            await client.execute("CLIENT", "SETNAME", name)
            blocked = asyncio.create_task(client.execute("BLPOP", f"resp:never:{name}", 5))
            await asyncio.sleep(0.2)
            killed = redis.Redis.from_url(redis_url).client_kill_filter(_type=None, skipme=True,
                                                                        _id=_client_id(redis_url, name))
            seen: list[object] = [killed]
            with pytest.raises(RedisConnectionError):
                await blocked
            seen.append(await client.execute("PING"))  # a new connection, opened on demand
            with pytest.raises(NoScriptError):  # error replies keep redis-py's classes
                await client.execute("EVALSHA", "0" * 40, 0)
            seen.append(await client.execute("ECHO", "after"))
            return seen
        finally:
            await client.close()

    assert asyncio.run(scenario()) == [1, "PONG", "after"]


def _client_id(url: str, name: str) -> int:
    for entry in redis.Redis.from_url(url).client_list():
        if entry.get("name") == name:
            return int(entry["id"])
    raise AssertionError(f"no client named {name}")


def test_a_redis_that_does_not_answer_is_a_timeout_an_outage_and_the_client_recovers(silent_server: int) -> None:
    async def scenario() -> float:
        client = RespClient(f"redis://127.0.0.1:{silent_server}/0", timeout_s=0.3)
        try:
            started = time.monotonic()
            replies = [asyncio.create_task(client.execute("PING")) for _ in range(3)]
            for reply in replies:
                with pytest.raises(RedisTimeoutError) as raised:
                    await reply
                assert is_outage(raised.value)
            waited = time.monotonic() - started
            with pytest.raises(RedisTimeoutError):  # a fresh connection, equally silent
                await client.execute("PING")
            return waited
        finally:
            await client.close()

    assert 0.25 < asyncio.run(scenario()) < 2


def test_an_unreachable_redis_is_a_connection_error() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()

    async def scenario() -> None:
        client = RespClient(f"redis://127.0.0.1:{port}/0", timeout_s=1)
        with pytest.raises(RedisConnectionError, match=f"127.0.0.1:{port}") as raised:
            await client.execute("PING")
        assert is_outage(raised.value)
        await client.close()

    asyncio.run(scenario())


def test_user_password_and_database_come_from_the_url(redis_url: str) -> None:
    admin = redis.Redis.from_url(redis_url)
    user, password, key = f"resp-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex, f"resp:db:{uuid.uuid4().hex}"
    admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["resp:*"], commands=["+@all"])
    where = urlsplit(redis_url)
    base = f"redis://{user}:{{}}@{where.hostname}:{where.port or 6379}/5"

    async def scenario() -> None:
        client = RespClient(base.format(password), timeout_s=2)
        try:
            assert await client.execute("SET", key, "in db 5") == "OK"
        finally:
            await client.close()
        wrong = RespClient(base.format("wrong"), timeout_s=2)
        with pytest.raises(AuthenticationError):
            await wrong.execute("PING")
        await wrong.close()

    try:
        asyncio.run(scenario())
        assert redis.Redis(host=where.hostname, port=where.port or 6379, db=5).get(key) == b"in db 5"
        assert redis.Redis(host=where.hostname, port=where.port or 6379, db=0).get(key) is None
    finally:
        redis.Redis(host=where.hostname, port=where.port or 6379, db=5).delete(key)
        admin.acl_deluser(user)
