"""Driving the console as a person would: sign in, open a page, wait for it, read what it shows."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.stack import Response, Stack, http

ADMIN_TOKEN = "console-test-admin-token-5f0c2a9e"
WAIT_S = 15.0


class Console:
    def __init__(self, driver: Any, stack: Stack, screenshots: Path, downloads: Path) -> None:
        self.driver = driver
        self.downloads = downloads
        self.stack = stack
        self.screenshots = screenshots

    # The admin API, as automation (not the browser) calls it.
    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Response:
        return http(method, self.stack.base_url + "/admin/v1/" + path, body,
                    {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"})

    def sign_in(self, token: str = ADMIN_TOKEN) -> None:
        self.driver.get(self.stack.base_url + "/console/")
        field = self.wait(lambda: self.visible("#token"))
        field.clear()
        field.send_keys(token)
        self.css("#sign-in-form button").click()

    def open(self, page: str, ready: str) -> Any:
        """Load the console afresh at #/page and wait until `ready` (a CSS selector) shows.

        Through about:blank: going to the same URL with another #fragment would not reload the page, and
        the previous page's elements could answer for the new one. The tab keeps its sessionStorage."""
        self.driver.get("about:blank")
        self.driver.get(f"{self.stack.base_url}/console/#/{page}")
        if self.visible("#sign-in"):
            self.sign_in()  # lands on the overview: go to the page asked for (the token stays in the tab)
            self.wait(lambda: self.visible("#nav"))
            self.driver.get("about:blank")
            self.driver.get(f"{self.stack.base_url}/console/#/{page}")
        return self.wait(lambda: self.visible(ready))

    def css(self, selector: str) -> Any:
        return self.driver.find_element("css selector", selector)

    def all(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements("css selector", selector))

    def visible(self, selector: str) -> Any:
        found = [e for e in self.all(selector) if e.is_displayed()]
        return found[0] if found else None

    def text(self, selector: str) -> str:
        return str(self.wait(lambda: self.visible(selector)).text)

    def text_becomes(self, selector: str, check: Callable[[str], bool]) -> str:
        """The text of `selector` once `check` accepts it: actions answer asynchronously, and until they do
        the element may still show what it said before."""
        return str(self.wait(lambda: (e := self.visible(selector)) is not None and check(e.text) and e.text))

    def wait(self, probe: Callable[[], Any], timeout: float = WAIT_S) -> Any:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = probe()
                if value:
                    return value
            except Exception as error:  # a stale element mid-render: look again
                last = error
            time.sleep(0.05)
        self.shot("timeout")
        raise AssertionError(f"timed out waiting in the console (last error: {last!r}); page text:\n"
                             + self.driver.find_element("tag name", "body").text[:2000])

    def shot(self, name: str) -> Path:
        path = self.screenshots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def script(self, source: str, *args: Any) -> Any:
        return self.driver.execute_script(source, *args)

    def download(self, link: Any, name: str) -> str:
        """Click a download link and return the text of the file the browser saved."""
        target = self.downloads / name
        link.click()
        self.wait(lambda: target.exists() and not (self.downloads / (name + ".crdownload")).exists())
        return target.read_text(encoding="utf-8")

    def stray_values(self) -> list[str]:
        """Lines of the page that are a JavaScript value printed by mistake (null, undefined, NaN…)."""
        lines = self.driver.find_element("css selector", "#page").text.splitlines()
        return [line for line in lines if line.strip() in ("null", "undefined", "NaN", "[object Object]", "$NaN")]

    def csp_violations(self) -> list[str]:
        """Browser log lines about the Content-Security-Policy (reading the log empties it)."""
        return [entry["message"] for entry in self.driver.get_log("browser")
                if "Content Security Policy" in entry["message"] or "Content-Security-Policy" in entry["message"]]

    def image_loaded(self, element: Any) -> bool:
        return bool(self.script("return arguments[0].complete && arguments[0].naturalWidth > 0;", element))

    def json_of(self, selector: str) -> Any:
        return json.loads(self.text(selector))
