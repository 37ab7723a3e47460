"""No billed generation without its ledger row: unstorable text is refused up front on every store, and
a database outage between settling and recording spools the row and replays it exactly once."""
from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests import services
from tests.e2e.concurrent import fire
from tests.fakes.upstreams import Upstreams
from tests.proxy import CuttableProxy

GEN = "/v1/images/generations"


@pytest.mark.parametrize("field", ["user", "model", "size", "quality"])
def test_text_no_store_can_hold_is_refused_and_still_recorded(make_stack, backends, field: str) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(**backends)
    key = stack.create_key("test")
    replies = [stack.post(GEN, {"prompt": "p", field: f"x\u0000{i}"}, key=key) for i in range(5)]
    for reply in replies:
        assert reply.status in (400, 404), reply.body
        error = reply.json()["error"]
        assert error["param"] == field and "\u0000" not in error["message"]
    totals = stack.get("/v1/usage", key=key).json()["totals"]
    assert totals["requests"] == 5 and totals["failed_requests"] == 5 and totals["images"] == 0


@pytest.fixture()
def shared_database() -> Iterator[tuple[str, str]]:
    reason = services.database_skip_reason()
    if reason:
        pytest.skip(reason)
    url, name = services.create_database()
    try:
        yield url, name
    finally:
        services.drop_database(name)


def ledger_rows(url: str) -> list[tuple[str, str, int]]:
    async def read() -> list[tuple[str, str, int]]:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT request_id, status, billed_micros FROM usage_ledger ORDER BY request_id")
        finally:
            await conn.close()
        return [tuple(row) for row in rows]  # type: ignore[misc]

    return asyncio.run(read())


def test_a_database_outage_between_settle_and_record_loses_no_row(make_stack, shared_database) -> None:  # type: ignore[no-untyped-def]
    url, _ = shared_database
    parts = urlsplit(url)
    proxy = CuttableProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    try:
        via_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
        with Upstreams(("openai",)) as upstreams:
            stack = make_stack(PERF_DATABASE_URL=via_proxy, PERF_HEALTH_INTERVAL_SECONDS="0.3", **upstreams.env())
            key = stack.create_key("live")
            upstreams["openai"].knobs.latency_s = 1.5  # the requests are inside the upstream call when it dies
            cutter = threading.Timer(0.7, proxy.cut)
            cutter.start()
            replies = fire([(stack.base_url + GEN, {"prompt": f"outage {i}", "model": "dall-e-3"})
                            for i in range(4)], key)
            cutter.join()
            assert [r.status for r in replies] == [200] * 4, [r.body for r in replies]
            assert "spooling the row" in stack.server_log()
            proxy.restore()
            deadline = time.monotonic() + 15
            while len(ledger_rows(url)) < 4 and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1)  # further replay rounds must not duplicate anything
            rows = ledger_rows(url)
            charges = upstreams["openai"].charges
    finally:
        proxy.stop()
    assert sorted(r[0] for r in rows) == sorted(r.body["perf"]["request_id"] for r in replies)
    assert [(r[1], r[2]) for r in rows] == [("ok", 40_000)] * 4
    assert len(charges) == 4
    assert not any((stack.data_dir / "ledger-spool").glob("*.jsonl"))
    assert os.path.isdir(stack.data_dir / "ledger-spool")
