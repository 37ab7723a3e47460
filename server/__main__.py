"""`python -m server`: run the gRPC ImageService on the settings from the environment."""
from __future__ import annotations

import logging

from contract import allocator, event_loop
from server.runtime.app import serve
from server.runtime.config import ServerSettings


def main() -> None:
    allocator.tune()  # before the first image buffer (contract/allocator.py)
    settings = ServerSettings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    event_loop.run(serve(settings))


if __name__ == "__main__":
    main()
