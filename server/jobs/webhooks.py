"""Delivers finished jobs to their webhook_url: signed (signing.py), retried, durable, at least once.

Any replica sends any due delivery: it claims one in the store (pushing its next attempt past this one's
timeout, so no other replica sends it meanwhile), POSTs it, and writes what happened:

    2xx                     → delivered
    anything else, or none  → retried after base * 2^(attempts-1) s (at most an hour between attempts),
                              for PERF_WEBHOOK_RETRY_SECONDS (24 h) from the job's completion; then failed

The body is the same on every attempt, and so is `webhook-id` (receivers deduplicate on it); only
`webhook-timestamp` and the signature over it change. Redirects are not followed; the session's
resolver refuses private addresses (webhook_target.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time

import aiohttp
import orjson

from contract.job_json import job_json
from server.database import Store
from server.database.job_records import DELIVERED, GAVE_UP, PENDING, JobRow
from server.jobs.render import job_message
from server.jobs.settings import JobSettings
from server.jobs.signing import signed_headers
from server.providers.fetch import GuardedResolver

log = logging.getLogger("perf.jobs")
MAX_BACKOFF_S = 3600.0
CONCURRENT_DELIVERIES = 8


def webhook_body(row: JobRow) -> bytes:
    """Standard Webhooks' payload shape: the event type, when it happened, and the job as GET shows it."""
    job = job_json(job_message(row))
    job.pop("webhook", None)  # its own delivery state would differ between attempts
    when = dt.datetime.fromtimestamp(row.completed_at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return orjson.dumps({"type": f"image.job.{row.status}", "timestamp": when, "data": job})


def next_attempt(attempts: int, completed_at: float, now: float, settings: JobSettings) -> float | None:
    """When to try again after `attempts` failed attempts; None once the retry window is over."""
    delay = min(settings.webhook_retry_base_s * 2 ** (attempts - 1), MAX_BACKOFF_S)
    at = now + delay
    return None if at > completed_at + settings.webhook_retry_for_s else at


class WebhookSender:
    def __init__(self, store: Store, settings: JobSettings, insecure_hosts: frozenset[str],
                 due: asyncio.Event) -> None:
        self._store = store
        self._settings = settings
        self._insecure = insecure_hosts
        self._due = due

    async def run_forever(self) -> None:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._insecure), limit=CONCURRENT_DELIVERIES)
        timeout = aiohttp.ClientTimeout(total=self._settings.webhook_timeout_s)
        slots = asyncio.Semaphore(CONCURRENT_DELIVERIES)
        sending: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            try:
                while True:
                    await slots.acquire()
                    row = None
                    try:
                        now = time.time()
                        row = await self._store.claim_webhook(now, now + self._settings.webhook_timeout_s + 30)
                    except Exception:
                        log.exception("could not claim a webhook delivery")
                    if row is None:
                        slots.release()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._due.wait(), self._settings.poll_s)
                        self._due.clear()
                        continue
                    task = asyncio.create_task(self._attempt(session, row))
                    sending.add(task)
                    task.add_done_callback(sending.discard)
                    task.add_done_callback(lambda _: slots.release())
            finally:
                for task in sending:
                    task.cancel()
                await asyncio.gather(*sending, return_exceptions=True)

    async def _attempt(self, session: aiohttp.ClientSession, row: JobRow) -> None:
        status = 0
        try:
            secret = await self._store.get_webhook_secret(row.key_id)
            if secret is None:
                raise RuntimeError(f"key {row.key_id} has no webhook secret any more")
            body = webhook_body(row)
            headers = signed_headers(secret, row.webhook_id, int(time.time()), body)
            async with session.post(row.webhook_url, data=body, headers=headers, allow_redirects=False) as reply:
                status = reply.status
        except Exception as error:  # refused address, connection, timeout: a failed attempt like a 500
            log.warning("webhook for job %s not delivered: %r", row.id, error)
        now = time.time()
        attempts = row.webhook_attempts + 1
        if 200 <= status < 300:
            outcome, at = DELIVERED, 0.0
        else:
            retry = next_attempt(attempts, row.completed_at, now, self._settings)
            outcome, at = (PENDING, retry) if retry is not None else (GAVE_UP, 0.0)
        log.info("webhook for job %s: attempt %d answered %s → %s", row.id, attempts, status or "nothing", outcome)
        try:
            await self._store.webhook_attempted(row.id, outcome, status, at)
        except Exception:  # its claim lapses and the delivery is tried again: at least once
            log.exception("could not record the webhook attempt for job %s", row.id)
