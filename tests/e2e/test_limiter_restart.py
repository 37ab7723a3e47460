"""Limits survive a server restart (issue 7: a key with a day limit of 10 got 20 images in one day
across one restart). Real processes, stopped with SIGTERM and started again on the same data."""
from __future__ import annotations

import time

from tests.stack import Stack

GEN = "/v1/images/generations"


def generate(stack: Stack, key: str, n: int = 1):  # type: ignore[no-untyped-def]
    return stack.post(GEN, {"prompt": "p", "model": "dall-e-2", "size": "256x256", "n": n}, key=key)


def test_day_and_minute_limits_hold_across_a_restart(make_stack, backends) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(**backends)
    day_key = stack.create_key("test", "--tier", "enterprise", "--minute-limit", "100", "--day-limit", "10")
    minute_key = stack.create_key("test", "--tier", "enterprise", "--minute-limit", "10", "--day-limit", "1000")
    first_sent = time.time()
    for key, ns in ((day_key, (3, 3, 4)), (minute_key, (5, 5))):
        for n in ns:
            assert generate(stack, key, n).status == 200
    stack.stop()
    stack.start()

    refused = [generate(stack, day_key) for _ in range(10)]  # before the fix: all ten admitted
    assert all(r.status == 429 for r in refused), [r.status for r in refused]
    elapsed = time.time() - first_sent
    for reply in refused:
        error = reply.json()["error"]
        assert error["type"] == "rate_limit_exceeded" and "day" in error["message"]
        # never earlier than 24 h after the first images; at most a 10-minute bucket (and the
        # second a ledger time is rounded to) later
        assert 86_400 - elapsed <= error["retry_after"] <= 86_400 + 600 + 2
        assert reply.headers["retry-after"] == str(error["retry_after"])
        assert reply.headers["x-ratelimit-remaining-images-day"] == "0"
        assert reply.headers["x-ratelimit-remaining-images-minute"] == "90"
    usage = stack.get("/v1/usage", key=day_key).json()["totals"]
    assert (usage["requests"], usage["images"]) == (13, 10)

    refused_minute = generate(stack, minute_key)
    assert refused_minute.status == 429, refused_minute.body
    error = refused_minute.json()["error"]
    assert "minute" in error["message"]
    # a one-second bucket counts until its end + 60 s; the ledger's whole second adds at most one
    assert 60 - (time.time() - first_sent) <= error["retry_after"] <= 62
    assert refused_minute.headers["x-ratelimit-remaining-images-minute"] == "0"
    assert refused_minute.headers["x-ratelimit-remaining-images-day"] == "990"
