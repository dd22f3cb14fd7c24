"""Undoing the PNG row filters in place, a 64-bit word at a time where the filters allow it
(the first half of the fused PNG kernels, `classweights.kernels.png`).

Each row of a PNG's inflated image data is one filter byte and ``rowbytes`` filtered bytes;
`unfilter_row` rebuilds a row in place from itself and the row above (None, Sub, Up, Average,
Paeth; PNG specification, section 9), ``bpp`` bytes a pixel (at least 1). Up is a byte-wise
add of the row above (SWAR: no carry between the bytes of a word), Sub a byte-wise prefix sum
over pixels (three SWAR adds) plus the left pixel, and an Average or Paeth word whose raw bytes
are 0 repeats its left pixel over a uniform neighbourhood (and, for Paeth, the row above where
that row continues); only other words are rebuilt byte by byte. Words are read and written at
any alignment with the `load` / `store` intrinsics (unaligned 8-byte loads and stores, no
bounds check: the callers keep every access inside the buffer).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from . import _jit

_L7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_H8 = np.uint64(0x8080808080808080)
_B8 = np.uint64(0x0101010101010101)
_U8 = np.uint64(8)
_U56 = np.uint64(56)
_U64 = np.uint64(64)


@intrinsic
def load(typingctx, buf, at):  # pragma: no cover - compiled
    """The 8 bytes of a uint8 array from byte ``at`` (any alignment), as a little-endian word.
    No bounds check: callers keep ``at + 8 <= buf.size``."""
    if not (isinstance(buf, types.Array) and buf.dtype == types.uint8):
        return None

    def codegen(context, builder, signature, args):
        ary, i = args
        data = context.make_array(signature.args[0])(context, builder, ary).data
        ptr = builder.bitcast(builder.gep(data, [i]), ir.IntType(64).as_pointer())
        return builder.load(ptr, align=1)

    return types.uint64(buf, types.intp), codegen


@intrinsic
def store(typingctx, buf, at, word):  # pragma: no cover - compiled
    """Write a word as 8 bytes of a uint8 array from byte ``at`` (any alignment, no check)."""
    if not (isinstance(buf, types.Array) and buf.dtype == types.uint8):
        return None

    def codegen(context, builder, signature, args):
        ary, i, w = args
        data = context.make_array(signature.args[0])(context, builder, ary).data
        ptr = builder.bitcast(builder.gep(data, [i]), ir.IntType(64).as_pointer())
        builder.store(w, ptr, align=1)
        return context.get_dummy_value()

    return types.void(buf, types.intp, types.uint64), codegen


@_jit
def _add(a, b):  # pragma: no cover - compiled
    """Byte-wise ``a + b`` mod 256 of two words (no carry between bytes)."""
    return ((a & _L7) + (b & _L7)) ^ ((a ^ b) & _H8)


@_jit
def _unfilter_bytes(buf, p, q, lo, hi, bpp, f):  # pragma: no cover - compiled
    # bytes lo..hi-1 of the row at p (the row above at q), one at a time
    for j in range(lo, hi):
        x = np.int64(buf[p + j])
        a = np.int64(buf[p + j - bpp]) if j >= bpp else np.int64(0)
        b = np.int64(buf[q + j])
        if f == 1:
            x += a
        elif f == 2:
            x += b
        elif f == 3:
            x += (a + b) >> 1
        elif f == 4:
            c = np.int64(buf[q + j - bpp]) if j >= bpp else np.int64(0)
            pp = a + b - c
            pa, pb, pc = abs(pp - a), abs(pp - b), abs(pp - c)
            if pa <= pb and pa <= pc:
                x += a
            elif pb <= pc:
                x += b
            else:
                x += c
        buf[p + j] = np.uint8(x & 0xFF)


@_jit
def unfilter_row(buf, p, q, n, bpp, f):  # pragma: no cover - compiled
    """Undo filter ``f`` of the ``n`` bytes at ``p`` in place (the row above at ``q``)."""
    if f == 0:
        return
    i = 0
    if f == 2:  # Up: add the row above, a word at a time
        while i + 8 <= n:
            store(buf, p + i, _add(load(buf, p + i), load(buf, q + i)))
            i += 8
        _unfilter_bytes(buf, p, q, i, n, bpp, f)
        return
    # Sub, Average, Paeth: the first word's left pixel lies outside the row (zero)
    i = min(8, n)
    _unfilter_bytes(buf, p, q, np.int64(0), i, bpp, f)
    if bpp == 1:
        i = _unfilter_words_1(buf, p, q, i, n, f)
    else:
        i = _unfilter_words(buf, p, q, i, n, bpp, f)
    _unfilter_bytes(buf, p, q, i, n, bpp, f)


@_jit
def _unfilter_words_1(buf, p, q, i, n, f):  # pragma: no cover - compiled
    # Sub, Average or Paeth of one byte a pixel, from byte i (>= 8) a word at a time; returns
    # where the whole words end. The last word written stays in a register (reading its last
    # byte back from memory would chain every word to the previous store), and stretches of
    # raw zeros are inner loops that store a word they do not compute from the last one (a
    # select between the two would chain every word to the previous word's arithmetic).
    w = load(buf, p + i - 8)
    while i + 8 <= n:
        raw = load(buf, p + i)
        left = w >> _U56
        if raw == 0 and (f == 1 or (f == 4 and np.uint64(buf[q + i - 1]) == left)):
            if f == 1:  # Sub: the left byte repeats
                w = left * _B8
                while True:
                    store(buf, p + i, w)
                    i += 8
                    if i + 8 > n or load(buf, p + i):
                        break
            else:  # Paeth where the row above continues: it repeats, while raw bytes are 0
                while True:
                    w = load(buf, q + i)
                    store(buf, p + i, w)
                    i += 8
                    if i + 8 > n or load(buf, p + i):
                        break
            continue
        pattern = left * _B8  # the byte before this word, repeated
        if f == 1:  # Sub: a byte-wise prefix sum, plus the left byte
            raw = _add(raw, raw << _U8)
            raw = _add(raw, raw << np.uint64(16))
            raw = _add(raw, raw << np.uint64(32))
            w = _add(raw, pattern)
            store(buf, p + i, w)
        elif (
            raw == 0
            and load(buf, q + i) == np.uint64(buf[q + i - 1]) * _B8
            and (f == 4 or load(buf, q + i) == pattern)
        ):  # Average or Paeth under a uniform stretch: the left byte repeats (Average only
            w = pattern  # where that byte is the same value)
            store(buf, p + i, w)
        else:
            w = _unfilter_bytes_1(buf, p, q, i, f, left)
        i += 8
    return i


@_jit
def _unfilter_bytes_1(buf, p, q, i, f, left):  # pragma: no cover - compiled
    # Average or Paeth of the 8 bytes from i, one byte a pixel, the left byte in a register;
    # returns them as a word
    a = np.int64(left)
    c = np.int64(buf[q + i - 1])
    w = np.uint64(0)
    for k in range(8):
        b = np.int64(buf[q + i + k])
        if f == 3:
            pred = (a + b) >> 1
        else:
            pp = a + b - c
            pa, pb, pc = abs(pp - a), abs(pp - b), abs(pp - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
        a = (np.int64(buf[p + i + k]) + pred) & 0xFF
        c = b
        w |= np.uint64(a) << (_U8 * np.uint64(k))
    store(buf, p + i, w)
    return w


@_jit
def _unfilter_words(buf, p, q, i, n, bpp, f):  # pragma: no cover - compiled
    # as _unfilter_words_1 for pixels of 2, 3 or 4 bytes
    shift = _U8 * np.uint64(bpp)
    pixel = (np.uint64(1) << shift) - np.uint64(1)
    w = load(buf, p + i - 8)
    while i + 8 <= n:
        raw = load(buf, p + i)
        left = w >> (_U64 - shift)  # the pixel before this word (unfiltered)
        pattern = _spread(left, shift)
        if f == 1:  # Sub: a byte-wise prefix sum over pixels, plus the left pixel
            s = shift
            while s < _U64:
                raw = _add(raw, raw << s)
                s += s
            w = _add(raw, pattern)
            store(buf, p + i, w)
            i += 8
            continue
        up = load(buf, q + i)
        ul = load(buf, q + i - bpp) & pixel
        if raw == 0 and f == 4 and ul == left:
            w = up  # Paeth, the row above continued: it repeats
            store(buf, p + i, w)
        elif raw == 0 and up == _spread(ul, shift) and (f == 4 or ul == left):
            w = pattern  # Average or Paeth under a uniform stretch: the left pixel repeats
            store(buf, p + i, w)
        else:
            _unfilter_bytes(buf, p, q, i, i + 8, bpp, f)
            w = load(buf, p + i)
        i += 8
    return i


@_jit
def _spread(pixel, shift):  # pragma: no cover - compiled
    # a pixel of shift bits repeated over a word
    s = shift
    while s < _U64:
        pixel |= pixel << s
        s += s
    return pixel
