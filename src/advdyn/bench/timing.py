r"""Timing that holds on a noisy machine: interleaved repetitions, medians, peak memory.

Every contender of a case is run once per *round*, the rounds repeat, and the order inside a
round rotates, so a burst of load from another process hits every contender alike and no one
always runs first (warm caches) or last. The figure kept is the median over rounds. Ratios are
taken between medians of the same run, never across runs.

Peak memory is the rise of the process's resident set (``VmHWM`` after resetting it through
``/proc/self/clear_refs``, Linux ≥ 4.0), which sees torch's and NumPy's buffers alike; where
that is not available it falls back to :mod:`tracemalloc` (Python and NumPy allocations only)
and says so.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable, Mapping
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def interleaved(fns: Mapping[str, Callable[[], object]], reps: int,
                warmup: int = 1) -> dict[str, list[float]]:
    """Wall-clock seconds of each callable over ``reps`` rounds (order rotated every round),
    after ``warmup`` untimed rounds."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(reps):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def median(values: list[float]) -> float:
    """The median (the statistic every ratio of the bench is taken between)."""
    return statistics.median(values)


def spread(values: list[float]) -> float | None:
    """Relative half-width of the middle half, ``(q₃ - q₁) / (2·median)``: the noise of a figure;
    ``None`` (unknown) from fewer than four times, whose quartiles say nothing."""
    if len(values) < 4:
        return None
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / (2 * statistics.median(values))


def _status_kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        _status_kib("VmHWM")
    except (OSError, KeyError):
        return False
    return True


def peak_memory(fn: Callable[[], object]) -> tuple[int, str]:
    """Bytes by which ``fn()`` raised the process's peak memory, and the method used
    (``"rss"``: resident set high-water mark; ``"tracemalloc"``: Python/NumPy allocations)."""
    gc.collect()
    if _reset_peak():
        base = _status_kib("VmRSS")
        fn()
        return max(0, _status_kib("VmHWM") - base) * 1024, "rss"
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1], "tracemalloc"
    finally:
        tracemalloc.stop()
