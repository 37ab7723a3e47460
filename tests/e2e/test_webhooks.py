"""Signed webhooks of finished jobs, through the real server to a receiver on a loopback port: verified with
the standardwebhooks library, retried with the same webhook-id after a 500, the delivery state on the
job, the SSRF rules on webhook_url, and the key command that rotates the secret."""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

from tests import openapi_check
from tests.fakes.server import FakeServer
from tests.stack import Stack

JOBS = "/v1/images/jobs"


@dataclass
class Receiver:
    """Answers each webhook with the next status of `answers` (then 200), recording what arrived."""

    answers: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    server: FakeServer | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(({k.lower(): v for k, v in request.headers.items()}, await request.read()))
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    @property
    def url(self) -> str:
        assert self.server is not None and self.server.base_url is not None
        return self.server.base_url + "/hooks/images"


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    hooks = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/images", hooks.handle)
    hooks.server = FakeServer(app)
    hooks.server.start()
    try:
        yield hooks
    finally:
        hooks.server.stop()
    # Every delivery is what the document's `webhooks` section promises (headers and body).
    for headers, body in hooks.received:
        openapi_check.check_webhook("imageJobFinished", headers, body)


@pytest.fixture()
def hooked(make_stack, receiver: Receiver) -> Stack:  # type: ignore[no-untyped-def]
    host = receiver.url.split("://", 1)[1].split("/", 1)[0]
    return make_stack(PERF_INSECURE_HTTP_HOSTS=host, PERF_WEBHOOK_RETRY_BASE_SECONDS="1",  # type: ignore[no-any-return]
                      PERF_JOB_POLL_SECONDS="0.05")


def key_with_secret(stack: Stack) -> tuple[str, str, str]:
    """(API key, its id, its webhook secret) from the key command's output."""
    lines = stack.keys_command("create", "--mode", "test", "--tier", "enterprise").stdout.decode().splitlines()
    secret = next(line.split()[-1] for line in lines if line.startswith("webhook secret "))
    return lines[-1], lines[0].split()[1], secret


def job_when(stack: Stack, job_id: str, key: str, webhook_status: str, attempts: int | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = stack.get(f"{JOBS}/{job_id}", key=key).json()
        hook = job.get("webhook", {})
        if hook.get("status") == webhook_status and attempts in (None, hook.get("attempts")):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id}'s webhook never became {webhook_status}: {job}")


def test_the_webhook_arrives_once_signed(hooked: Stack, receiver: Receiver) -> None:
    key, _, secret = key_with_secret(hooked)
    assert secret.startswith("whsec_")
    submitted = hooked.post(JOBS, {"prompt": "a harbour", "model": "dall-e-2", "webhook_url": receiver.url}, key=key)
    assert submitted.status == 202, submitted.body
    job_id = submitted.json()["id"]
    assert submitted.json()["webhook"]["status"] == "pending"
    job = job_when(hooked, job_id, key, "delivered")
    assert job["webhook"] == {"url": receiver.url, "status": "delivered", "attempts": 1, "last_status": 200}
    time.sleep(0.5)
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "image.job.succeeded" and payload["data"]["id"] == job_id
    assert payload["data"]["status"] == "succeeded" and payload["data"]["data"] == job["data"]
    assert payload["data"]["perf"] == job["perf"]
    assert headers["webhook-signature"].startswith("v1,") and headers["webhook-id"].startswith("msg_")
    with pytest.raises(WebhookVerificationError):  # another key's secret does not verify it
        Webhook(key_with_secret(hooked)[2]).verify(body, headers)


