"""LiteLLM's proxy as the comparison runs it: from its own venv (.venv-litellm, built by `make bench-compare`
from bench/requirements-litellm.txt, never mixed into ours), one uvicorn worker, no database, its model
cost map from the package (LITELLM_LOCAL_MODEL_COST_MAP=True, else it fetches one at start), telemetry
off, per-request logs off as ours are (LITELLM_LOG=WARNING ~ PERF_LOG_LEVEL=WARNING), and one model alias
routed to the fake OpenAI upstream on loopback.

LiteLLM 1.110 treats every OpenAI image model as GPT-image (its DALL·E configs are gone: `response_format`
is refused for `openai/dall-e-3`), so the alias is `openai/gpt-image-2`, which always answers b64_json,
with `drop_params: true` so the client's `response_format: b64_json` (the request we send both) is
accepted and dropped rather than refused. Any HTTP(S) call it would make beyond loopback goes to a
proxy address where nothing listens (127.0.0.1:9); the harness also watches its sockets for foreign peers.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.compare import procs
from tests.stack import ROOT, free_port, http

VENV = Path(os.environ.get("PERF_BENCH_LITELLM_VENV", ROOT / ".venv-litellm"))
ALIAS = "bench-image"
UPSTREAM_MODEL = "gpt-image-2"
MASTER_KEY = "sk-bench-master-key"
# Variables of ours or the machine's that would give LiteLLM a database, a cache or a callback.
_DROPPED = ("DATABASE_URL", "DIRECT_URL", "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "OPENAI_API_KEY",
            "OPENAI_BASE_URL", "LITELLM_MASTER_KEY", "STORE_MODEL_IN_DB")
ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY_DISABLED": "True",
    "LITELLM_LOG": "WARNING",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "DISABLE_ADMIN_UI": "True",
    "HF_HUB_OFFLINE": "1",
    "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
}


def executable() -> Path | None:
    path = VENV / "bin" / "litellm"
    return path if path.exists() else None


def version() -> str:
    done = subprocess.run([str(VENV / "bin" / "python"), "-c",
                           "import importlib.metadata as m; print(m.version('litellm'))"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def render_config(upstream_base_url: str) -> str:
    """The proxy's config.yaml: one alias to the fake, the master key as the only credential (no database)."""
    return "\n".join([
        "model_list:",
        f"  - model_name: {ALIAS}",
        "    litellm_params:",
        f"      model: openai/{UPSTREAM_MODEL}",
        f"      api_base: {upstream_base_url}/v1",
        "      api_key: test-key",
        "general_settings:",
        f"  master_key: {MASTER_KEY}",
        "  disable_spend_logs: true",
        "litellm_settings:",
        "  drop_params: true",
        "  telemetry: false",
        "",
    ])


@dataclass
class LiteLLM:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("LiteLLM's proxy exited:\n" + self.log.read_text()[-4000:])
            try:
                if http("GET", self.base_url + "/health/liveliness", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("LiteLLM's proxy did not become ready:\n" + self.log.read_text()[-4000:])


@contextmanager
def litellm_proxy(upstream_base_url: str, tmp: Path) -> Iterator[LiteLLM]:
    """Starts the proxy (not waiting for it: the caller starts our stack meanwhile, then `wait_ready`)."""
    binary = executable()
    if binary is None:
        raise RuntimeError(f"no LiteLLM venv at {VENV}: run `make bench-compare` (it builds it)")
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "litellm.yaml"
    config.write_text(render_config(upstream_base_url))
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED and not k.startswith("PERF_")}
    env.update(ENV)
    port = free_port()
    log = tmp / "litellm.log"
    process = subprocess.Popen([str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
                                "--num_workers", "1"], cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    proxy = LiteLLM(f"http://127.0.0.1:{port}", process, log)
    try:
        yield proxy
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    children = [pid for pid in procs.tree(process.pid) if pid != process.pid]
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for pid in children:  # a worker its parent did not take down
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
