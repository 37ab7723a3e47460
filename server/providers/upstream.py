"""HTTP calls to one upstream under the rule that we never pay twice for one image.

    submit (a POST that may start a billable generation)
      retried  the connection was never established (DNS, refused, TLS, connect timeout): nothing
               was sent; a 429 whose delay fits the deadline: refused before any work was done
      never    anything once the request may have been received: 5xx, reset, broken body
    submit_stream (the same POST, answered as a stream: OpenAI's `stream: true`)
      retried  exactly as submit, and only before the status line: never once a byte of a 200 arrived
    get (polls and downloads change nothing upstream)
      retried  any transport failure, 429 and 5xx, until the deadline

    deadline passed → Timeout (504) · 429 beyond the deadline → ProviderUnavailable (503, retry_after)
    after-send failure → UpstreamError (502)

A stream's deadline covers the whole of it, every event included, and its bytes are capped in total
as any body is (the caller also caps each event, since only it knows where one ends).

Failures that provably charged nothing carry `retry_safe=True` (connect failures, a 429 not waited
out, and `refused_submit` for a 503 to the submit): only these let the pipeline ask a fallback.

Everything else (status → error) is the adapter's own mapping, since only it knows its upstream.
"""
from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp

from server.errors import ProviderUnavailable, Timeout, UpstreamError
from server.providers.replies import BodyTooLarge, Reply, StreamedReply, read_capped
from server.runtime.request_context import REQUEST_ID

log = logging.getLogger("perf.upstream")
T = TypeVar("T")

CONNECT_RETRIES = 2
RATE_LIMIT_RETRIES = 3
GET_ATTEMPTS = 4
DEFAULT_429_DELAY_S = 1.0


def log_call(upstream: str, what: str, status: int | str, upstream_id: str | None) -> None:
    """One line per upstream call, joining the upstream's request/task id to ours."""
    log.info("upstream=%s call=%s status=%s upstream_id=%s request_id=%s", upstream, what, status,
             upstream_id or "-", REQUEST_ID.get() or "-")


class Deadline:
    """A point on the monotonic clock by which an adapter must have answered."""

    def __init__(self, at: float) -> None:
        self.at = at

    @classmethod
    def of(cls, at: float | None, default_s: float) -> Deadline:
        return cls(at if at is not None else time.monotonic() + default_s)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    async def sleep(self, seconds: float, what: str) -> None:
        """Sleep, or raise Timeout at once when the deadline would pass first."""
        if seconds >= self.remaining():
            raise Timeout(f"{what} did not finish before the deadline")
        await asyncio.sleep(seconds)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from retry-after-ms (OpenAI's precise form) or Retry-After (seconds or HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        with contextlib.suppress(ValueError):
            if math.isfinite(delay_ms := float(raw_ms)):
                return max(0.0, delay_ms / 1000)
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        delay = float(raw)
        # "inf" and "nan" parse as floats; an upstream's nonsense must not become our crash.
        return max(0.0, delay) if math.isfinite(delay) else None
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time()) if when else None


def default_retry_delay(reply: Reply) -> float | None:
    """A 429's delay: the upstream's own, else a short default. None would mean 'do not retry'."""
    delay = retry_after(reply.headers)
    return DEFAULT_429_DELAY_S if delay is None else delay


def refused_submit(reply: Reply, upstream: str) -> ProviderUnavailable | None:
    """A 503 to a submit: the upstream says it is not taking work (overloaded, down for maintenance), so
    nothing was accepted or charged. Other 5xx may come after the work began (a 500 mid-generation, a
    502/504 from a proxy that lost the answer) and stay UpstreamErrors that are never resubmitted."""
    if reply.status != 503:
        return None
    return ProviderUnavailable(f"{upstream} is not accepting work right now (503); retry later",
                               retry_after=retry_after(reply.headers), retry_safe=True)


