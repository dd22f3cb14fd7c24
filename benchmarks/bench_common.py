"""Helpers the benchmark scripts share (no numba import: `bench_startup.py` times cold starts)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path


#: Python expression for a child process's own peak resident KiB. ``ru_maxrss`` survives exec on
#: Linux, so a child started by a parent larger than its own peak would report the parent's size.
OWN_PEAK_KB = (
    "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1])"
)


def median_time(fn: Callable[[], object], repeats: int, warmup: bool = True) -> float:
    """Median wall time of ``repeats`` calls, after one untimed call unless ``warmup=False``."""
    if warmup:
        fn()  # JIT, page cache
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def linked_copies(src: Path, copies: int) -> Path:
    dst = src.parent / f"{src.name}_x{copies}"
    files = sorted(src.glob("*.png"))
    if len(list(dst.glob("*.png"))) != copies * len(files):
        dst.mkdir(exist_ok=True)
        for k in range(copies):
            for f in files:
                target = dst / f"{k:03d}_{f.name}"
                if not target.exists():
                    os.link(f, target)
    return dst
