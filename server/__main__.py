"""`python -m server`: run the gRPC ImageService on the settings from the environment."""
from __future__ import annotations

from contract import allocator, collector, event_loop
from contract.logs import configure_logging
from server.runtime.app import serve
from server.runtime.config import ServerSettings


def main() -> None:
    allocator.tune()  # before the first image buffer (contract/allocator.py)
    settings = ServerSettings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    collector.tune()  # after the imports and settings: they live as long as the process
    event_loop.run(serve(settings))


if __name__ == "__main__":
    main()
