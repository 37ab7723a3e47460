"""README's examples, run as written against a running stack (only the port and key are substituted)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.stack import ROOT, Stack

README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def localise(code: str, stack: Stack) -> str:
    return code.replace("127.0.0.1:8080", f"127.0.0.1:{stack.http_port}").replace(
        "127.0.0.1:50051", stack.grpc_target)


def run_env(stack: Stack) -> dict[str, str]:
    # A fresh key for each example: the first key is free tier (5 images a minute), which the examples
    # together exceed, and the SDK would then wait out the 429's Retry-After.
    return {**os.environ, "PERF_KEY": stack.create_key("test"), "PYTHONPATH": f"{ROOT / 'generated'}{os.pathsep}{ROOT}"}


@pytest.mark.skipif(not any(os.access(os.path.join(p, "curl"), os.X_OK) for p in os.environ["PATH"].split(":")),
                    reason="curl is not installed")
def test_curl_example(stack: Stack) -> None:
    [curl] = [b for b in blocks("sh") if b.startswith("export PERF_KEY")]
    script = localise(curl, stack).replace("export PERF_KEY=pk_test_...", "")
    done = subprocess.run(["bash", "-c", script], env=run_env(stack), capture_output=True, check=True)
    body = json.loads(done.stdout)
    assert body["perf"]["cost_usd"] == 0.08 and body["data"][0]["url"]


@pytest.mark.parametrize("index", range(len([b for b in blocks("python") if "import" in b])))
def test_python_examples(stack: Stack, index: int) -> None:
    code = [b for b in blocks("python") if "import" in b][index]
    done = subprocess.run([sys.executable, "-c", localise(code, stack)], env=run_env(stack), cwd=ROOT,
                          capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout


def test_the_capability_table_is_the_catalogs() -> None:
    shown = README.split("<!-- capabilities:begin -->\n", 1)[1].split("\n<!-- capabilities:end -->", 1)[0]
    printed = subprocess.run([sys.executable, "-m", "server.catalog", "capabilities"], cwd=ROOT, capture_output=True,
                             text=True, check=True, env={**os.environ, "PERF_LIFECYCLE_TODAY": ""})
    assert shown == printed.stdout.strip()
