"""A tiny PNG encoder for the fused decoder's tests: it picks the filter of every row, splits the
image data into IDAT chunks as told, and can forge what real encoders never write.

Independent of `classweights` (written from the PNG specification, sections 7-10): the tests
compare the fused counts with the samples given here, and with Pillow / libpng decodes.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Sequence

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_rows(samples: np.ndarray, depth: int, ctype: int) -> list[bytes]:
    """Each row's bytes: samples packed MSB first below 8 bits, big-endian at 16."""
    a = np.asarray(samples)
    h, w = a.shape[:2]
    flat = a.reshape(h, w * CHANNELS[ctype]).astype(np.uint32)
    rows = []
    for r in range(h):
        if depth == 16:
            rows.append(flat[r].astype(">u2").tobytes())
        elif depth == 8:
            rows.append(flat[r].astype(np.uint8).tobytes())
        else:
            per = 8 // depth
            n = -(-flat.shape[1] // per)
            padded = np.zeros(n * per, np.uint32)
            padded[: flat.shape[1]] = flat[r]
            shifts = 8 - depth * (np.arange(per) + 1)
            rows.append((padded.reshape(n, per) << shifts).sum(1).astype(np.uint8).tobytes())
    return rows


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def filter_row(row: bytes, prev: bytes, bpp: int, f: int) -> bytes:
    """The filtered bytes of one row (the encoder side of the five PNG filters)."""
    x = np.frombuffer(row, np.uint8).astype(np.int64)
    b = np.frombuffer(prev, np.uint8).astype(np.int64)
    a = np.concatenate([np.zeros(bpp, np.int64), x[:-bpp]]) if len(x) else x
    c = np.concatenate([np.zeros(bpp, np.int64), b[:-bpp]]) if len(b) else b
    pred = [0 * x, a, b, (a + b) // 2, _paeth(a, b, c)][f]
    return ((x - pred) % 256).astype(np.uint8).tobytes()


def encode(
    samples: np.ndarray,
    depth: int = 8,
    ctype: int = 0,
    filters: Sequence[int] | int = 0,
    *,
    level: int = 6,
    split: Sequence[int] = (),
    plte: bytes | None = None,
    extra: Sequence[tuple[bytes, bytes]] = (),
    raw: bytes | None = None,
    stream: bytes | None = None,
) -> bytes:
    """A PNG of ``samples`` (H x W, or H x W x channels).

    ``filters``: one filter type for every row, or one per row. ``split``: cut the zlib stream
    at these offsets into several IDATs (repeat an offset for a zero-length IDAT). ``plte``:
    the palette (ctype 3 gets a grey one by default). ``extra``: ``(type, data)`` chunks put
    before the IDATs. ``raw`` / ``stream`` replace the filtered bytes / the zlib stream (to
    forge damage).
    """
    a = np.asarray(samples)
    h, w = a.shape[:2]
    rows = pack_rows(a, depth, ctype)
    bpp = max(1, depth * CHANNELS[ctype] // 8)
    per_row = [filters] * h if isinstance(filters, int) else list(filters)
    if raw is None:
        prev = bytes(len(rows[0])) if rows else b""
        out = []
        for row, f in zip(rows, per_row, strict=True):
            out.append(bytes([f]) + filter_row(row, prev, bpp, f))
            prev = row
        raw = b"".join(out)
    data = zlib.compress(raw, level) if stream is None else stream
    cuts = [0, *split, len(data)]
    idats = b"".join(chunk(b"IDAT", data[s:e]) for s, e in itertools.pairwise(cuts))
    head = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
    if ctype == 3:
        grey = bytes(np.repeat(np.arange(1 << depth, dtype=np.uint8), 3))
        head += chunk(b"PLTE", plte if plte is not None else grey)
    for kind, payload in extra:
        head += chunk(kind, payload)
    return SIGNATURE + head + idats + chunk(b"IEND", b"")