def account_refused(upstream: str, what: object, setting: str, **kwargs: Any) -> ProviderUnavailable:
    """Our own upstream key or account was refused: the operator's problem, never the caller's 401."""
    return ProviderUnavailable(f"{upstream} refused the gateway's account ({what}); the operator must check {setting}",
                               **kwargs)


def rate_limited(upstream: str, **kwargs: Any) -> ProviderUnavailable:
    return ProviderUnavailable(f"{upstream} is rate limiting this gateway; retry later", **kwargs)


class _NotSent(Exception):
    """The connection failed before any byte of the request could reach the upstream."""


# Room for the JSON around inline images, and the whole of any body that carries none.
BODY_OVERHEAD_BYTES = 1024 * 1024


class Upstream:
    """One upstream's session, display name, concurrency cap, and the byte cap on what it may send us.

    Every body is read counting bytes against `images` inline images of at most `image_bytes` each
    (as base64) plus BODY_OVERHEAD_BYTES, never with an unbounded read: a hostile or broken upstream
    cannot make us hold more than that, whatever its Content-Length says.
    """

    def __init__(self, name: str, session: aiohttp.ClientSession, max_concurrency: int,
                 read_timeout_s: float = 10.0, image_bytes: int = 32 * 1024 * 1024) -> None:
        self.name = name
        self.session = session
        self._slots = asyncio.Semaphore(max_concurrency)
        self._read_timeout_s = read_timeout_s
        self._image_bytes = image_bytes

    def body_cap(self, images: int) -> int:
        return BODY_OVERHEAD_BYTES + images * -(-self._image_bytes // 3) * 4

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of this upstream's in-flight slots (one generation, including its polls)."""
        async with self._slots:
            yield

    async def submit(self, url: str, *, deadline: Deadline, headers: Mapping[str, str],
                     body: bytes | Callable[[], aiohttp.FormData],
                     retry_delay: Callable[[Reply], float | None] = default_retry_delay, images: int = 0) -> Reply:
        """POST a generation; returns the reply for any status the adapter must map itself.

        `images` is how many inline images the answer may carry (it sets the body's byte cap)."""
        cap = self.body_cap(images)
        return await self._retrying(
            lambda: self._once("POST", url, deadline, cap, headers=headers, data=_payload(body)), deadline, retry_delay)

    @contextlib.asynccontextmanager
    async def submit_stream(self, url: str, *, deadline: Deadline, headers: Mapping[str, str],
                            body: bytes | Callable[[], aiohttp.FormData], max_bytes: int,
                            retry_delay: Callable[[Reply], float | None] = default_retry_delay,
                            ) -> AsyncIterator[StreamedReply]:
        """POST a generation whose answer is a stream, retried as `submit` is, before any byte of a 200.

        The whole `async with` block runs under the deadline (Timeout when it passes, whatever the block
        was doing). Any status but 200 arrives with its body read under the usual cap, for the adapter
        to map; a 200's body is read with `chunks()`, at most `max_bytes` in all."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise Timeout(f"{self.name} did not answer before the deadline")
        scope = asyncio.timeout(remaining)
        try:
            async with scope:
                opened = await self._retrying(lambda: self._open(url, headers, body), deadline, retry_delay)
                if isinstance(opened, Reply):
                    yield StreamedReply(self.name, opened, None, max_bytes)
                    return
                try:
                    yield StreamedReply(self.name, Reply(opened.status, opened.headers, b""), opened, max_bytes)
                finally:
                    opened.release()  # unread bytes (a stream left early) close the connection
        except TimeoutError:
            if scope.expired():
                raise Timeout(f"{self.name} did not finish before the deadline") from None
            raise

    async def _retrying(self, send: Callable[[], Awaitable[T]], deadline: Deadline,
                        retry_delay: Callable[[Reply], float | None]) -> T:
        """`send()` until it returns anything but a retryable 429, by the rules in the module docstring."""
        attempt = 0
        while True:
            try:
                outcome = await send()
            except _NotSent as exc:
                if attempt >= CONNECT_RETRIES:
                    raise UpstreamError(f"{self.name} could not be reached", retry_safe=True) from exc
                # Full jitter keeps a fleet of replicas from reconnecting in lockstep.
                await deadline.sleep(random.uniform(0.1, 0.4) * 2**attempt, f"{self.name} request")
                attempt += 1
                continue
            delay = retry_delay(outcome) if isinstance(outcome, Reply) and outcome.status == 429 else None
            if delay is None:
                return outcome
            if attempt >= RATE_LIMIT_RETRIES or delay >= deadline.remaining():
                # Refused before any work: nothing charged, so another deployment may be asked.
                raise rate_limited(self.name, retry_after=max(1.0, delay), retry_safe=True)
            log.info("upstream=%s 429, retrying in %.2fs", self.name, delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def _open(self, url: str, headers: Mapping[str, str],
                    body: bytes | Callable[[], aiohttp.FormData]) -> Reply | aiohttp.ClientResponse:
        """One streamed POST: a 200 still open (the caller releases it), any other status read and closed."""
        try:
            resp = await self.session.request("POST", url, allow_redirects=False, headers=headers,
                                              data=_payload(body))
        except aiohttp.ConnectionTimeoutError as exc:  # before ClientError: a connect timeout sent nothing
            raise _NotSent(str(exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise _NotSent(str(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(f"{self.name} connection failed mid-request") from exc
        if resp.status == 200:
            return resp
        try:
            return Reply(resp.status, resp.headers, await self._read(resp, self.body_cap(0)))
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(f"{self.name} connection failed mid-request") from exc
        finally:
            resp.release()

    async def get(self, url: str, *, deadline: Deadline, headers: Mapping[str, str] | None = None) -> Reply:
        """One GET that only fails after retries; the caller reads status (4xx are not retried)."""
        delay = 0.2
        for attempt in range(GET_ATTEMPTS):
            try:
                reply = await self._once("GET", url, deadline, self.body_cap(0), headers=headers or {},
                                         timeout=aiohttp.ClientTimeout(sock_read=self._read_timeout_s))
            except (_NotSent, UpstreamError) as exc:
                problem = str(exc) or type(exc).__name__
            else:
                if reply.status != 429 and reply.status < 500:
                    return reply
                problem = f"status {reply.status}"
                delay = retry_after(reply.headers) or delay
            if attempt + 1 < GET_ATTEMPTS:
                await deadline.sleep(delay * random.uniform(0.75, 1.0), f"{self.name} poll")
                delay = min(delay * 2, 5.0)
        raise UpstreamError(f"{self.name} failed repeatedly ({problem})")

    async def _once(self, method: str, url: str, deadline: Deadline, max_bytes: int, **kw: Any) -> Reply:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise Timeout(f"{self.name} did not answer before the deadline")
        scope = asyncio.timeout(remaining)
        try:
            async with scope:
                async with self.session.request(method, url, allow_redirects=False, **kw) as resp:
                    return Reply(resp.status, resp.headers, await self._read(resp, max_bytes))
        except aiohttp.ConnectionTimeoutError as exc:  # before TimeoutError: a connect timeout sent nothing
            raise _NotSent(str(exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise _NotSent(str(exc)) from exc
        except TimeoutError:
            if scope.expired():
                raise Timeout(f"{self.name} did not answer before the deadline") from None
            raise UpstreamError(f"{self.name} stopped sending its response") from None
        except (aiohttp.ClientError, OSError) as exc:
            # Reset, disconnect or a broken body once the request may have arrived.
            raise UpstreamError(f"{self.name} connection failed mid-request") from exc

    async def _read(self, resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
        try:
            return await read_capped(resp, max_bytes)
        except BodyTooLarge as exc:
            raise UpstreamError(f"{self.name} sent a body over the cap: {exc}") from None


def _payload(body: bytes | Callable[[], aiohttp.FormData]) -> bytes | aiohttp.FormData:
    # A FormData can be sent once only, hence the factory for multipart bodies.
    return body if isinstance(body, bytes) else body()


