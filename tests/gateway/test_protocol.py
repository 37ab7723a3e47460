"""Parser refusals → public errors, and the settings the slow-client limits read (pure parts)."""
from __future__ import annotations

import pytest
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, BadStatusLine, InvalidHeader, LineTooLong

from gateway.config import GatewaySettings
from gateway.protocol import MAX_HEADER_BYTES, MAX_URL_BYTES, parser_error

SECRET = "s3cret-input"


@pytest.mark.parametrize(("exc", "status"), [
    (LineTooLong(SECRET.encode(), MAX_HEADER_BYTES), 431),
    (LineTooLong(SECRET.encode(), MAX_URL_BYTES), 414),
    (BadHttpMessage("Too many headers received"), 431),
    (BadHttpMethod(f"{SECRET} / HTTP/1.1"), 501),
    (BadHttpMethod(error=f"Expected space after method:\n\n  b'GET{SECRET}'\n     ^"), 400),
    (BadStatusLine(f"GET /{SECRET} HTTP/9.9"), 400),
    (InvalidHeader(SECRET.encode()), 400),
    (BadHttpMessage(f"Invalid header value char:\n\n  b'{SECRET}'\n   ^"), 400),
    (None, 400),
])
def test_parser_refusals_map_to_a_status_and_never_quote_the_input(exc: Exception | None, status: int) -> None:
    error = parser_error(exc)
    assert (error.status, error.type) == (status, "invalid_request")
    assert SECRET not in error.message


def test_the_two_limits_differ_so_a_long_url_is_told_from_a_long_header() -> None:
    assert MAX_URL_BYTES != MAX_HEADER_BYTES


def test_slow_client_settings_defaults_and_variables() -> None:
    defaults = GatewaySettings()
    assert (defaults.body_read_timeout_s, defaults.keepalive_timeout_s) == (30.0, 75.0)
    configured = GatewaySettings.from_env({"PERF_BODY_READ_TIMEOUT_SECONDS": "5",
                                           "PERF_KEEPALIVE_TIMEOUT_SECONDS": "9.5"})
    assert (configured.body_read_timeout_s, configured.keepalive_timeout_s) == (5.0, 9.5)


def test_new_request_ids_have_the_documented_shape_and_use_the_whole_alphabet() -> None:
    from collections import Counter

    from contract.request_ids import REQUEST_ID, new_request_id

    ids = [new_request_id() for _ in range(2000)]
    assert all(REQUEST_ID.fullmatch(i) and len(i) == len("req_img_") + 24 for i in ids)
    assert len(set(ids)) == len(ids)
    seen = Counter(c for i in ids for c in i[len("req_img_"):])
    # 48,000 characters over 62 symbols: each about 774 times; a skewed or truncated spelling shows.
    assert len(seen) == 62 and min(seen.values()) > 600 and max(seen.values()) < 950
    # The last character is as random as the first (a too-small draw would leave it mostly "a").
    assert len({i[-1] for i in ids}) == 62
