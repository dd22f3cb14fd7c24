"""NumPy twins of the Numba kernels, for jobs too small to repay the JIT.

Importing numba and loading the compiled kernels costs about a second in a fresh process, more
than counting a CamVid-sized dataset takes. Masks are long runs of one label, so these twins
count *runs*: one ``!=`` pass finds where the value changes (a byte per pixel, no GIL), and
``np.bincount`` weighs each run's value by its length. On real masks that is within ~1.5x of the
Numba word kernels; on noisy arrays (more than one change per 8 pixels) a plain ``np.bincount``
is used instead. Results are exactly the Numba kernels' (the tests compare both with NumPy's
``np.unique``). `count_values` here also holds the dtype dispatch both back ends share.

The scan picks the back end from the workload known after discovery (`use_jit`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

#: Below this many pixels in a scan (images x pixels per image), count with NumPy and never
#: import numba. Measured with ``benchmarks/bench_startup.py`` (fresh processes, 2 workers,
#: same runs): the JIT costs ~2-2.5 s once per process here (import + loading the cached
#: kernels); on 0.63 G pixels (300 Cityscapes masks) NumPy was still 0.9 s faster end to end,
#: on 2.3 G pixels Numba was 15 s faster, so they break even near 0.7-1 G pixels: ~500
#: Cityscapes (1024 x 2048) or ~6,000 CamVid (360 x 480) masks.
#: Once numba is loaded in a process, the kernels are used for every job.
JIT_MIN_PIXELS = 1 << 30

#: ``CLASSWEIGHTS_JIT=1`` forces the Numba kernels, ``0`` forces NumPy; unset or ``auto``
#: decides from the workload.
JIT_ENV = "CLASSWEIGHTS_JIT"


def use_jit(pixels: int) -> bool:
    """Whether a job of ``pixels`` pixels should use the Numba kernels.

    >>> use_jit(367 * 360 * 480) if "classweights.kernels" not in sys.modules else False
    False
    >>> use_jit(3000 * 1024 * 2048)
    True
    """
    forced = os.environ.get(JIT_ENV, "auto").strip().lower()
    if forced in ("1", "true", "yes", "numba"):
        return True
    if forced in ("0", "false", "no", "numpy"):
        return False
    return "classweights.kernels" in sys.modules or pixels >= JIT_MIN_PIXELS


def _run_hist(flat: NDArray[np.generic], minlength: int) -> NDArray[np.int64]:
    """Histogram of a 1-D array of non-negative values (each ``< 2**31`` or so), by runs."""
    n = flat.size
    if n == 0:
        return np.zeros(minlength, np.int64)
    change = flat[1:] != flat[:-1]
    changes = int(np.count_nonzero(change))
    if changes > n // 8:  # noise, not a mask: counting every pixel is cheaper
        return np.bincount(flat.astype(np.intp, copy=False), minlength=minlength).astype(
            np.int64, copy=False
        )
    starts = np.empty(changes + 1, np.intp)
    starts[0] = 0
    np.add(np.flatnonzero(change), 1, out=starts[1:])
    lengths = np.diff(starts, append=n)
    values = flat[starts].astype(np.intp, copy=False)
    # float weights are exact: a run is far shorter than 2**53 pixels
    return np.bincount(values, weights=lengths, minlength=minlength).astype(np.int64)


def hist_u8(flat: NDArray[np.uint8]) -> NDArray[np.int64]:
    return _run_hist(flat, 256)


def hist_u16(flat: NDArray[np.uint16]) -> NDArray[np.int64]:
    return _run_hist(flat, 0)  # as long as the largest value needs


def hist_bounded(flat: NDArray[np.integer], size: int) -> NDArray[np.int64]:
    """``size + 1`` slots; the last counts values outside ``0..size-1`` (as the Numba kernel)."""
    inside = (flat >= 0) & (flat < size)
    n_in = int(np.count_nonzero(inside))
    hist = np.zeros(size + 1, np.int64)
    hist[:size] = _run_hist(flat if n_in == flat.size else flat[inside], size)[:size]
    hist[size] = flat.size - n_in
    return hist


def histogram_colors(rgb: NDArray[np.uint8], keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """As `classweights.kernels.histogram_colors`: counts per sorted packed colour + unknown.

    >>> rgb = np.array([[[0, 0, 0], [255, 0, 0], [1, 2, 3]]], np.uint8)
    >>> histogram_colors(rgb, np.array([0, 0xFF0000], np.int64)).tolist()
    [1, 1, 1]
    """
    flat = np.ascontiguousarray(rgb, dtype=np.uint8).reshape(-1, 3)
    packed = flat[:, 0].astype(np.int32) << 16
    packed |= flat[:, 1].astype(np.int32) << 8
    packed |= flat[:, 2]
    hist = np.zeros(keys.size + 1, np.int64)
    if packed.size == 0:
        return hist
    change = np.flatnonzero(packed[1:] != packed[:-1]) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(starts, append=packed.size)
    colours = packed[starts]
    slot = np.searchsorted(keys, colours)
    found = slot < keys.size
    found[found] = keys[slot[found]] == colours[found]
    slot[~found] = keys.size
    np.add.at(hist, slot, lengths)
    return hist


HistU = Callable[[NDArray[np.generic]], NDArray[np.int64]]


def count_values(
    mask: NDArray[np.generic],
    size_hint: int = 256,
    hist_u8: HistU = hist_u8,
    hist_u16: HistU = hist_u16,
    hist_bounded: Callable[[NDArray[np.generic], int], NDArray[np.int64]] = hist_bounded,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Exact ``(values, counts)`` of the distinct values of an integer or bool mask.

    uint8 and uint16 are histogrammed over their full range; any other integer dtype uses a
    bounded histogram of ``size_hint`` bins and an exact slow path (``np.unique``) for the
    values outside it. Values are int64, sorted. The histogram functions default to the NumPy
    twins; `classweights.kernels.count_values` passes the Numba kernels.

    >>> v, c = count_values(np.array([[5, 5], [300, -2]], np.int32), size_hint=8)
    >>> v.tolist(), c.tolist()
    ([-2, 5, 300], [1, 2, 1])
    """
    a = np.asarray(mask)
    if a.dtype == np.bool_:
        pos = int(np.count_nonzero(a))
        values, counts = np.array([0, 1], np.int64), np.array([a.size - pos, pos], np.int64)
        keep = counts > 0
        return values[keep], counts[keep]
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    flat = np.ascontiguousarray(a).reshape(-1)
    if a.dtype == np.uint8:
        hist = hist_u8(flat)
    elif a.dtype == np.uint16:
        hist = hist_u16(flat)
    else:
        size = max(int(size_hint), 1)
        hist = hist_bounded(flat, size)
        overflow = int(hist[size])
        values = np.flatnonzero(hist[:size])
        counts = hist[values]
        if overflow:
            outside = flat[(flat < 0) | (flat >= size)]
            ov, oc = np.unique(outside, return_counts=True)
            values = np.concatenate([values, ov.astype(np.int64)])
            counts = np.concatenate([counts, oc.astype(np.int64)])
            order = np.argsort(values, kind="stable")
            values, counts = values[order], counts[order]
        return values.astype(np.int64), counts.astype(np.int64)
    values = np.flatnonzero(hist)
    return values.astype(np.int64), hist[values]
