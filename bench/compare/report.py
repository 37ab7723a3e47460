"""The comparison's numbers: one record per measured cell, medians over reps, and the markdown table
(cell | us | LiteLLM | us ÷ LiteLLM). Pure: no processes, no clock; tests/bench drives it on made-up cells.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

US, LITELLM = "us", "litellm"
# The bare upstream, asked exactly what each system asks it (ours sends dall-e-3, LiteLLM gpt-image-2).
UPSTREAM = {US: "upstream-us", LITELLM: "upstream-litellm"}


@dataclass
class Cell:
    system: str  # US, LITELLM or an UPSTREAM value
    image: str  # "small" or "large"
    kind: str  # "closed" (closed loop for a duration) or "hold" (that many requests at once)
    concurrency: int
    rep: int
    rps: float
    p50_ms: float
    p99_ms: float
    answered: int
    errors: int
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per request, by process (gateway/server, litellm)
    peak_mb: dict[str, float] = field(default_factory=dict)  # VmHWM during the cell, by process
    rss_end_mb: dict[str, float] = field(default_factory=dict)  # VmRSS right after the cell
    rss_settled_mb: dict[str, float] = field(default_factory=dict)  # VmRSS `settle` seconds later (holds)
    success_pct: float | None = None  # holds


def _median(values: Iterable[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else float("nan")


def _median_dicts(dicts: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for d in dicts for k in d})
    return {k: _median(d[k] for d in dicts if k in d) for k in keys}


def median_cell(cells: Iterable[Cell], system: str, image: str, kind: str, concurrency: int) -> Cell | None:
    """The median over reps of one cell's every figure (each figure on its own), or None if never measured."""
    reps = [c for c in cells if (c.system, c.image, c.kind, c.concurrency) == (system, image, kind, concurrency)]
    if not reps:
        return None
    success = [c.success_pct for c in reps if c.success_pct is not None]
    return Cell(system, image, kind, concurrency, rep=-1,
                rps=_median(c.rps for c in reps), p50_ms=_median(c.p50_ms for c in reps),
                p99_ms=_median(c.p99_ms for c in reps), answered=sum(c.answered for c in reps),
                errors=sum(c.errors for c in reps), cpu_ms=_median_dicts([c.cpu_ms for c in reps]),
                peak_mb=_median_dicts([c.peak_mb for c in reps]),
                rss_end_mb=_median_dicts([c.rss_end_mb for c in reps]),
                rss_settled_mb=_median_dicts([c.rss_settled_mb for c in reps]),
                success_pct=_median(success) if success else None)


def ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None or math.isnan(ours) or math.isnan(theirs) or theirs == 0:
        return ""
    return f"{ours / theirs:.2f}×"


def _num(value: float, digits: int = 0) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def split(parts: dict[str, float], digits: int, total_first: bool = True) -> str:
    """`1.19 (gateway 0.32 + server 0.87)` for several processes; the single figure for one."""
    if not parts:
        return "n/a"
    total = sum(parts.values())
    if len(parts) == 1:
        return _num(total, digits)
    inner = " + ".join(f"{name} {_num(v, digits)}" for name, v in parts.items())
    return f"{_num(total, digits)} ({inner})" if total_first else inner


Row = tuple[str, str, str, str]


def _pair_rows(label: str, us: Cell, them: Cell, kind: str) -> list[Row]:
    rows: list[Row] = []
    if kind == "hold":
        rows.append((f"{label}: success %", _num(us.success_pct or 0.0, 1), _num(them.success_pct or 0.0, 1), ""))
    rows.append((f"{label}: req/s", _num(us.rps), _num(them.rps), ratio(us.rps, them.rps)))
    if kind == "hold":
        rows.append((f"{label}: p50 / p99 (s)", f"{_num(us.p50_ms / 1000, 2)} / {_num(us.p99_ms / 1000, 2)}",
                     f"{_num(them.p50_ms / 1000, 2)} / {_num(them.p99_ms / 1000, 2)}",
                     f"{ratio(us.p50_ms, them.p50_ms)} / {ratio(us.p99_ms, them.p99_ms)}"))
    else:
        rows.append((f"{label}: p50 / p99 (ms)", f"{_num(us.p50_ms, 2)} / {_num(us.p99_ms, 2)}",
                     f"{_num(them.p50_ms, 2)} / {_num(them.p99_ms, 2)}",
                     f"{ratio(us.p50_ms, them.p50_ms)} / {ratio(us.p99_ms, them.p99_ms)}"))
    rows.append((f"{label}: CPU ms per request", split(us.cpu_ms, 2), split(them.cpu_ms, 2),
                 ratio(sum(us.cpu_ms.values()), sum(them.cpu_ms.values()))))
    rows.append((f"{label}: peak RSS MB", split(us.peak_mb, 0), split(them.peak_mb, 0),
                 ratio(sum(us.peak_mb.values()), sum(them.peak_mb.values()))))
    if kind == "hold":
        us_after, them_after = sum(us.rss_settled_mb.values()), sum(them.rss_settled_mb.values())
        rows.append((f"{label}: RSS MB after the burst (settled)", split(us.rss_settled_mb, 0),
                     split(them.rss_settled_mb, 0), ratio(us_after, them_after)))
    return rows


