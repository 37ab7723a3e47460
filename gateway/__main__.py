"""`python -m gateway`: serve the public REST API in front of the gRPC server."""
from __future__ import annotations

import logging

from aiohttp import web

from gateway.app import build_app
from gateway.config import GatewaySettings


def main() -> None:
    settings = GatewaySettings.from_env()
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # handler_cancellation: a client that hangs up cancels its handler, and with it the gRPC call.
    web.run_app(build_app(settings), host=settings.http_host, port=settings.http_port, handler_cancellation=True,
                shutdown_timeout=settings.shutdown_timeout_s,
                access_log=logging.getLogger("aiohttp.access") if settings.access_log else None,
                print=lambda msg: logging.getLogger("perf.gateway").info("%s", msg))


if __name__ == "__main__":
    main()
