"""The admin token check, the failure limiter and page cursors: pure parts of server/admin/, tested directly."""
from __future__ import annotations

import pytest

from server.admin.auth import AdminGate, AdminToken, FailureLimiter, peer_host
from server.admin.cursors import decode_cursor, encode_cursor, page_limit
from server.errors import AuthenticationFailed, InvalidRequest, NotFound, RateLimitExceeded

TOKEN = "unit-admin-token-0123456789"
PEPPER = b"p" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_matches_only_itself() -> None:
    token = AdminToken(TOKEN, PEPPER)
    assert token.matches(TOKEN)
    for offered in (None, "", TOKEN[:-1], TOKEN + " ", TOKEN.upper(), "pk_test_" + "a" * 40):
        assert not token.matches(offered)


def test_weak_or_key_shaped_tokens_refuse_to_start() -> None:
    for bad in ("short", "has a space in it here", "pk_live_" + "a" * 40, "ünïcödé-token-long-enough"):
        with pytest.raises(ValueError):
            AdminToken(bad, PEPPER)


def test_fingerprint_names_the_token_without_revealing_it() -> None:
    first, again = AdminToken(TOKEN, PEPPER), AdminToken(TOKEN, PEPPER)
    other = AdminToken(TOKEN + "2", PEPPER)
    assert first.fingerprint == again.fingerprint != other.fingerprint
    # Keyed by the instance's pepper: the log alone cannot check a guess of the token.
    assert AdminToken(TOKEN, b"q" * 32).fingerprint != first.fingerprint
    assert TOKEN not in first.fingerprint and first.fingerprint.startswith("adm_")


def test_failures_lock_an_address_out_for_the_rest_of_the_window() -> None:
    clock = Clock()
    limiter = FailureLimiter(limit=3, window_s=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") is None
        limiter.failed("10.0.0.1")
        clock.now += 10
    assert limiter.retry_after("10.0.0.1") == pytest.approx(30)  # the first failure leaves at 1060
    assert limiter.retry_after("10.0.0.2") is None
    clock.now += 30
    assert limiter.retry_after("10.0.0.1") is None  # one slot free again
    limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == pytest.approx(10)


def test_limiter_memory_is_bounded() -> None:
    limiter = FailureLimiter(limit=2, max_addresses=100, clock=Clock())
    for i in range(1000):
        limiter.failed(f"addr{i}")
        limiter.failed(f"addr{i}")
        limiter.failed(f"addr{i}")
    assert len(limiter._failures) == 100 and all(len(d) <= 2 for d in limiter._failures.values())
    assert limiter.retry_after("addr999") is not None and limiter.retry_after("addr0") is None


def test_gate_order_not_configured_then_locked_then_token() -> None:
    with pytest.raises(NotFound):
        AdminGate(None, FailureLimiter()).check(f"Bearer {TOKEN}", "a")
    gate = AdminGate(AdminToken(TOKEN, PEPPER), FailureLimiter(limit=2, clock=Clock()))
    assert gate.check(f"Bearer {TOKEN}", "a").address == "a"
    assert gate.check(f"bearer  {TOKEN} ", "a").actor.startswith("adm_")
    for header in (None, f"Basic {TOKEN}"):
        with pytest.raises(AuthenticationFailed):
            gate.check(header, "a")
    with pytest.raises(RateLimitExceeded) as locked:
        gate.check(f"Bearer {TOKEN}", "a")  # locked out: the right token is not even looked at
    assert locked.value.retry_after is not None and 0 < locked.value.retry_after <= 60
    assert gate.check(f"Bearer {TOKEN}", "b").address == "b"


def test_peer_host_drops_the_port() -> None:
    assert peer_host("ipv4:10.1.2.3:51234") == "10.1.2.3"
    assert peer_host("ipv6:[::1]:51234") == "::1"
    assert peer_host("unix:/tmp/sock") == "unix:/tmp/sock"


def test_cursor_round_trip_and_refusals() -> None:
    cursor = encode_cursor("g", 1796155751, "led_018f3a2b4c5d6e7f8a9b0c1d")
    assert decode_cursor("g", cursor) == (1796155751, "led_018f3a2b4c5d6e7f8a9b0c1d")
    for bad in ("", "!!!", "bm90LWEtY3Vyc29y", encode_cursor("a", 1, "aud_1"), cursor + "A" * 300,
                encode_cursor("g", 1, "x'; DROP TABLE usage_ledger; --")):
        with pytest.raises(InvalidRequest) as refused:
            decode_cursor("g", bad)
        assert refused.value.param == "cursor"


def test_page_limit() -> None:
    assert page_limit(0, 50, 200) == 50 and page_limit(200, 50, 200) == 200
    for bad in (-1, 201):
        with pytest.raises(InvalidRequest):
            page_limit(bad, 50, 200)
