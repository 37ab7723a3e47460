"""The comparison's procedure (cli.py runs it): our stack beside LiteLLM's proxy, in one run,
against the same fake OpenAI upstream, cells interleaved (us, LiteLLM, us, LiteLLM… per rep).

Per upstream setting (small or large image; 0 ms or 2 s) a fresh fake, a fresh stack of ours (live
enterprise key, dall-e-3, b64_json, 1024x1024) and a fresh LiteLLM proxy; each system's answer is first
checked to carry its upstream's image byte for byte, then:
- closed loop at each concurrency, the bare upstream at concurrency 1 beside it (asked what each system
  asks it), and every process's RSS `--settle` seconds after the last cell;
- a hold: `--hold` requests at once against a 2 s upstream, and RSS `--settle` seconds after it.
CPU per request and peak RSS come from /proc for each process (gateway and server; LiteLLM and any
worker children).
"""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench.compare import litellm_proxy, procs
from bench.compare.load import BurstLoad, CellLoad, burst, closed_loop
from bench.compare.report import LITELLM, UPSTREAM, US, Cell
from bench.live import fake_openai, live_stack
from tests.stack import http

PATH = "/v1/images/generations"
DETAIL = {"small": 0.0, "large": 0.36}
BODIES = {
    US: {"prompt": "benchmark", "model": "dall-e-3", "size": "1024x1024", "response_format": "b64_json"},
    LITELLM: {"prompt": "benchmark", "model": litellm_proxy.ALIAS, "size": "1024x1024", "response_format": "b64_json"},
    # What our server sends the fake for public dall-e-3 (its deployment is gpt-image-2, quality standard →
    # medium): a bare-upstream row that asked for dall-e-3 timed the fake's costlier DALL·E path instead
    # (it base64-encodes each image afresh), which made our "added p50" ~3 ms too small on the large image.
    UPSTREAM[US]: {"prompt": "benchmark", "model": "gpt-image-2", "n": 1, "size": "1024x1024", "quality": "medium"},
    UPSTREAM[LITELLM]: {"prompt": "benchmark", "model": litellm_proxy.UPSTREAM_MODEL, "size": "1024x1024"},
}
T = TypeVar("T")


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str]
    pids: dict[str, int]  # process label → root pid; empty for the bare upstream (its work is not counted)

    @property
    def body(self) -> bytes:
        return json.dumps(BODIES[self.name]).encode()


@dataclass
class Upstream:
    """One setting's fake and LiteLLM proxy; `stack` stops both."""
    fake_url: str
    proxy: litellm_proxy.LiteLLM
    stack: ExitStack


def start_upstreams(settings: list[tuple[str, str]], tmp: Path) -> dict[tuple[str, str], Upstream]:
    """Every setting's fake and LiteLLM proxy at once, before any cell: the proxies' ~10 s CPU-bound starts
    overlap instead of adding up, and none is still starting while a cell is measured (idle, each uses
    about 0.2 % of a core). Each setting still gets its own fresh proxy, as it gets a fresh stack of ours."""
    upstreams = {}
    try:
        for kind, image in settings:
            stack = ExitStack()
            fake = stack.enter_context(fake_openai(2.0 if kind == "hold" else 0.0, DETAIL[image]))
            proxy = stack.enter_context(litellm_proxy.litellm_proxy(fake, tmp / f"{kind}-{image}" / "litellm"))
            upstreams[kind, image] = Upstream(fake, proxy, stack)
        for upstream in upstreams.values():
            upstream.proxy.wait_ready()
    except BaseException:
        for upstream in upstreams.values():
            upstream.stack.close()
        raise
    return upstreams


@dataclass
class Options:
    duration: float
    reps: int
    concurrencies: tuple[int, ...]
    hold: int
    settle: float
    warm: int
    settings: tuple[tuple[str, str], ...]  # (kind, image) in the order run


