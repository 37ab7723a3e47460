"""One stack with an admin token and one headless browser for the console's browser tests."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console import browser as chromium
from tests.console.pages import ADMIN_TOKEN, Console
from tests.fakes.upstreams import Upstreams
from tests.stack import Stack


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reason = chromium.skip_reason()
    if reason:
        pytest.skip(reason)
    # A fake OpenAI upstream, so live keys are billed and their upstream costs land in the ledger too.
    with Upstreams(("openai",)) as upstreams:
        running = Stack(tmp_path_factory.mktemp("console-stack"),
                        env_overrides={**upstreams.env(), "PERF_ADMIN_TOKEN": ADMIN_TOKEN}).start()
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each page's screenshot goes; the path is printed so a person can look at them."""
    folder = tmp_path_factory.mktemp("console-screenshots")
    print(f"\nconsole screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def console(console_stack: Stack, screenshots: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    downloads = tmp_path_factory.mktemp("downloads")
    driver, profile = chromium.start_browser(downloads)
    try:
        yield Console(driver, console_stack, screenshots, downloads)
    finally:
        chromium.stop_browser(driver, profile)
