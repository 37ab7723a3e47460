"""All eight fake upstreams at once, each on its own loopback port in a background thread, plus the
environment that points a real server at them.

``with Upstreams() as up:`` starts them; ``up.env()`` holds the keys, base URLs and the
PERF_INSECURE_HTTP_HOSTS entries a server needs; ``up["bfl"].knobs`` / ``.charges`` / ``.app`` let a
test steer one fake and count what it billed; ``up.reset()`` restores fresh knobs between tests.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from aiohttp import web

from . import bfl, fal, google, ideogram, openai, replicate, stability, together
from .base import seen
from .knobs import ChargeLog, Knobs
from .server import FakeServer

FACTORIES: dict[str, Callable[[Knobs, ChargeLog], web.Application]] = {
    "openai": openai.make_app, "stability": stability.make_app, "bfl": bfl.make_app,
    "ideogram": ideogram.make_app, "google": google.make_app,
    # Multi-model hosts: the fallbacks of models whose first deployment is BFL's.
    "fal": fal.make_app, "replicate": replicate.make_app, "together": together.make_app,
}


# Fakes that make one image per call count moderate_output_indexes over every call they have charged.
# Ideogram 4.0 and Gemini: one image a call; Replicate's FLUX1.1 [pro]: one image a prediction.
PER_CALL = {"stability", "bfl", "ideogram", "google", "replicate"}


@dataclass
class Running:
    name: str
    knobs: Knobs
    charges: ChargeLog
    server: FakeServer
    charged_before: int = 0  # calls charged before the last reset (the per-call fakes keep counting)

    def output_indexes(self, *indexes: int) -> set[int]:
        """moderate_output_indexes that filter these images of the next request, whatever the fake."""
        offset = self.charged_before + len(self.charges) if self.name in PER_CALL else 0
        return {offset + i for i in indexes}

    @property
    def app(self) -> web.Application:
        return self.server.app

    @property
    def url(self) -> str:
        assert self.server.base_url is not None
        return self.server.base_url

    def requests(self, method: str | None = None, path_prefix: str = "") -> int:
        return sum(1 for s in list(seen(self.app))
                   if (method is None or s.method == method) and s.path.startswith(path_prefix))


class Upstreams:
    def __init__(self, names: tuple[str, ...] = tuple(FACTORIES)) -> None:
        self._names = names
        self.running: dict[str, Running] = {}

    def __getitem__(self, name: str) -> Running:
        return self.running[name]

    def start(self) -> Upstreams:
        for name in self._names:
            knobs, charges = Knobs(), ChargeLog()
            server = FakeServer(FACTORIES[name](knobs, charges))
            server.start()
            self.running[name] = Running(name, knobs, charges, server)
        return self

    def stop(self) -> None:
        for running in self.running.values():
            running.server.stop()

    def reset(self) -> None:
        """Fresh knob values (same objects, which the apps hold) and empty logs."""
        for running in self.running.values():
            for f in fields(Knobs):
                setattr(running.knobs, f.name, getattr(Knobs(), f.name))
            running.charged_before += len(running.charges)
            running.charges.clear()
            seen(running.app).clear()

    def env(self) -> dict[str, str]:
        env = {"PERF_INSECURE_HTTP_HOSTS": ",".join(r.url.split("://", 1)[1] for r in self.running.values())}
        urls = {name: r.url for name, r in self.running.items()}
        if "openai" in urls:
            env.update(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=urls["openai"] + "/v1")
        if "stability" in urls:
            env.update(STABILITY_API_KEY="test-key", STABILITY_BASE_URL=urls["stability"])
        if "bfl" in urls:
            env.update(BFL_API_KEY="test-key", BFL_BASE_URL=urls["bfl"], PERF_BFL_POLL_INTERVAL_SECONDS="0.02")
        if "ideogram" in urls:
            env.update(IDEOGRAM_API_KEY="test-key", IDEOGRAM_BASE_URL=urls["ideogram"])
        if "google" in urls:
            env.update(GEMINI_API_KEY="test-key", GEMINI_BASE_URL=urls["google"])
        if "fal" in urls:
            env.update(FAL_KEY="test-key", FAL_QUEUE_URL=urls["fal"], PERF_FAL_POLL_INTERVAL_SECONDS="0.02")
        if "replicate" in urls:
            env.update(REPLICATE_API_TOKEN="test-key", REPLICATE_BASE_URL=urls["replicate"],
                       PERF_REPLICATE_POLL_INTERVAL_SECONDS="0.02")
        if "together" in urls:
            env.update(TOGETHER_API_KEY="test-key", TOGETHER_BASE_URL=urls["together"])
        return env

    def __enter__(self) -> Upstreams:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