class Run:
    def __init__(self, options: Options, tmp: Path) -> None:
        self.options, self.tmp = options, tmp
        self.cells: list[Cell] = []
        self.idle: dict[str, dict[str, dict[str, float]]] = {}
        self.settled: dict[str, dict[str, dict[str, float]]] = {}
        self.checks: dict[str, dict[str, Any]] = {}  # "<kind>/<image>" → system → intact and sizes
        self.b64_bytes: dict[str, int] = {}  # image → length of its base64
        self.foreign: set[str] = set()
        self.peaks_reset = True
        self.began = time.monotonic()

    @contextmanager
    def setting(self, kind: str, image: str, upstream: Upstream) -> Iterator[dict[str, Target]]:
        """Our stack, started now, beside the setting's LiteLLM (started with the others) on its fake."""
        fake, proxy = upstream.fake_url, upstream.proxy
        with upstream.stack, live_stack(fake, self.tmp / f"{kind}-{image}" / "us") as (ours, key):
            assert ours.server is not None and ours.gateway is not None
            json_type = {"Content-Type": "application/json"}
            targets = {
                US: Target(US, ours.base_url + PATH, {"Authorization": f"Bearer {key}", **json_type},
                           {"gateway": ours.gateway.pid, "server": ours.server.pid}),
                LITELLM: Target(LITELLM, proxy.base_url + PATH,
                                {"Authorization": f"Bearer {litellm_proxy.MASTER_KEY}", **json_type},
                                {"litellm": proxy.pid}),
            }
            for system in (US, LITELLM):
                name = UPSTREAM[system]
                targets[name] = Target(name, fake + PATH, {"Authorization": "Bearer test-key", **json_type}, {})
            self._check_images(f"{kind}/{image}", image, targets)
            for system in (US, LITELLM):
                self._warm(targets[system])
            self.idle[f"{kind}/{image}"] = {s: self._rss(targets[s]) for s in (US, LITELLM)}
            print(f"  (ready at {time.monotonic() - self.began:.0f} s)", flush=True)
            yield targets

    def _check_images(self, setting: str, image: str, targets: dict[str, Target]) -> None:
        """Each system's answer must carry exactly the image its upstream sends it (byte for byte, decoded);
        under load the check is cheaper (see load.py), so this is where a mangled image shows."""
        facts: dict[str, Any] = {}
        for system in (US, LITELLM):
            sent, got = _image(targets[UPSTREAM[system]]), _image(targets[system])
            facts[system] = {"intact": sent is not None and got == sent, "png_bytes": len(got or b""),
                             "upstream_png_bytes": len(sent or b"")}
            if not facts[system]["intact"]:
                print(f"WARNING: {system}'s answer does not carry its upstream's image "
                      f"({len(got or b'')} bytes vs {len(sent or b'')})", flush=True)
        self.checks[setting] = facts
        self.b64_bytes[image] = len(base64.b64encode(_image(targets[UPSTREAM[US]]) or b""))

    def b64_length(self, image: str) -> int:
        return self.b64_bytes[image]

    def _warm(self, target: Target) -> None:
        # Imports done lazily on a first request, connection pools, caches: not part of any cell.
        burst(target.url, target.body, target.headers, self.options.warm, 0)

    @staticmethod
    def _rss(target: Target) -> dict[str, float]:
        return {label: procs.rss_mb(pid) for label, pid in target.pids.items()}

    def _measured(self, target: Target, run: Callable[[], T]) -> tuple[T, dict[str, float], dict[str, float],
                                                                       dict[str, float]]:
        for pid in target.pids.values():
            self.peaks_reset &= procs.reset_peak(pid)
        before = {label: procs.cpu_seconds(pid) for label, pid in target.pids.items()}
        result = run()
        cpu = {label: procs.cpu_seconds(pid) - before[label] for label, pid in target.pids.items()}
        peaks = {label: procs.peak_mb(pid) for label, pid in target.pids.items()}
        for pid in target.pids.values():
            self.foreign |= procs.foreign_peers(pid)
        return result, cpu, peaks, self._rss(target)

    def closed_cell(self, target: Target, image: str, concurrency: int, rep: int) -> None:
        load: CellLoad
        load, cpu, peaks, rss = self._measured(target, lambda: closed_loop(
            target.url, target.body, target.headers, concurrency, self.options.duration, self.b64_length(image)))
        per_request = {k: v * 1000 / max(1, load.answered) for k, v in cpu.items()}
        self.cells.append(Cell(target.name, image, "closed", concurrency, rep, load.rps, load.p50_ms, load.p99_ms,
                               load.answered, load.errors, per_request, peaks, rss))
        print(f"  {target.name:<16} {image} c{concurrency:<3} rep {rep}: {load.rps:8.1f} req/s  p50 "
              f"{load.p50_ms:8.2f} ms  p99 {load.p99_ms:8.2f} ms  errors {load.errors}/{load.answered}  CPU "
              f"{sum(per_request.values()):6.2f} ms/req  peak {sum(peaks.values()):6.0f} MB", flush=True)

    def hold_cell(self, target: Target, image: str, rep: int) -> None:
        count = self.options.hold
        load: BurstLoad
        load, cpu, peaks, rss = self._measured(target, lambda: burst(
            target.url, target.body, target.headers, count, self.b64_length(image)))
        time.sleep(self.options.settle)
        settled = self._rss(target)
        per_request = {k: v * 1000 / count for k, v in cpu.items()}
        self.cells.append(Cell(target.name, image, "hold", count, rep, load.rps, load.p50_ms, load.p99_ms, count,
                               count - load.ok, per_request, peaks, rss, settled, load.success_pct))
        print(f"  {target.name:<16} {image} hold {count} rep {rep}: {load.success_pct:5.1f} % ok  {load.rps:6.1f} "
              f"req/s  p99 {load.p99_ms / 1000:6.2f} s  peak {sum(peaks.values()):6.0f} MB  after "
              f"{self.options.settle:.0f} s {sum(settled.values()):6.0f} MB", flush=True)

    def closed_setting(self, image: str, upstream: Upstream) -> None:
        print(f"closed loop, {image} image, 0 ms upstream", flush=True)
        with self.setting("closed", image, upstream) as targets:
            for rep in range(1, self.options.reps + 1):
                for concurrency in self.options.concurrencies:
                    if concurrency == 1:
                        for system in (US, LITELLM):
                            self.closed_cell(targets[UPSTREAM[system]], image, 1, rep)
                    for system in (US, LITELLM):
                        self.closed_cell(targets[system], image, concurrency, rep)
            time.sleep(self.options.settle)
            self.settled[f"closed/{image}"] = {s: self._rss(targets[s]) for s in (US, LITELLM)}

    def hold_setting(self, image: str, upstream: Upstream) -> None:
        print(f"hold of {self.options.hold} connections, {image} image, 2 s upstream", flush=True)
        with self.setting("hold", image, upstream) as targets:
            for rep in range(1, self.options.reps + 1):
                for system in (US, LITELLM):
                    self.hold_cell(targets[system], image, rep)


def _image(target: Target) -> bytes | None:
    try:
        answer = http("POST", target.url, target.body, target.headers, timeout=60)
        return base64.b64decode(answer.json()["data"][0]["b64_json"]) if answer.status == 200 else None
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
