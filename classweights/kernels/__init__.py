"""Numba histogram kernels: one pass over a mask, counts out.

The kernels loop; Python decides. Each takes contiguous arrays and fills an int64 histogram
over the *raw* values of a mask. They never raise: values outside the histogram go into an
overflow slot, and the caller (`count_mask`) turns that slot into exact per-value counts on a
slow path, and the scan maps raw values to classes through the label space (remap, reduce-zero,
ignore, bounds) on the few hundred histogram bins instead of on every pixel.

Masks are mostly long runs of one label, so the 8- and 16-bit kernels read the mask as 64-bit
words and add a whole word at once when its bytes (or 16-bit halves) are all equal.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ..kernels_numpy import count_values as _count_values


def _jit(func):
    """``njit(cache=True, nogil=True)``; without any writable cache location (a read-only
    install and no writable home), numba refuses ``cache=True``: compile per process instead."""
    try:
        return njit(cache=True, nogil=True)(func)
    except RuntimeError:
        return njit(nogil=True)(func)


#: The package's one Numba decorator, for kernels that live beside their room (objects.py).
kernel = _jit

_B8 = np.uint64(0x0101010101010101)
_B16 = np.uint64(0x0001000100010001)
_M8 = np.uint64(0xFF)
_M16 = np.uint64(0xFFFF)


@_jit
def _hist_u8(words, tail, hist):  # pragma: no cover - compiled
    # A run of identical uniform words is counted in a register and added once: adding to
    # hist[b] for every word would chain each iteration to the previous store (~5 cycles).
    b8 = np.uint64(0x0101010101010101)
    m8 = np.uint64(0xFF)
    run_w = np.uint64(0)  # a uniform word (all bytes 0) ...
    run_n = 0  # ... seen run_n / 8 times in a row
    for i in range(words.size):
        w = words[i]
        if w == run_w:
            run_n += 8
            continue
        b = w & m8
        if w == b * b8:
            hist[run_w & m8] += run_n
            run_w = w
            run_n = 8
        else:
            for k in range(8):
                hist[(w >> np.uint64(8 * k)) & m8] += 1
    hist[run_w & m8] += run_n
    for i in range(tail.size):
        hist[tail[i]] += 1


@_jit
def _hist_u16(words, tail, hist):  # pragma: no cover - compiled
    b16 = np.uint64(0x0001000100010001)
    m16 = np.uint64(0xFFFF)
    run_w = np.uint64(0)
    run_n = 0
    for i in range(words.size):
        w = words[i]
        if w == run_w:
            run_n += 4
            continue
        b = w & m16
        if w == b * b16:
            hist[run_w & m16] += run_n
            run_w = w
            run_n = 4
        else:
            for k in range(4):
                hist[(w >> np.uint64(16 * k)) & m16] += 1
    hist[run_w & m16] += run_n
    for i in range(tail.size):
        hist[tail[i]] += 1


@_jit
def _hist_bounded(a, hist):  # pragma: no cover - compiled
    # hist has size + 1 slots; values < 0 or >= size land in the last (overflow) slot
    size = hist.size - 1
    for i in range(a.size):
        v = a[i]
        if v >= 0 and v < size:
            hist[v] += 1
        else:
            hist[size] += 1


@_jit
def find_colour(keys, key):  # pragma: no cover - compiled
    """Index of ``key`` in the sorted ``keys``, or ``keys.size`` when absent (binary search)."""
    lo = 0
    hi = keys.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < keys.size and keys[lo] == key else keys.size


@_jit
def unknown_slot(key, ukeys, used):  # pragma: no cover - compiled
    """``(slot, used)``: the slot of an unknown colour in the open-addressing table ``ukeys``
    (-1 when empty, size a power of two, filled at most half), claimed if new and there is
    room; slot -1 when the table is full."""
    if not ukeys.size:
        return -1, used
    mask = ukeys.size - 1
    h = (key * 2654435761) & mask
    while True:
        if ukeys[h] == key:
            return h, used
        if ukeys[h] == -1:
            if used < ukeys.size // 2:
                ukeys[h] = key
                return h, used + 1
            return -1, used
        h = (h + 1) & mask


@_jit
def _hist_colors(rgb, keys, hist, ukeys, ucounts):  # pragma: no cover - compiled
    # rgb: (n, 3) uint8; keys: sorted packed 0xRRGGBB colours; hist: len(keys) + 1 (unknown).
    # Unknown colours are also counted per colour in an open-addressing table (ukeys = -1 when
    # empty, size a power of two) filled at most half; colours that find it full count only
    # in hist[-1]. Nothing is allocated per pixel.
    n_keys = keys.size
    used = 0
    prev = -1
    prev_idx = n_keys
    slot = -1
    for i in range(rgb.shape[0]):
        key = (np.int64(rgb[i, 0]) << 16) | (np.int64(rgb[i, 1]) << 8) | np.int64(rgb[i, 2])
        if key != prev:
            prev_idx = find_colour(keys, key)
            prev = key
            slot = -1
            if prev_idx == n_keys:
                slot, used = unknown_slot(key, ukeys, used)
        hist[prev_idx] += 1
        if slot >= 0:
            ucounts[slot] += 1


@_jit
def _hist_stack(words, per_image, tail, hist, wide):  # pragma: no cover - compiled
    # image i is words[i * per_image:(i + 1) * per_image]; one call for a whole stack, so the
    # per-image Python work (and the GIL) of counting small masks one by one is gone
    for i in range(hist.shape[0]):
        w = words[i * per_image : (i + 1) * per_image]
        if wide:
            _hist_u16(w, tail, hist[i])
        else:
            _hist_u8(w, tail, hist[i])


def histogram_stack(stack: NDArray[np.generic]) -> NDArray[np.int64] | None:
    """``(k, 256)`` or ``(k, 65536)`` counts of each image of a C-contiguous ``(k, ...)`` uint8 or
    uint16 stack, or None when an image is empty or not a whole number of 64-bit words (or the
    buffer is not aligned): count those one by one.

    >>> h = histogram_stack(np.array([[0] * 8, [3] * 7 + [0]], np.uint8))
    >>> h[:, [0, 3]].tolist()
    [[8, 0], [1, 7]]
    """
    a = np.asarray(stack)
    if a.dtype not in (np.uint8, np.uint16) or not a.dtype.isnative or a.ndim < 2:
        return None
    per = a[0].size if a.shape[0] else 0
    if not per or not a.flags.c_contiguous or (per * a.itemsize) % 8 or a.ctypes.data % 8:
        return None
    words = a.reshape(-1).view(np.uint64)
    wide = a.dtype == np.uint16
    hist = np.zeros((a.shape[0], 65536 if wide else 256), np.int64)
    tail = np.zeros(0, a.dtype)
    _hist_stack(words, per * a.itemsize // 8, tail, hist, wide)
    return hist


def _split_words(flat: NDArray[np.generic]) -> tuple[NDArray[np.uint64], NDArray[np.generic]]:
    """View the 8-byte-aligned body of a contiguous 1-D array as uint64 words, plus its tail."""
    per_word = 8 // flat.itemsize
    offset = (-flat.ctypes.data % 8) // flat.itemsize if flat.size else 0
    if offset:  # rare: an unaligned buffer; copying keeps the kernel simple and exact
        flat = flat.copy()
    n_body = (flat.size // per_word) * per_word
    return flat[:n_body].view(np.uint64), flat[n_body:]


def histogram_u8(mask: NDArray[np.uint8]) -> NDArray[np.int64]:
    """Counts of each byte value 0..255 in a uint8 mask (any shape).

    >>> histogram_u8(np.array([[0, 0, 3], [255, 3, 3]], np.uint8))[[0, 3, 255]].tolist()
    [2, 3, 1]
    """
    hist = np.zeros(256, np.int64)
    words, tail = _split_words(np.ascontiguousarray(mask).reshape(-1))
    _hist_u8(words, tail, hist)
    return hist


def histogram_u16(mask: NDArray[np.uint16]) -> NDArray[np.int64]:
    """Counts of each value 0..65535 in a native-endian uint16 mask.

    >>> histogram_u16(np.array([1000, 1000, 7], np.uint16))[[7, 1000]].tolist()
    [1, 2]
    """
    hist = np.zeros(65536, np.int64)
    words, tail = _split_words(np.ascontiguousarray(mask, dtype=np.uint16).reshape(-1))
    _hist_u16(words, tail, hist)
    return hist


def histogram_bounded(mask: NDArray[np.integer], size: int) -> NDArray[np.int64]:
    """Counts of values ``0..size-1``; the extra last slot counts every other value.

    >>> histogram_bounded(np.array([-1, 0, 2, 2, 70000], np.int32), 3).tolist()
    [1, 0, 2, 2]
    """
    hist = np.zeros(size + 1, np.int64)
    _hist_bounded(np.ascontiguousarray(mask).reshape(-1), hist)
    return hist


def histogram_colors(rgb: NDArray[np.uint8], keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """Counts of each colour of a sorted packed colour table in an ``(..., 3)`` uint8 mask.

    ``keys`` are ``r << 16 | g << 8 | b``, sorted ascending; the last slot counts pixels whose
    colour is not in the table.

    >>> rgb = np.array([[[0, 0, 0], [255, 0, 0], [1, 2, 3]]], np.uint8)
    >>> histogram_colors(rgb, np.array([0, 0xFF0000], np.int64)).tolist()
    [1, 1, 1]
    """
    return count_colors(rgb, keys, max_unknown=0)[0]


def count_colors(
    rgb: NDArray[np.uint8], keys: NDArray[np.int64], max_unknown: int = 1024
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """``(hist, unknown_colours, unknown_counts)`` of an ``(..., 3)`` uint8 mask in one pass.

    ``hist`` is :func:`histogram_colors`' (last slot: every pixel whose colour is not in
    ``keys``). The first ``max_unknown`` distinct unknown colours met are also counted one by
    one (packed, sorted); the pixels of further ones are only in ``hist[-1]``. Extra memory
    is a fixed ``32 * max_unknown`` bytes, never a copy of the mask (a uint8 mask, or the RGB
    view of an RGBA one, is read in place).

    >>> rgb = np.array([[[0, 0, 0], [9, 9, 9], [1, 2, 3], [9, 9, 9]]], np.uint8)
    >>> h, u, c = count_colors(rgb, np.array([0], np.int64))
    >>> h.tolist(), [f"#{k:06x}" for k in u], c.tolist()
    ([1, 3], ['#010203', '#090909'], [1, 2])
    """
    hist = np.zeros(keys.size + 1, np.int64)
    ukeys, ucounts = unknown_table(max_unknown)
    flat = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3)  # a view where the layout allows
    _hist_colors(flat, np.ascontiguousarray(keys, dtype=np.int64), hist, ukeys, ucounts)
    return hist, *listed_unknown(ukeys, ucounts)


def unknown_table(max_unknown: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The empty open-addressing table (keys -1, counts 0) that lists ``max_unknown``
    unknown colours one by one (`unknown_slot`)."""
    size = 1 << int(2 * max_unknown - 1).bit_length() if max_unknown > 0 else 0
    return np.full(size, -1, np.int64), np.zeros(size, np.int64)


def listed_unknown(
    ukeys: NDArray[np.int64], ucounts: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The unknown colours of a filled `unknown_table` and their counts, sorted by colour."""
    seen = ucounts > 0
    order = np.argsort(ukeys[seen])
    return ukeys[seen][order], ucounts[seen][order]


def count_values(mask: NDArray[np.generic], size_hint: int = 256) -> tuple[NDArray, NDArray]:
    """Exact ``(values, counts)`` of the distinct values of an integer or bool mask.

    Chooses the kernel by dtype: uint8 and uint16 use the word kernels over their full value
    range; any other integer dtype uses a bounded histogram of ``size_hint`` bins and an exact
    slow path (``np.unique``) for the values outside it. Values are int64, sorted. The same
    dispatch with NumPy histograms is `classweights.kernels_numpy.count_values`.

    >>> v, c = count_values(np.array([[5, 5], [300, -2]], np.int32), size_hint=8)
    >>> v.tolist(), c.tolist()
    ([-2, 5, 300], [1, 2, 1])
    """
    return _count_values(mask, size_hint, histogram_u8, histogram_u16, histogram_bounded)
