"""The benchmarks still run against the current code (they assert nothing themselves)."""
from __future__ import annotations

import asyncio
from pathlib import Path

from bench.accounting import accounting_only


def test_accounting_benchmark_runs(tmp_path: Path) -> None:
    table = asyncio.run(accounting_only("sqlite + in-process", None, None, "", tmp_path, 32))
    assert table.count("| sqlite + in-process") == 2
