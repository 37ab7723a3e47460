"""The webhook retry schedule and body: pure functions over a job's row."""
from __future__ import annotations

import time

import orjson
from standardwebhooks import Webhook

from perf.images.v1 import image_service_pb2 as pb
from server.database.job_records import PENDING, SUCCEEDED, JobRow
from server.jobs.settings import JobSettings
from server.jobs.signing import new_secret, signed_headers
from server.jobs.webhooks import next_attempt, webhook_body

SETTINGS = JobSettings(webhook_retry_base_s=5, webhook_retry_for_s=24 * 3600)


def test_backoff_doubles_to_an_hour_and_stops_after_24_hours() -> None:
    done = 1_000_000.0
    delays = [next_attempt(n, done, done, SETTINGS) for n in range(1, 14)]
    assert [d - done for d in delays[:5] if d is not None] == [5, 10, 20, 40, 80]
    assert all(d is not None and d - done == 3600 for d in delays[10:])  # 5 * 2^10 > 3600: capped
    assert next_attempt(3, done, done + 24 * 3600 - 10, SETTINGS) is None  # the window is over


def test_the_body_is_the_same_on_every_attempt_and_signs_verifiably() -> None:
    result = pb.GenerateImagesResponse(created=5, data=[pb.Image(url="https://x/y.png")],
                                       perf=pb.Perf(request_id="req_1", cost_usd=0.02))
    row = JobRow.queued(id="job_1", key_id="key_1", kind="generation", model="dall-e-2", pool="sandbox",
                        request=b"", request_id="req_1", reservation_id="r", spend_hold="", created_at=1,
                        webhook_url="https://example.com/h", webhook_id="msg_1")
    done = JobRow(**{**row.__dict__, "status": SUCCEEDED, "result": result.SerializeToString(), "completed_at": 9,
                     "webhook_status": PENDING})
    retried = JobRow(**{**done.__dict__, "webhook_attempts": 3, "webhook_last_status": 500})
    body = webhook_body(done)
    assert body == webhook_body(retried)
    payload = orjson.loads(body)
    assert payload["type"] == "image.job.succeeded" and payload["timestamp"] == "1970-01-01T00:00:09Z"
    assert payload["data"]["data"] == [{"url": "https://x/y.png"}] and payload["data"]["perf"]["cost_usd"] == 0.02
    secret = new_secret()
    headers = signed_headers(secret, "msg_1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers)["data"]["id"] == "job_1"
