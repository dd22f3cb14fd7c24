"""The fused PNG kernels: unfilter a PNG's inflated rows in place and count their labels, one
row at a time, never as a separate image.

A non-interlaced PNG's image data, once inflated, is ``height`` rows of one filter byte and
``rowbytes`` filtered bytes. The kernels take that buffer laid out as ``[a zero row | the
rows]`` (the zero row, filter byte included, is the "previous row" of the first one) and, row
by row, undo the filter in place (`classweights.kernels.unfilter`, a word at a time where the
filters allow it) and count the row's labels while it is still in the cache: whole 64-bit words
whose labels are all equal at once (a run of them in a register), as the word histograms of
`classweights.kernels` do. They never raise: a filter byte above 4 stops the kernel, which
returns that row's index (the caller lets the library decoder name the damage); -1 means every
row was counted. `inflate_count_bytes` also inflates: it counts a unit of work's grey and
palette masks in one call, calling libdeflate's zlib decoder through its address (a run-time
argument, so the kernel is still cached on disk).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic
from numpy.typing import NDArray

from . import _jit, find_colour, listed_unknown, unknown_slot, unknown_table
from .unfilter import load as _load
from .unfilter import unfilter_row as _unfilter_row

_B8 = np.uint64(0x0101010101010101)
_B16 = np.uint64(0x0001000100010001)
_M8 = np.uint64(0xFF)
_M16 = np.uint64(0xFFFF)
_U8 = np.uint64(8)


@_jit
def _count_bytes(buf, p, n, weight, hist, lanes):  # pragma: no cover - compiled
    # the byte values of n bytes at p, each counted `weight` times: a run of equal uniform
    # words in a register, other words into 8 lane histograms (one per byte of the word, so
    # equal bytes of a word do not wait for each other's increment)
    run_w = np.uint64(0)
    run_n = 0
    i = 0
    while i + 8 <= n:
        w = _load(buf, p + i)
        if w == run_w:
            run_n += 8
        elif w == (w & _M8) * _B8:
            hist[run_w & _M8] += run_n * weight
            run_w = w
            run_n = 8
        else:
            for k in range(8):
                lanes[k, (w >> (_U8 * np.uint64(k))) & _M8] += weight
        i += 8
    hist[run_w & _M8] += run_n * weight
    for j in range(i, n):
        hist[buf[p + j]] += weight


@_jit
def _zero(buf, p, n):  # pragma: no cover - compiled
    # whether the n bytes at p are all 0
    acc = np.uint64(0)
    i = 0
    while i + 8 <= n:
        acc |= _load(buf, p + i)
        i += 8
    for j in range(i, n):
        acc |= np.uint64(buf[p + j])
    return acc == 0


@_jit
def unfilter_count_bytes(
    buf, height, rowbytes, full, part, depth, hist, hist_part
):  # pragma: no cover
    """Grey or palette rows of ``depth`` <= 8 bits: ``hist`` (256) counts the values of the
    first ``full`` bytes of each row (whole samples); ``hist_part`` counts the ``part`` samples
    of the last, partly used byte of a row of 1-, 2- or 4-bit samples. Returns -1, or the index
    of the first row whose filter byte is invalid.

    A row that repeats the row above (Up or Paeth, every raw byte 0: masks have many) is neither
    rebuilt nor counted: the row it repeats is counted once more, and stays the row above."""
    stride = rowbytes + 1
    mask = (1 << depth) - 1
    lanes = np.zeros((8, 256), np.int64)
    held = np.int64(-1)  # the last rebuilt row, counted `weight` times once it stops repeating
    weight = np.int64(0)
    q = np.int64(1)  # the row above: the zero row first
    bad = np.int64(-1)
    for r in range(height):
        p = (r + 1) * stride + 1
        f = buf[p - 1]
        if f > 4:
            bad = r
            break
        if (f == 2 or f == 4) and held >= 0 and _zero(buf, p, rowbytes):
            weight += 1
            continue
        _unfilter_row(buf, p, q, rowbytes, np.int64(1), f)
        if held >= 0:
            _count_row(buf, held, full, part, depth, mask, weight, hist, hist_part, lanes)
        held = p
        weight = 1
        q = p
    if held >= 0 and bad < 0:
        _count_row(buf, held, full, part, depth, mask, weight, hist, hist_part, lanes)
    for k in range(8):
        for v in range(256):
            hist[v] += lanes[k, v]
    return bad


@_jit
def _count_row(buf, p, full, part, depth, mask, weight, hist, hist_part, lanes):  # pragma: no cover
    _count_bytes(buf, p, full, weight, hist, lanes)
    if part:
        b = np.int64(buf[p + full])
        for k in range(part):
            hist_part[(b >> (8 - depth * (k + 1))) & mask] += weight


@intrinsic
def _zlib_decompress(typingctx, fn, d, src, n_src, dst, n_dst, got):  # pragma: no cover
    """Call ``libdeflate_zlib_decompress`` at address ``fn`` (every argument an integer: the
    address is a run-time value, so the kernel that calls it can be cached on disk)."""
    sig = types.int32(*([types.uint64] * 7))

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(ir.IntType(32), [i64] * 6)
        f = builder.inttoptr(args[0], fnty.as_pointer())
        return builder.call(f, args[1:])

    return sig, codegen


@_jit
def inflate_count_bytes(
    fn, dec, streams, starts, sizes, heights, rowbytes, fulls, parts, depths, buf, hists, rest, got
):  # pragma: no cover - compiled
    """`unfilter_count_bytes` of several masks in one call (one release of the GIL for a unit
    of work, not two a mask): mask ``i``'s zlib stream is ``streams[starts[i]:starts[i + 1]]``,
    inflated by libdeflate (``fn``: its ``libdeflate_zlib_decompress``, ``dec``: a
    decompressor) into ``buf`` behind a zero row; its counts go to ``hists[i]`` and
    ``rest[i]``. Returns per mask 0 (counted), 1 (the stream is damaged, short or longer than
    declared) or 2 (a bad filter byte); the caller reads those with the library decoders."""
    status = np.zeros(heights.size, np.int8)
    fn, dec = np.uint64(fn), np.uint64(dec)
    src = np.uint64(streams.ctypes.data)
    dst = np.uint64(buf.ctypes.data)
    for i in range(heights.size):
        stride = rowbytes[i] + 1
        want = heights[i] * stride
        buf[:stride] = 0
        at = src + np.uint64(starts[i])
        into = dst + np.uint64(stride)
        ret = _zlib_decompress(
            fn, dec, at, np.uint64(sizes[i]), into, np.uint64(want), np.uint64(got.ctypes.data)
        )
        if ret != 0 or got[0] != want:
            status[i] = 1
            continue
        depth = depths[i]
        r = unfilter_count_bytes(
            buf, heights[i], rowbytes[i], fulls[i], parts[i], depth, hists[i], rest[i]
        )
        if r >= 0:
            status[i] = 2
    return status


@_jit
def unfilter_count_u16(buf, height, rowbytes, hist):  # pragma: no cover - compiled
    """16-bit grey rows (big-endian samples) into ``hist`` (65536); returns as
    `unfilter_count_bytes` does."""
    stride = rowbytes + 1
    run_w = np.uint64(0)
    run_n = np.int64(0)
    for r in range(height):
        p = (r + 1) * stride + 1
        f = buf[p - 1]
        if f > 4:
            hist[_swap16(run_w)] += run_n
            return r
        _unfilter_row(buf, p, p - stride, rowbytes, np.int64(2), f)
        i = 0
        while i + 8 <= rowbytes:
            w = _load(buf, p + i)
            if w == run_w:
                run_n += 4
            elif w == (w & _M16) * _B16:
                hist[_swap16(run_w)] += run_n
                run_w = w
                run_n = 4
            else:
                for k in range(4):
                    hist[_swap16(w >> (np.uint64(16) * np.uint64(k)))] += 1
            i += 8
        for j in range(i, rowbytes, 2):
            hist[(np.int64(buf[p + j]) << 8) | np.int64(buf[p + j + 1])] += 1
    hist[_swap16(run_w)] += run_n
    return -1


@_jit
def _swap16(w):  # pragma: no cover - compiled
    # the big-endian sample in the low two bytes of a little-endian word
    return np.int64(((w & _M8) << _U8) | ((w >> _U8) & _M8))


@_jit
def unfilter_count_pixels(buf, height, rowbytes, bpp, wide, hist):  # pragma: no cover
    """Grey + alpha rows (``bpp`` bytes a pixel): the grey sample of each pixel (big-endian
    16-bit when ``wide``) into ``hist``; the alpha sample is dropped. Returns as
    `unfilter_count_bytes` does."""
    stride = rowbytes + 1
    run_v = np.int64(0)
    run_n = np.int64(0)
    for r in range(height):
        p = (r + 1) * stride + 1
        f = buf[p - 1]
        if f > 4:
            hist[run_v] += run_n
            return r
        _unfilter_row(buf, p, p - stride, rowbytes, bpp, f)
        for j in range(p, p + rowbytes, bpp):
            v = np.int64(buf[j])
            if wide:
                v = (v << 8) | np.int64(buf[j + 1])
            if v == run_v:
                run_n += 1
            else:
                hist[run_v] += run_n
                run_v = v
                run_n = 1
    hist[run_v] += run_n
    return -1


@_jit
def unfilter_count_colours(
    buf, height, rowbytes, bpp, keys, hist, ukeys, ucounts
):  # pragma: no cover
    """RGB or RGBA rows of 8-bit samples (``bpp`` 3 or 4; alpha dropped), counted against the
    sorted packed colour table ``keys`` exactly as `classweights.kernels.count_colors` counts
    a decoded colour mask (same unknown-colour table, filled in the same pixel order). Returns
    as `unfilter_count_bytes` does."""
    stride = rowbytes + 1
    n_keys = keys.size
    used = 0
    prev = -1
    prev_idx = n_keys
    slot = -1
    for r in range(height):
        p = (r + 1) * stride + 1
        f = buf[p - 1]
        if f > 4:
            return r
        _unfilter_row(buf, p, p - stride, rowbytes, bpp, f)
        for j in range(p, p + rowbytes, bpp):
            key = (np.int64(buf[j]) << 16) | (np.int64(buf[j + 1]) << 8) | np.int64(buf[j + 2])
            if key != prev:
                prev_idx = find_colour(keys, key)
                prev = key
                slot = -1
                if prev_idx == n_keys:
                    slot, used = unknown_slot(key, ukeys, used)
            hist[prev_idx] += 1
            if slot >= 0:
                ucounts[slot] += 1
    return -1


def sample_counts(byte_hist: NDArray[np.int64], depth: int) -> NDArray[np.int64]:
    """Counts of each ``depth``-bit sample value (1, 2 or 4 bits) in bytes counted by value.

    >>> h = np.zeros(256, np.int64); h[0b1011_0001] = 2
    >>> sample_counts(h, 4)[[1, 11]].tolist(), sample_counts(h, 2)[:4].tolist()
    ([2, 2], [2, 2, 2, 2])
    """
    per = 8 // depth
    b = np.arange(256)[:, None]
    samples = (b >> (8 - depth * (np.arange(per) + 1))) & ((1 << depth) - 1)
    return np.bincount(
        samples.ravel(), weights=np.repeat(byte_hist, per), minlength=1 << depth
    ).astype(np.int64)  # float weights are exact below 2**53 pixels


#: ``(bytes a pixel, label bytes)`` of the grey + alpha rows `unfilter_count_pixels` reads
_GREY_ALPHA = {8: (2, False), 16: (4, True)}


def label_counts(
    buf: NDArray[np.uint8], height: int, width: int, depth: int, ctype: int
) -> NDArray[np.int64] | None:
    """Counts of each label value (the index) in the rows of a grey, palette or grey + alpha
    PNG laid out as the kernels take them; None when a row's filter byte is invalid.

    The values are what the library path reads: stored samples (1-, 2- and 4-bit grey are not
    scaled; palette indices, not colours), 16-bit samples as numbers, alpha dropped.

    >>> rows = np.array([0, 0, 0,  1, 7, 0,  2, 0, 1], np.uint8)  # zero row, Sub, Up
    >>> label_counts(rows, 2, 2, 8, 0)[[7, 8]].tolist()
    [3, 1]
    """
    if ctype in (0, 3) and depth <= 8:
        bits = width * depth
        full, part = bits // 8, (bits % 8) // depth
        hist = np.zeros(256, np.int64)
        rest = np.zeros(256, np.int64) if depth < 8 else hist  # (untouched at 8 bits)
        rowbytes = full + (1 if part else 0)
        if unfilter_count_bytes(buf, height, rowbytes, full, part, depth, hist, rest) >= 0:
            return None
        return hist if depth == 8 else sample_counts(hist, depth) + rest[: 1 << depth]
    if ctype == 0 and depth == 16:
        hist = np.zeros(65536, np.int64)
        return None if unfilter_count_u16(buf, height, 2 * width, hist) >= 0 else hist
    bpp, wide = _GREY_ALPHA[depth]
    hist = np.zeros(65536 if wide else 256, np.int64)
    if unfilter_count_pixels(buf, height, bpp * width, bpp, wide, hist) >= 0:
        return None
    return hist


def colour_counts(
    buf: NDArray[np.uint8],
    height: int,
    width: int,
    bpp: int,
    keys: NDArray[np.int64],
    max_unknown: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]] | None:
    """`classweights.kernels.count_colors`' ``(hist, unknown_colours, unknown_counts)`` of the
    rows of an 8-bit RGB (``bpp`` 3) or RGBA (4) PNG; None when a filter byte is invalid."""
    hist = np.zeros(keys.size + 1, np.int64)
    ukeys, ucounts = unknown_table(max_unknown)
    if unfilter_count_colours(buf, height, bpp * width, bpp, keys, hist, ukeys, ucounts) >= 0:
        return None
    return hist, *listed_unknown(ukeys, ucounts)