def table_rows(cells: list[Cell], images: dict[str, str], concurrencies: Iterable[int], hold: int,
               idle: dict[str, dict[str, dict[str, float]]], settled: dict[str, dict[str, dict[str, float]]],
               settle_s: float) -> list[Row]:
    """`images`: key → label ("18 KB b64 image"); `idle`/`settled`: "closed/<image>" or "hold/<image>" →
    system → process → MB."""
    rows: list[Row] = []
    for image, label in images.items():
        for concurrency in concurrencies:
            us, them = (median_cell(cells, s, image, "closed", concurrency) for s in (US, LITELLM))
            if us is not None and them is not None:
                rows += _pair_rows(f"{label}, {concurrency} conn", us, them, "closed")
        us, them = (median_cell(cells, s, image, "closed", 1) for s in (US, LITELLM))
        bare_us, bare_them = (median_cell(cells, UPSTREAM[s], image, "closed", 1) for s in (US, LITELLM))
        if us is not None and them is not None and bare_us is not None and bare_them is not None:
            added_us, added_them = us.p50_ms - bare_us.p50_ms, them.p50_ms - bare_them.p50_ms
            rows.append((f"{label}, 1 conn: added p50 over the bare upstream (ms)", _num(added_us, 2),
                         _num(added_them, 2), ratio(added_us, added_them)))
        rows += _memory_row(f"{label}: idle RSS MB before the cells", idle.get(f"closed/{image}"))
        rows += _memory_row(f"{label}: RSS MB {settle_s:.0f} s after the cells", settled.get(f"closed/{image}"))
    for image, label in images.items():
        us, them = (median_cell(cells, s, image, "hold", hold) for s in (US, LITELLM))
        if us is not None and them is not None:
            held = f"{hold:,} conn held, 2 s upstream, {label}"
            rows += _memory_row(f"{held}: idle RSS MB before the burst", idle.get(f"hold/{image}"))
            rows += _pair_rows(held, us, them, "hold")
    return rows


def _memory_row(label: str, by_system: dict[str, dict[str, float]] | None) -> list[Row]:
    if not by_system or US not in by_system or LITELLM not in by_system:
        return []
    us, them = by_system[US], by_system[LITELLM]
    return [(label, split(us, 0), split(them, 0), ratio(sum(us.values()), sum(them.values())))]


def markdown(rows: list[Row]) -> str:
    lines = ["| cell | us | LiteLLM | us ÷ LiteLLM |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def error_lines(cells: list[Cell]) -> list[str]:
    """One line per cell (per rep) that had errors; the table's medians would hide them."""
    return [f"{c.system} {c.image} {c.kind} c{c.concurrency} rep {c.rep}: {c.errors} of {c.answered} answers "
            "were errors (non-200, transport, or no image in the body)" for c in cells if c.errors]


def in_flight_lines(cells: list[Cell], images: dict[str, str], b64_bytes: dict[str, int], hold: int,
                    idle: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """Each system's hold peak as a multiple of the base64 in flight (hold × image), and above its idle RSS."""
    lines = []
    for image, label in images.items():
        flight_mb = hold * b64_bytes.get(image, 0) / 1e6
        for system, name in ((US, "us"), (LITELLM, "LiteLLM")):
            cell = median_cell(cells, system, image, "hold", hold)
            if cell is None or not flight_mb:
                continue
            peak = sum(cell.peak_mb.values())
            rest = sum(idle.get(f"hold/{image}", {}).get(system, {}).values())
            lines.append(f"{hold:,} × {label} = {flight_mb:,.0f} MB of base64 in flight; {name} peaked at "
                         f"{peak / flight_mb:.2f}× that ({peak - rest:,.0f} MB above its idle {rest:,.0f} MB)")
    return lines


def as_json(cells: list[Cell]) -> list[dict[str, Any]]:
    return [vars(c).copy() for c in cells]
