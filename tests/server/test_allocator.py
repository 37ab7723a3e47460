"""The allocator settings take effect on glibc and can be turned off (their effect on memory is measured
by the 1,000-connection hold in make bench, not here)."""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from tests.stack import ROOT

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt settings are glibc's")


def run(code: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={"PATH": "/usr/bin:/bin", **env})
    return done.stdout.strip()


def test_tuning_applies_and_trimming_runs() -> None:
    assert run("from contract import allocator; print(allocator.tune()); allocator.trim()") == "True"
    assert run("from contract import allocator; print(allocator.tune(images_on_heap=True))") == "True"


def test_tuning_can_be_turned_off() -> None:
    assert run("from contract import allocator; print(allocator.tune())", PERF_MALLOC_TUNING="0") == "False"
