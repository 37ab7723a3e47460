"""Fires many HTTP requests at once (asyncio + aiohttp), for tests about exactness under concurrency."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def fire(requests: list[tuple[str, dict[str, Any]]], key: str) -> list[Reply]:
    """POST every (url, json body) at the same time; replies in the same order."""
    async def run() -> list[Reply]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, headers={"Authorization": f"Bearer {key}"}) as session:
            async def one(url: str, body: dict[str, Any]) -> Reply:
                async with session.post(url, json=body) as response:
                    return Reply(response.status, {k.lower(): v for k, v in response.headers.items()},
                                 await response.json())

            return list(await asyncio.gather(*(one(url, body) for url, body in requests)))

    return asyncio.run(run())
