"""`python -m tests.fakes.serve openai --port 0 [--latency 2] [--detail 0.36]`: one fake in its own process.

For benchmarks, where a fake sharing the load generator's process (and GIL) would distort the figures.
Prints the base URL on the first line of stdout once it is listening; stops on SIGTERM or SIGINT.
"""
from __future__ import annotations

import argparse
import asyncio
import signal

from aiohttp import web

from .knobs import ChargeLog, Knobs
from .upstreams import FACTORIES


async def serve(name: str, port: int, knobs: Knobs) -> None:
    runner = web.AppRunner(FACTORIES[name](knobs, ChargeLog()), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    print(f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name", choices=sorted(FACTORIES))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--detail", type=float, default=0.0, help="share of noisy rows in each image")
    args = parser.parse_args()
    asyncio.run(serve(args.name, args.port, Knobs(latency_s=args.latency, image_detail=args.detail)))


if __name__ == "__main__":
    main()
