"""Helpers shared by the benchmark modules: timing and a plain-text table."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def median_time(fn: Callable[[], object], repeats: int = 20, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    gc.collect()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of ``values`` by linear interpolation."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Table:
    """A titled table of rows (dicts with the same keys), printed as aligned text."""

    title: str
    rows: list[dict] = field(default_factory=list)
    note: str = ""

    def add(self, **row: object) -> None:
        self.rows.append(row)

    def render(self) -> str:
        if not self.rows:
            return f"## {self.title}\n(no rows)"
        columns = list(self.rows[0])
        cells = [[_format(row.get(c, "")) for c in columns] for row in self.rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        lines = [f"## {self.title}"]
        lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        for r in cells:
            lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def paired_times(
    fns: list[Callable[[], object]], repeats: int, warmup: int = 1
) -> list[list[float]]:
    """Seconds of each call of each callable, timed in alternation, round by round.

    Taking turns exposes ours and the reference to the same load on a shared machine;
    compare them with :func:`median_ratio`.
    """
    for fn in fns:
        for _ in range(warmup):
            fn()
    gc.collect()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, spent in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return times


def median_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of the per-round time ratio: steadier than a ratio of medians."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))
