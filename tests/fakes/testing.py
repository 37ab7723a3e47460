"""Helpers for tests that drive a fake over a real socket: ``fake(...)`` and the ``sync`` decorator.

``async with fake(openai.make_app, rate_limit_next=1) as c`` builds fresh knobs, a charge log and the
app, serves it on loopback and yields a ``Ctx`` with the base URL and an aiohttp client session.
``@sync`` lets a plain pytest test be an ``async def`` (pytest-asyncio is not installed).
"""
from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from .knobs import ChargeLog, Knobs
from .server import running

Factory = Callable[[Knobs, ChargeLog], web.Application]


def sync(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))
    return run


@dataclass
class Ctx:
    url: str
    http: aiohttp.ClientSession
    knobs: Knobs
    charges: ChargeLog
    app: web.Application

    def post(self, path: str, **kw: Any) -> Any:
        return self.http.post(self.url + path, **kw)


@asynccontextmanager
async def fake(factory: Factory, **knob_values: Any) -> AsyncIterator[Ctx]:
    knobs, charges = Knobs(**knob_values), ChargeLog()
    app = factory(knobs, charges)
    async with running(app) as url, aiohttp.ClientSession() as http:
        yield Ctx(url, http, knobs, charges, app)
