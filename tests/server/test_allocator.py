"""The allocator settings take effect on glibc, follow a burst in the gateway and can be turned off (their
effect on memory is measured by the 1,000-connection hold in make bench, not here)."""
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


def test_tuning_can_be_turned_off() -> None:
    assert run("from contract import allocator; print(allocator.tune())", PERF_MALLOC_TUNING="0") == "False"


# Prints, at each step, how many glibc mappings one live image-sized buffer adds (mallinfo2's hblks).
BURST = """
import ctypes
from contract import allocator

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info

def mappings_one_buffer_adds():
    allocator.trim()  # as trim_forever does: free heap at the top goes back, so the heap cannot serve it
    before = libc.mallinfo2().hblks
    buffer = bytearray(1_500_000)
    return libc.mallinfo2().hblks - before

print(allocator.tune())
placement = allocator.BurstPlacement(burst_above=2, calm=1)
seen = [mappings_one_buffer_adds()]
for _ in range(3):
    placement.started()
    seen.append(mappings_one_buffer_adds())
for _ in range(2):
    placement.finished()
    seen.append(mappings_one_buffer_adds())
print(seen)
"""


def test_buffers_stay_on_the_heap_until_a_burst_and_are_mapped_during_it() -> None:
    tuned, seen = run(BURST).splitlines()
    assert tuned == "True"
    # 0, 1, 2 in flight on the heap; the third begins a burst (above 2), which lasts at 2 and ends at 1.
    assert seen == "[0, 0, 0, 1, 1, 0]"


def test_placement_leaves_glibc_alone_when_tuning_is_off() -> None:
    tuned, seen = run(BURST, PERF_MALLOC_TUNING="0").splitlines()
    assert tuned == "False"
    # glibc's own dynamic threshold: the first buffer is mapped, and freeing it lifts the threshold above it.
    assert seen == "[1, 0, 0, 0, 0, 0]"