def test_a_500_is_retried_with_the_same_webhook_id(hooked: Stack, receiver: Receiver) -> None:
    key, _, secret = key_with_secret(hooked)
    receiver.answers = [500]
    job_id = hooked.post(JOBS, {"prompt": "retried", "model": "dall-e-2", "webhook_url": receiver.url},
                         key=key).json()["id"]
    # Between the attempts the job shows the failure and that another attempt is coming.
    failed_once = job_when(hooked, job_id, key, "pending", attempts=1)
    assert failed_once["webhook"]["last_status"] == 500 and failed_once["status"] == "succeeded"
    job = job_when(hooked, job_id, key, "delivered")
    assert job["webhook"]["attempts"] == 2 and job["webhook"]["last_status"] == 200
    time.sleep(0.5)
    assert len(receiver.received) == 2
    (first, first_body), (second, second_body) = receiver.received
    assert first["webhook-id"] == second["webhook-id"] and first_body == second_body
    for headers, body in receiver.received:
        assert Webhook(secret).verify(body, headers)["data"]["id"] == job_id


def test_a_rotated_secret_signs_from_then_on(hooked: Stack, receiver: Receiver) -> None:
    key, key_id, old = key_with_secret(hooked)
    rotated = hooked.keys_command("webhook-secret", key_id)
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.decode().splitlines()[-1]
    assert new.startswith("whsec_") and new != old
    job_id = hooked.post(JOBS, {"prompt": "rotated", "model": "dall-e-2", "webhook_url": receiver.url},
                         key=key).json()["id"]
    job_when(hooked, job_id, key, "delivered")
    headers, body = receiver.received[-1]
    assert Webhook(new).verify(body, headers)["data"]["id"] == job_id
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)


@pytest.mark.parametrize("url", ["http://example.com/hook", "https://127.0.0.1/hook", "https://10.0.0.8:8443/x",
                                 "https://[::1]/x", "https://user:pw@example.com/x", "ftp://example.com/x",
                                 "not a url", "https://169.254.169.254/latest/meta-data",
                                 # no URL a receiver has (and a NUL PostgreSQL could not store: it was a 500)
                                 "https://exa mple.com/x", "https://example.com/\u0000", "https://exa%20mple.com/x",
                                 "https://bücher.example/x"])
def test_webhook_urls_follow_the_download_rules(stack: Stack, test_key: str, url: str) -> None:
    reply = stack.post(JOBS, {"prompt": "p", "model": "dall-e-2", "webhook_url": url}, key=test_key)
    assert reply.status == 400, reply.body
    assert reply.json()["error"]["param"] == "webhook_url"


def test_a_webhook_needs_the_key_s_secret(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack()
    # The first key is made at start-up, by no key command: it has no webhook secret until one is made.
    assert stack.first_key
    body = {"prompt": "p", "model": "dall-e-2", "webhook_url": "https://example.com/hook"}
    reply = stack.post(JOBS, body, key=stack.first_key)
    assert reply.status == 400 and reply.json()["error"]["param"] == "webhook_url"
    assert "webhook-secret" in reply.json()["error"]["message"]
    key_id = stack.keys_command("list").stdout.decode().split("\t", 1)[0]
    assert stack.keys_command("webhook-secret", key_id).returncode == 0
    assert stack.post(JOBS, body, key=stack.first_key).status == 202


def test_a_pending_delivery_survives_a_restart(make_stack, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    host = receiver.url.split("://", 1)[1].split("/", 1)[0]
    env = {"PERF_INSECURE_HTTP_HOSTS": host, "PERF_WEBHOOK_RETRY_BASE_SECONDS": "3", "PERF_JOB_POLL_SECONDS": "0.05"}
    stack = make_stack(**env)
    key, _, secret = key_with_secret(stack)
    receiver.answers = [503]
    job_id = stack.post(JOBS, {"prompt": "durable", "model": "dall-e-2", "webhook_url": receiver.url},
                        key=key).json()["id"]
    job_when(stack, job_id, key, "pending", attempts=1)
    stack.stop()  # the next attempt is due in 3 s: it is the store's to remember, not this process's
    again = Stack(stack.data_dir, env_overrides=stack.env_overrides).start()
    try:
        job = job_when(again, job_id, key, "delivered")
    finally:
        again.stop()
    assert job["webhook"]["attempts"] == 2 and len(receiver.received) == 2
    (first, _), (second, body) = receiver.received
    assert first["webhook-id"] == second["webhook-id"]
    assert Webhook(secret).verify(body, second)["data"]["id"] == job_id
