"""The bucket goes away mid-run: generations get 503 provider_unavailable and bill nothing, readiness
turns NOT_SERVING, and both recover when the store is back. A live key against the fake OpenAI, so
"billed" means real money (test keys are never billed, which would prove nothing)."""
from __future__ import annotations

import time
from collections.abc import Callable

from tests.fakes.upstreams import Upstreams
from tests.seaweed import Seaweed
from tests.stack import Stack, http

GEN = "/v1/images/generations"
BODY = {"prompt": "a lighthouse at dusk", "model": "dall-e-2", "size": "512x512", "n": 2}
PRICE = 0.018  # dall-e-2 512x512, per image


def wait_for(check: Callable[[], bool], timeout_s: float = 15) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def ready(stack: Stack) -> int:
    return http("GET", stack.base_url + "/readyz", timeout=5).status


def test_store_down_gives_503_bills_nothing_and_recovers(own_seaweed: Seaweed, own_bucket: str,
                                                         make_stack) -> None:  # type: ignore[no-untyped-def]
    with Upstreams(("openai",)) as upstreams:
        stack = make_stack(**own_seaweed.env(own_bucket), **upstreams.env(), PERF_HEALTH_INTERVAL_SECONDS="0.5")
        # Room for exactly two images a minute: a reservation the failure did not give back would show.
        key = stack.create_key("live", "--tier", "enterprise", "--minute-limit", "2", "--day-limit", "100")
        earlier = stack.post(GEN, {**BODY, "n": 1}, key=stack.first_key)  # a test key: its own counters
        assert earlier.status == 200, earlier.body
        earlier_url = earlier.json()["data"][0]["url"]
        own_seaweed.kill()

        unreadable = stack.get(earlier_url)
        assert unreadable.status == 503 and unreadable.json()["error"]["type"] == "provider_unavailable"

        failed = stack.post(GEN, BODY, key=key)
        assert failed.status == 503, failed.body
        error = failed.json()["error"]
        assert error["type"] == "provider_unavailable"
        assert "image store" in error["message"]
        assert upstreams["openai"].charges.images() == 2  # the upstream did make (and charge us for) them
        assert wait_for(lambda: ready(stack) == 503)
        usage = stack.get("/v1/usage", key=key).json()["totals"]
        assert usage == {"requests": 1, "failed_requests": 1, "images": 0, "cost_usd": 0, "billed_usd": 0}

        own_seaweed.start()
        assert wait_for(lambda: ready(stack) == 200)
        recovered = stack.post(GEN, BODY, key=key)  # both images of the minute are still available
        assert recovered.status == 200, recovered.body
        for item in recovered.json()["data"]:
            image = stack.get(item["url"])
            assert image.status == 200 and image.body.startswith(b"\x89PNG")
        assert stack.get(earlier_url).status == 200  # stored before the outage, readable after it
        usage = stack.get("/v1/usage", key=key).json()["totals"]
        assert (usage["requests"], usage["failed_requests"], usage["images"]) == (2, 1, 2)
        assert usage["billed_usd"] == usage["cost_usd"] == round(2 * PRICE, 6)
