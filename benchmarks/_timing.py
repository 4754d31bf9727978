"""Timing and memory helpers shared by the remotevars side and the reference driver.

Method (the same as the reference SDK's benchmark): every call is timed on its own with
``time.perf_counter_ns`` inside batches of calls; a measurement is split into rounds so that several
operations can be interleaved and the slow drifts of a shared machine hit all of them alike; results
are medians. GC stays enabled, as in production. Standard library only (the reference interpreter
imports this module too).
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from array import array
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ['Series', 'held_memory', 'nearest_rank', 'rss_bytes', 'time_once', 'timer_overhead_ns']

Operation = Callable[[int], Any]


def nearest_rank(ordered: Sequence[float], percent: float) -> float:
    """Return the nearest-rank percentile of an already sorted sequence (NaN when empty)."""
    count = len(ordered)
    if count == 0:
        return float('nan')
    rank = round(percent / 100.0 * count + 0.5) - 1
    return float(ordered[min(count - 1, max(0, rank))])


def timer_overhead_ns(samples: int = 20_000) -> float:
    """Return the median cost of one back-to-back ``perf_counter_ns()`` pair."""
    clock = time.perf_counter_ns
    gaps = array('q')
    for _ in range(samples):
        start = clock()
        gaps.append(clock() - start)
    return float(statistics.median(gaps))


class Series:
    """The single-call timings of one operation ``fn(i)`` (i = 0, 1, 2...), gathered over rounds."""

    def __init__(self, fn: Operation, batch: int) -> None:
        self._fn = fn
        self._batch = batch
        self._next = 0
        self._elapsed_ns = 0
        self.singles = array('q')
        self.batch_means: list[float] = []
        #: The median single-call time of each round, in the order the rounds ran.
        self.round_medians: list[float] = []

    def warm_up(self, seconds: float) -> None:
        """Call the operation untimed for about ``seconds`` (caches, specialisation, lazy imports)."""
        clock, fn, batch = time.perf_counter_ns, self._fn, self._batch
        stop = clock() + int(seconds * 1e9)
        i = self._next
        while clock() < stop:
            for _ in range(batch):
                fn(i)
                i += 1
        self._next = i

    def run_round(self, seconds: float, min_batches: int, max_calls: int) -> float:
        """Time whole batches for about ``seconds``; return this round's median single-call ns."""
        clock, fn, batch = time.perf_counter_ns, self._fn, self._batch
        singles = self.singles
        first = len(singles)
        i = self._next
        began = clock()
        stop = began + int(seconds * 1e9)
        batches = 0
        while True:
            batch_start = clock()
            for _ in range(batch):
                t0 = clock()
                fn(i)
                t1 = clock()
                singles.append(t1 - t0)
                i += 1
            batch_end = clock()
            self.batch_means.append((batch_end - batch_start) / batch)
            batches += 1
            if (batch_end >= stop and batches >= min_batches) or len(singles) >= max_calls:
                break
        self._elapsed_ns += clock() - began
        self._next = i
        median = float(statistics.median(singles[first:]))
        self.round_medians.append(median)
        return median

    def summary(self) -> dict[str, Any]:
        """Return call counts, median/p90/p99 single-call ns, batch-mean median/p99 and rounds."""
        ordered = sorted(self.singles)
        means = sorted(self.batch_means)
        seconds = self._elapsed_ns / 1e9
        return {
            'calls': len(ordered),
            'batch_size': self._batch,
            'seconds': round(seconds, 3),
            'median_ns': nearest_rank(ordered, 50),
            'p90_ns': nearest_rank(ordered, 90),
            'p99_ns': nearest_rank(ordered, 99),
            'batch_mean_median_ns': nearest_rank(means, 50),
            'batch_mean_p99_ns': nearest_rank(means, 99),
            'round_medians_ns': list(self.round_medians),
            'calls_per_s': round(len(ordered) / seconds, 1) if seconds else float('nan'),
        }


def time_once(fn: Callable[[], Any], *, gc_off: bool = False) -> int:
    """Return the ns one call of ``fn`` takes, after a full collection (GC paused if ``gc_off``)."""
    gc.collect()
    if gc_off:
        gc.disable()
    try:
        start = time.perf_counter_ns()
        result = fn()
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    del result
    return elapsed


def rss_bytes() -> int:
    """Return this process's resident set size (Linux ``/proc/self/statm``)."""
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def held_memory(parse: Callable[[], Any], mode: str) -> tuple[Any, dict[str, int]]:
    """Call ``parse()`` and return its result with the memory that holding it costs.

    ``mode`` 'rss' gives ``rss_delta_bytes`` (resident set growth); 'tracemalloc' gives
    ``held_python_heap_bytes`` and ``peak_python_heap_bytes`` (Python allocations). Inputs made
    before the call are not counted. Run it in a fresh interpreter so earlier work cannot skew it.
    """
    gc.collect()
    if mode == 'tracemalloc':
        import tracemalloc

        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        held = parse()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return held, {'held_python_heap_bytes': current - before, 'peak_python_heap_bytes': peak - before}
    if mode != 'rss':
        raise ValueError(f'unknown memory mode {mode!r}')
    before = rss_bytes()
    held = parse()
    gc.collect()
    after = rss_bytes()
    return held, {'rss_delta_bytes': after - before, 'rss_after_bytes': after}
