"""`python -m bench.instructions [REF]`: instructions per request of the server and the gateway, counted
by callgrind, for this working tree (and REF, from a temporary git worktree, beside it).

On this VM two wall-clock A/B rounds of the same pair have read 377 and 651 req/s (steal time from
neighbours), so a change worth 2-5 % of CPU is lost in bench.ab's noise. An instruction count is
not: the same code and requests give the same count to ~0.5 % whatever else the machine does. So
this counts what the code does, not how long the machine took: user-space instructions only (no
syscalls, fsync or context switches, which bench.ab and bench.floor still see), small image, b64_json,
a live key, requests one at a time against the fake OpenAI upstream. Counting starts after a warm-up
(connections, caches, lazy imports) and is dumped after the counted requests (callgrind_control), so
start-up and shutdown are not in it. Under valgrind the processes run ~30x slower; the figures are
counts, never times. Needs valgrind (Debian's `valgrind`); prints, asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.ab import worktree
from bench.floor import BODY, PATH
from bench.live import fake_openai, live_stack
from tests.stack import ROOT, http

WARM = 20
# A prompt of about the length people send (bench.floor's is one word): per-character work shows in it.
PROMPT = "A photorealistic watercolour of a red fox in fresh snow at dawn, soft light, long shadows, "


def valgrind_available() -> bool:
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


def body(prompt_chars: int) -> bytes:
    if not prompt_chars:
        return BODY
    return json.dumps({**json.loads(BODY), "prompt": (PROMPT * (prompt_chars // len(PROMPT) + 1))[:prompt_chars]}).encode()


def count(root: Path, fake_url: str, tmp: Path, requests: int, prompt_chars: int = 0) -> dict[str, float]:
    """Instructions per request (millions) of the server and the gateway of the checkout at `root`."""
    out = tmp / "callgrind"
    out.mkdir(parents=True)
    prefix = ("valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/cg.%p")
    with live_stack(fake_url, tmp / "stack", root, launch_prefix=prefix) as (stack, key):
        assert stack.server is not None and stack.gateway is not None
        pids = {"server": stack.server.pid, "gateway": stack.gateway.pid}
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        asked = body(prompt_chars)

        def ask() -> None:
            answer = http("POST", stack.base_url + PATH, asked, headers, timeout=120)
            if answer.status != 200:
                raise RuntimeError(f"the counted stack answered {answer.status}: {answer.body[:300]!r}")

        for _ in range(WARM):
            ask()
        for pid in pids.values():
            subprocess.run(["callgrind_control", "-i", "on", str(pid)], check=True, capture_output=True)
        for _ in range(requests):
            ask()
        for pid in pids.values():  # a dump holds what was counted since counting began
            subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
        return {name: _dumped(out, pid) / requests / 1e6 for name, pid in pids.items()}


def _dumped(out: Path, pid: int) -> int:
    dumps = [p for p in out.glob(f"cg.{pid}.*") if p.suffix != ".lock"]
    if len(dumps) != 1:
        raise RuntimeError(f"expected one callgrind dump of {pid}, found {dumps}")
    for line in dumps[0].read_text(errors="replace").splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no summary in {dumps[0]}")


def run(ref: str | None, requests: int, tmp: Path, prompt_chars: int = 0) -> list[str]:
    with ExitStack() as stack:
        roots = {"tree": ROOT}
        label = ""
        if ref is not None:
            ref_root, sha = stack.enter_context(worktree(ref, tmp / "ref-tree"))
            roots["ref"], label = ref_root, f" beside {ref} ({sha})"
        fake_url = stack.enter_context(fake_openai(0.0, 0.0))
        counts = {side: count(root, fake_url, tmp / side, requests, prompt_chars) for side, root in roots.items()}
    lines = [f"Instructions per request (millions, callgrind, user space){label}: small image, b64_json, "
             f"{prompt_chars or len(json.loads(BODY)['prompt'])}-character prompt, {requests} requests one at a time "
             f"after {WARM} uncounted",
             "| process | " + " | ".join(roots) + (" | change |" if ref else " |"),
             "|---------|" + "|".join("-" * (len(side) + 2) for side in roots) + ("|--------|" if ref else "|")]
    for process in ("server", "gateway"):
        cells = [f"{counts[side][process]:.3f}" for side in roots]
        change = ""
        if ref is not None:
            tree, before = counts["tree"][process], counts["ref"][process]
            change = f" {tree - before:+.3f} ({(tree - before) / before:+.1%}) |"
        lines.append(f"| {process} | " + " | ".join(cells) + " |" + change)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", nargs="?", help="a git ref to count beside this working tree, e.g. HEAD or main~1")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--prompt-chars", type=int, default=0,
                        help="a prompt this long instead of bench.floor's one word (e.g. 500)")
    args = parser.parse_args()
    if not valgrind_available():
        parser.error("needs valgrind and callgrind_control: apt-get install valgrind")
    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(run(args.ref, args.requests, Path(tmp), args.prompt_chars)))


if __name__ == "__main__":
    main()
