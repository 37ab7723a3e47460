"""The baseline: a bare aiohttp handler answering with a canned body of the same size as the real one.

Run as `python -m bench.bare_app PORT BODY_FILE`; it reads the JSON request (as the gateway does)
and returns the file's bytes, so the difference to the real stack is our gateway + gRPC + server.
"""
from __future__ import annotations

import sys

from aiohttp import web


def main() -> None:
    port, body_file = int(sys.argv[1]), sys.argv[2]

    async def handler(request: web.Request) -> web.Response:
        await request.json()
        with open(body_file, "rb") as fh:  # re-read: the canned body changes between cells
            return web.Response(body=fh.read(), content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/images/generations", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
