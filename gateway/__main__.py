"""`python -m gateway`: serve the public REST API in front of the gRPC server.

SIGTERM (or SIGINT) stops listening at once, closes idle connections, lets in-flight requests
finish for up to PERF_SHUTDOWN_GRACE_SECONDS, then closes the gRPC channel: what web.run_app does,
with our GatewayRunner so that protocol errors leave as the JSON error (gateway/protocol.py).
"""
from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from contract import allocator, collector, event_loop
from contract.logs import configure_logging
from gateway.app import build_app
from gateway.config import GatewaySettings
from gateway.protocol import GatewayRunner

log = logging.getLogger("perf.gateway")


async def serve(settings: GatewaySettings) -> None:
    # handler_cancellation: a client that hangs up cancels its handler, and with it the gRPC call.
    # Access lines come from our own middleware (gateway/observe.py, PERF_ACCESS_LOG), not aiohttp's.
    runner = GatewayRunner(build_app(settings), handler_cancellation=True, shutdown_timeout=settings.shutdown_timeout_s,
                           keepalive_timeout=settings.keepalive_timeout_s, access_log=None)
    await runner.setup()
    trimmer = asyncio.create_task(allocator.trim_forever())
    try:
        site = web.TCPSite(runner, settings.http_host, settings.http_port, backlog=settings.http_backlog,
                           reuse_port=settings.reuse_port or None)
        await site.start()
        log.info("gateway listening on %s", site.name)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        log.info("stopping: in-flight requests get %.0fs", settings.shutdown_timeout_s)
    finally:
        trimmer.cancel()
        await runner.cleanup()


def main() -> None:
    allocator.tune()  # before the first image buffer (contract/allocator.py)
    settings = GatewaySettings.from_env()
    configure_logging(settings.log_format, "INFO")
    collector.tune()  # after the imports and settings: they live as long as the process
    event_loop.run(serve(settings))


if __name__ == "__main__":
    main()
