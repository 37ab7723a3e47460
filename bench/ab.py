"""`python -m bench.ab REF`: this working tree beside git REF, each started first in turn.

A change of a few per cent cannot be read off two stacks started one after the other: the stack
started second has read ~3 % faster whatever it ran (A/Bs of one toggle, run both ways round). So
each round starts both stacks afresh, the other one first each time, and interleaves the readings
(bench.floor's: wrk or the Python client, CPU per request from /proc); the effect printed is the mean
of the rounds' differences, in which the start order's share cancels, and that share is printed too.
REF is checked out in a temporary git worktree (its committed generated code; this .venv runs both,
so a REF with other requirements needs them installed). Small image (`--large`: bench.live's
detailed ~1.1 MB one), b64_json, a live key, one fake OpenAI upstream for both. Prints; asserts nothing.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from statistics import mean, median

from bench.floor import Reading, Target, reading
from bench.live import IMAGES, fake_openai, has_unix_socket, live_stack
from bench.load import client_name
from tests.stack import ROOT

SIDES = ("tree", "ref")


@contextmanager
def worktree(ref: str, tmp: Path) -> Iterator[tuple[Path, str]]:
    """REF checked out (detached) in `tmp`, and its commit; removed afterwards."""
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tmp), ref], cwd=ROOT, check=True)
    try:
        yield tmp, sha
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tmp)], cwd=ROOT, check=False)


def one_round(roots: dict[str, Path], first: str, fake_url: str, tmp: Path, concurrency: int, reps: int,
              duration: float) -> dict[str, list[Reading]]:
    """Both stacks started afresh, `first` first; `reps` readings of each, their order alternating."""
    with ExitStack() as started:
        targets: dict[str, tuple[Target, str]] = {}
        for side in (first, *(s for s in SIDES if s != first)):
            # The same gateway→server hop on both sides, whichever checkout lacks the Unix socket.
            unix = all(has_unix_socket(root) for root in roots.values())
            stack, key = started.enter_context(live_stack(fake_url, tmp / side, roots[side], unix_socket=unix))
            assert stack.server is not None and stack.gateway is not None
            targets[side] = (Target(side, stack.base_url, stack.gateway.pid, stack.server.pid), key)
        for target, key in targets.values():  # warm both (connections, caches) before anything counts
            reading(target, key, concurrency, 1.0)
        readings: dict[str, list[Reading]] = {side: [] for side in SIDES}
        for rep in range(reps):
            for side in SIDES if rep % 2 == 0 else SIDES[::-1]:
                target, key = targets[side]
                readings[side].append(reading(target, key, concurrency, duration))
    return readings


FIELDS = (("rps", "req/s", "{:.0f}"), ("server_ms", "server CPU ms/req", "{:.3f}"),
          ("gateway_ms", "gateway CPU ms/req", "{:.3f}"), ("p50_ms", "p50 ms", "{:.2f}"))


def report(ref: str, sha: str, rounds: list[tuple[str, dict[str, list[Reading]]]], concurrency: int, reps: int,
           duration: float, image: str = "small image") -> list[str]:
    lines = [f"This working tree beside {ref} ({sha}): {image}, b64_json, {concurrency} connections; client: "
             f"{client_name()}; {len(rounds)} rounds, each the median of {reps} interleaved reps of {duration:g} s",
             "| round | started first | " + " | ".join(f"{label}: tree / ref" for _, label, _ in FIELDS) + " |",
             "|-------|---------------|" + "|".join("-" * (len(label) + 14) for _, label, _ in FIELDS) + "|"]
    diffs: dict[str, list[float]] = {name: [] for name, _, _ in FIELDS}
    order: list[float] = []  # the second-started stack's req/s over the first's, per round
    for number, (first, readings) in enumerate(rounds, 1):
        med = {side: {name: median(getattr(r, name) for r in readings[side]) for name, _, _ in FIELDS}
               for side in SIDES}
        cells = [f"{fmt.format(med['tree'][name])} / {fmt.format(med['ref'][name])}" for name, _, fmt in FIELDS]
        lines.append(f"| {number:>5} | {first:<13} | " + " | ".join(cells) + " |")
        for name, _, _ in FIELDS:
            diffs[name].append(med["tree"][name] - med["ref"][name])
        second = "ref" if first == "tree" else "tree"
        order.append(med[second]["rps"] / max(med[first]["rps"], 1e-9) - 1)
    ref_rps = mean(median(r.rps for r in readings["ref"]) for _, readings in rounds)
    ref_server = mean(median(r.server_ms for r in readings["ref"]) for _, readings in rounds)
    lines.append(f"effect of this tree over {ref} (mean of the rounds' differences): "
                 f"req/s {mean(diffs['rps']) / max(ref_rps, 1e-9):+.1%}, "
                 f"server CPU {mean(diffs['server_ms']):+.3f} ms/req ({mean(diffs['server_ms']) / ref_server:+.1%}), "
                 f"gateway CPU {mean(diffs['gateway_ms']):+.3f} ms/req, p50 {mean(diffs['p50_ms']):+.2f} ms")
    errors = {side: sum(r.errors for _, readings in rounds for r in readings[side]) for side in SIDES}
    lines.append(f"errors: tree {errors['tree']}, ref {errors['ref']}")
    lines.append(f"start order's share (second-started over first-started, mean of rounds): req/s {mean(order):+.1%}")
    return lines


def run(ref: str, concurrency: int, rounds: int, reps: int, duration: float, tmp: Path,
        large: bool = False) -> list[str]:
    label, detail = IMAGES[1][:2] if large else ("small image", 0.0)
    with worktree(ref, tmp / "ref-tree") as (ref_root, sha), fake_openai(0.0, detail) as fake_url:
        roots = {"tree": ROOT, "ref": ref_root}
        done = []
        for number in range(rounds):
            first = SIDES[number % 2]
            done.append((first, one_round(roots, first, fake_url, tmp / f"round{number}", concurrency, reps,
                                          duration)))
    return report(ref, sha, done, concurrency, reps, duration, label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", help="the git ref to compare this working tree with, e.g. HEAD or main~1")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="even, so each side starts first as often")
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--large", action="store_true", help="the ~1.1 MB image (1.5 MB as base64), not the small one")
    args = parser.parse_args()
    if args.rounds < 2 or args.rounds % 2:
        parser.error("--rounds must be even and at least 2: each side starts first as often")
    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(run(args.ref, args.concurrency, args.rounds, args.reps, args.duration, Path(tmp), args.large)))


if __name__ == "__main__":
    main()
