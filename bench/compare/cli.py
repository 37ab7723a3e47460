"""`make bench-compare` = `python -m bench.compare [--quick]`: runs run.py's procedure, prints the table
(cell | us | LiteLLM | us ÷ LiteLLM) and writes every raw figure to bench/results/compare-*.json.

Asserts nothing; the machine's 2 cores are shared by client, fakes and both systems (and whatever else
runs), so read ratios within one run, not absolutes from different runs.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from bench.compare import litellm_proxy, report
from bench.compare.load import client_name
from bench.compare.report import LITELLM, US
from bench.compare.run import BODIES, DETAIL, Options, Run, start_upstreams
from tests.stack import ROOT


def options_from(argv: list[str] | None) -> tuple[Options, Path, bool]:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description="our stack beside LiteLLM's proxy")
    parser.add_argument("--quick", action="store_true",
                        help="a ~2-minute smoke: the large image's closed loop and the small image's hold only, "
                             "1 rep, 1 s cells, 100 held")
    parser.add_argument("--duration", type=float, help="seconds per closed-loop cell (default 4; quick 1)")
    parser.add_argument("--reps", type=int, help="interleaved repetitions (default 2; quick 1)")
    parser.add_argument("--hold", type=int, help="connections held at once (default 1000; quick 100)")
    parser.add_argument("--settle", type=float, help="seconds before the after-burst RSS (default 30; quick 2)")
    parser.add_argument("--only", action="append", metavar="KIND/IMAGE",
                        help="run only this setting (repeatable), e.g. hold/small or closed/large")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    quick = args.quick
    every = tuple((kind, image) for kind in ("closed", "hold") for image in DETAIL)
    options = Options(duration=args.duration or (1.0 if quick else 4.0), reps=args.reps or (1 if quick else 2),
                      concurrencies=(1, 16) if quick else (1, 16, 64), hold=args.hold or (100 if quick else 1000),
                      settle=args.settle if args.settle is not None else (2.0 if quick else 30.0),
                      warm=8 if quick else 16,
                      # Quick: one setting of each kind (each costs a LiteLLM start, ~10 s of CPU), so the
                      # large body's checks and the hold still both run.
                      settings=(("closed", "large"), ("hold", "small")) if quick else every)
    if args.only:
        wanted = tuple(tuple(only.split("/", 1)) for only in args.only)
        unknown = [f"{k}/{i}" for k, i in wanted if (k, i) not in every]
        if unknown:
            parser.error(f"--only: unknown {', '.join(unknown)}; choose from "
                         + ", ".join(f"{k}/{i}" for k, i in every))
        options = dataclasses.replace(options, settings=wanted)  # type: ignore[arg-type]
    return options, args.out, quick


def raise_open_files(needed: int) -> tuple[int, int]:
    """Lifts this process's (and so its children's) soft open-file limit to what a hold needs, up to the
    hard limit; returns the limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft, hard


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "server", "gateway"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return done.stdout.strip() + ("+changes" if dirty else "")


def image_label(b64_bytes: int) -> str:
    return f"{b64_bytes / 1e6:.2f} MB b64 image" if b64_bytes >= 1e6 else f"{b64_bytes / 1e3:.0f} KB b64 image"


def main(argv: list[str] | None = None) -> None:
    options, out, quick = options_from(argv)
    if litellm_proxy.executable() is None:
        raise SystemExit(f"no LiteLLM venv at {litellm_proxy.VENV}: `make bench-compare` builds it")
    # Each held connection costs a proxy its client socket and its upstream one, and this process one.
    nofile = raise_open_files(3 * options.hold + 1024)
    started, load_before, version = time.time(), os.getloadavg(), litellm_proxy.version()
    print(f"us vs LiteLLM {version} (one worker); client: {client_name()}; open files {nofile[0]}; {options}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(options, Path(tmp))
        upstreams = start_upstreams(list(options.settings), Path(tmp))
        print(f"{len(upstreams)} LiteLLM proxies ready at {time.monotonic() - run.began:.0f} s", flush=True)
        try:
            for kind, image in options.settings:
                measure = run.closed_setting if kind == "closed" else run.hold_setting
                measure(image, upstreams[kind, image])
        finally:
            for upstream in upstreams.values():
                upstream.stack.close()
    labels = {image: image_label(n) for image, n in run.b64_bytes.items()}
    rows = report.table_rows(run.cells, labels, options.concurrencies, options.hold, run.idle, run.settled,
                             options.settle)
    table = report.markdown(rows)
    print(f"\nus ({git_commit()}) vs LiteLLM {version}, medians of {options.reps} interleaved rep(s); load "
          f"average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} (2 cores shared)\n\n{table}\n")
    notes = report.in_flight_lines(run.cells, labels, run.b64_bytes, options.hold, run.idle)
    notes += report.error_lines(run.cells)
    notes += [f"{setting}: the image came through intact: us {facts[US]['intact']}, LiteLLM "
              f"{facts[LITELLM]['intact']} ({facts[US]['upstream_png_bytes']:,} B PNG)"
              for setting, facts in run.checks.items()]
    notes.append("non-loopback peers seen on any measured process: " + (", ".join(sorted(run.foreign)) or "none"))
    if not run.peaks_reset:
        notes.append("NOTE: the kernel refused clear_refs: peak RSS figures are lifetime peaks of each process")
    print("\n".join(notes))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"compare-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if quick else ''}.json"
    path.write_text(json.dumps({
        "meta": {"commit": git_commit(), "litellm": version, "client": client_name(), "options": vars(options),
                 "open_files": nofile, "load_before": load_before, "load_after": os.getloadavg(),
                 "seconds": time.time() - started, "cores": os.cpu_count(), "peaks_reset": run.peaks_reset,
                 "foreign_peers": sorted(run.foreign), "image_checks": run.checks, "b64_bytes": run.b64_bytes,
                 "bodies": BODIES},
        "cells": report.as_json(run.cells), "idle_mb": run.idle, "settled_mb": run.settled, "table": table,
        "notes": notes}, indent=1))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"raw figures: {shown} ({time.time() - started:.0f} s)")
