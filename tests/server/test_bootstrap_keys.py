"""PERF_BOOTSTRAP_KEYS_FILE: the operator's keys inserted at start, once, whatever the replicas do."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from server.database.sqlite import SqliteStore
from server.keys.bootstrap import ensure_bootstrap_keys, parse_bootstrap_keys
from server.keys.tokens import generate_key, key_digest
from tests.stack import ROOT, Stack

PEPPER = b"p" * 32


def bootstrap_file(tmp_path: Path, live: str, test: str) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(f"""
[[keys]]
secret = "{live}"
tier = "enterprise"
name = "billing app"
minute_limit = 600
day_limit = 50000
monthly_cap_usd = 2500.5

[[keys]]
secret = "{test}"
""")
    return path


def test_parse_reads_every_field() -> None:
    live = generate_key("live")
    [entry] = parse_bootstrap_keys(f'[[keys]]\nsecret = "{live}"\ntier = "pro"\nmonthly_cap_usd = 0.1\n')
    assert (entry.mode, entry.tier, entry.monthly_cap_micros, entry.minute_limit) == ("live", "pro", 100_000, None)


@pytest.mark.parametrize(("text", "message"), [
    ('[[keys]]\nsecret = "pk_live_short"\n', "secret must be"),
    ('[[keys]]\nsecret = "{key}"\ntier = "gold"\n', None),  # refused by create_key, when inserting
    ('[[keys]]\nsecret = "{key}"\nmonthly_cap = 5\n', "unknown field"),
    ('[[keys]]\nsecret = "{key}"\nminute_limit = "600"\n', "minute_limit must be an integer"),
    ('keys = 3\n', "expected only"),
    ('[[keys]\n', "not valid TOML"),
])
def test_mistakes_are_refused_without_quoting_the_secret(tmp_path: Path, text: str, message: str | None) -> None:
    key = generate_key("live")
    path = tmp_path / "keys.toml"
    path.write_text(text.replace("{key}", key))
    store = SqliteStore(tmp_path / "db.sqlite3")

    async def run() -> None:
        try:
            await ensure_bootstrap_keys(store, PEPPER, path)
        finally:
            await store.close()

    with pytest.raises(ValueError, match=message or "tier must be one of") as refused:
        asyncio.run(run())
    assert key not in str(refused.value) and str(path) in str(refused.value)


def test_concurrent_starts_insert_each_key_once_and_revocation_sticks(tmp_path: Path) -> None:
    live, test = generate_key("live"), generate_key("test")
    path = bootstrap_file(tmp_path, live, test)

    async def run() -> None:
        store = SqliteStore(tmp_path / "db.sqlite3")
        try:
            # Two replicas starting at once race between the lookup and the insert.
            first, second = await asyncio.gather(*(ensure_bootstrap_keys(store, PEPPER, path) for _ in range(2)))
            assert len(first) + len(second) == 2
            keys = await store.list_keys()
            assert sorted(k.mode for k in keys) == ["live", "test"]
            record = await store.find_key(key_digest(PEPPER, live))
            assert record is not None
            assert (record.tier, record.name, record.minute_limit, record.day_limit, record.monthly_cap_micros) \
                == ("enterprise", "billing app", 600, 50000, 2_500_500_000)
            assert await store.revoke_key(record.id, 1)
            assert await ensure_bootstrap_keys(store, PEPPER, path) == []  # a revoked key is not brought back
            again = await store.find_key(key_digest(PEPPER, live))
            assert again is not None and again.revoked_at == 1
        finally:
            await store.close()

    asyncio.run(run())


def test_a_stack_started_with_the_file_serves_those_keys_and_creates_no_other(
        make_stack: Callable[..., Stack], tmp_path: Path) -> None:
    generated = subprocess.run([sys.executable, "-m", "server.keys", "generate", "--mode", "live"], cwd=ROOT,
                               env=Stack(tmp_path).env, capture_output=True, check=True)
    live, test = generated.stdout.decode().strip(), generate_key("test")
    path = bootstrap_file(tmp_path, live, test)
    stack = make_stack(PERF_BOOTSTRAP_KEYS_FILE=str(path))
    assert stack.first_key == ""  # the operator's keys exist, so no random test key is made
    assert "bootstrap keys from" in stack.server_log() and "2 added" in stack.server_log()
    assert live not in stack.server_log() and test not in stack.server_log()
    generation = stack.post("/v1/images/generations", {"prompt": "bootstrapped"}, key=test)
    assert generation.status == 200, generation.body
    usage = stack.get("/v1/usage", key=live)
    assert usage.status == 200 and usage.json()["mode"] == "live"
    stack.stop()
    stack.start()  # the same store: nothing added twice
    assert "all present already" in stack.server_log()
    listed = stack.keys_command("list").stdout.decode().strip().splitlines()
    assert len(listed) == 2 and any("billing app" in line for line in listed)
