"""Strict decoding: a mask that does not hold all of its declared pixels is a read error.

Pillow fills missing rows with zeros when ``ImageFile.LOAD_TRUNCATED_IMAGES`` is set (a
process-wide flag training scripts often set) and, for a PNG whose zlib stream is complete but
short, even without it; zeros would be counted as class 0. This module checks per call, without
touching any Pillow global:

- a PNG's image stream is inflated (bounded) and must hold every row the header declares, each
  starting with a valid filter byte, before a decoder sees it;
- other formats are opened through their Pillow plugin class (no process-wide
  ``MAX_IMAGE_PIXELS`` check; ``max_pixels`` is checked here from the header), uncompressed
  tiles must fit in the file before any pixel memory is allocated, and a decoder that runs out
  of data while loading is an error whatever the flag says.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np

from ..errors import MaskReadError
from .entries import PNG_SIGNATURE

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_FIX = "; re-export or re-download the file"


def png_rows(width: int, height: int, bits: int, interlaced: bool) -> list[tuple[int, int]]:
    """``(rows, bytes per row incl. the filter byte)`` of each pass of a PNG's image stream.

    >>> png_rows(8, 8, 8, False)
    [(8, 9)]
    >>> [r for r, _ in png_rows(8, 8, 8, True)]
    [1, 1, 1, 2, 2, 4, 4]
    """
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    out = []
    for x0, y0, dx, dy in passes:
        w = (width - x0 + dx - 1) // dx if width > x0 else 0
        h = (height - y0 + dy - 1) // dy if height > y0 else 0
        if w and h:
            out.append((h, 1 + (w * bits + 7) // 8))
    return out


def check_png_data(data: bytes, path: str) -> None:
    """Refuse a PNG whose image stream holds fewer rows than its header declares.

    The chunks must already be verified (:func:`check_png_chunks`).
    The stream is inflated into a buffer of exactly the declared size (zlib-ng through
    imagecodecs when present: ~0.06 ms for a 500 x 375 mask), else in 1 MiB pieces never past
    it, so a bomb costs no extra memory; every row must start with a filter byte 0..4.
    """
    w, h, depth, ctype = struct.unpack_from(">IIBB", data, 16)
    interlaced = data[28] == 1
    if ctype not in _CHANNELS:
        raise MaskReadError(f"{path}: the PNG declares an invalid colour type {ctype}{_FIX}")
    segments = []  # (start, stop, stride) of each pass in the inflated stream
    start = 0
    for rows, stride in png_rows(w, h, depth * _CHANNELS[ctype], interlaced):
        segments.append((start, start + rows * stride, stride))
        start += rows * stride
    expected = start
    idat = _idat(data)
    fast = _inflate_fast(idat, expected)
    if fast is not None and len(fast) == expected:
        _check_filters(fast, 0, segments, path)
        return
    d = zlib.decompressobj()  # exact and bounded: finds how much is there, and names it
    done = 0
    try:
        piece = idat
        while piece and done < expected and not d.eof:
            out = d.decompress(piece, min(1 << 20, expected - done))
            piece = d.unconsumed_tail
            _check_filters(out, done, segments, path)
            done += len(out)
    except zlib.error as e:
        raise MaskReadError(
            f"{path}: the PNG is damaged: its image data is corrupt ({e}){_FIX}"
        ) from None
    if done < expected:
        got = _rows_in(done, segments)
        raise MaskReadError(
            f"{path}: the PNG is damaged: its image data holds {got} of its {h} rows ({done:,} "
            f"of {expected:,} bytes); the missing rows would be read as zeros{_FIX}"
        )


def _idat(data: bytes) -> bytes:
    """The concatenated IDAT payloads of a PNG whose chunks are already verified."""
    pieces = []
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IDAT":
            pieces.append(data[pos + 8 : pos + 8 + length])
        elif kind == b"IEND":
            break
        pos += 12 + length
    return b"".join(pieces)


def _inflate_fast(idat: bytes, expected: int) -> bytes | None:
    """zlib-ng (through imagecodecs) inflates ~7x faster than ``zlib``; None if unavailable."""
    try:
        import imagecodecs

        return imagecodecs.zlibng_decode(idat, out=expected)
    except Exception:  # missing, or a damaged stream: the exact path below names the problem
        return None


def _check_filters(out: bytes, offset: int, segments: list[tuple[int, int, int]], path: str):
    arr = np.frombuffer(out, np.uint8)
    end = offset + len(out)
    for s0, s1, stride in segments:
        lo, hi = max(s0, offset), min(s1, end)
        if lo >= hi:
            continue
        first = lo + (-(lo - s0)) % stride
        if first < hi and (arr[first - offset : hi - offset : stride] > 4).any():
            raise MaskReadError(
                f"{path}: the PNG is damaged: its image data holds an invalid row filter{_FIX}"
            )


def _rows_in(done: int, segments: list[tuple[int, int, int]]) -> int:
    if len(segments) > 1:  # interlaced: count whole passes' rows only roughly
        return sum((min(done, s1) - s0) // st for s0, s1, st in segments if done > s0)
    _, _, stride = segments[0]
    return done // stride


class _Tracked(io.BytesIO):
    """A file whose reads note when a decoder asked for data past the end."""

    ran_out = False

    def read(self, size: int | None = -1) -> bytes:
        b = super().read(size)
        if not b and size:
            self.ran_out = True
        return b


_SIGNATURES = (
    (PNG_SIGNATURE, "Png"),
    (b"II*\x00", "Tiff"),
    (b"MM\x00*", "Tiff"),
    (b"BM", "Bmp"),
    (b"GIF87a", "Gif"),
    (b"GIF89a", "Gif"),
)
# bits per pixel of Pillow raw modes; others count as 1 bit, a lower bound that still stops a
# header declaring far more pixels than the file holds before memory is allocated
_RAW_BITS = {
    "1": 1,
    "1;I": 1,
    "P;1": 1,
    "P;2": 2,
    "L;2": 2,
    "L;2I": 2,
    "P;4": 4,
    "L;4": 4,
    "L;4I": 4,
    "L": 8,
    "L;I": 8,
    "P": 8,
    "LA": 16,
    "PA": 16,
    "I;16": 16,
    "I;16B": 16,
    "I;16L": 16,
    "I;16N": 16,
    "I": 32,
    "I;32": 32,
    "F": 32,
    "RGB": 24,
    "RGBA": 32,
    "RGBX": 32,
}


def open_strict(data: bytes, path: str, max_pixels: int) -> Any:
    """Open and fully load an image with Pillow, strictly, whatever Pillow's globals say."""
    import importlib

    from PIL import Image

    cls = None
    for sig, name in _SIGNATURES:
        if data.startswith(sig):
            plugin = importlib.import_module(f"PIL.{name}ImagePlugin")
            cls = getattr(plugin, f"{name}ImageFile")
            break
    if cls is None:
        raise MaskReadError(
            f"{path}: not a PNG, TIFF, BMP or GIF image (it starts with {data[:8]!r}); save the "
            "mask as a lossless PNG"
        )
    if name == "Tiff":
        cls = _tiff_class()
    fp = _Tracked(data)
    try:
        im = cls(fp)  # reads the header only
    except Image.DecompressionBombError:
        raise MaskReadError(
            f"{path}: Pillow's process-wide limit (PIL.Image.MAX_IMAGE_PIXELS = "
            f"{Image.MAX_IMAGE_PIXELS:,}) refuses this image; raise it in your script, or save "
            "the mask as PNG"
        ) from None
    w, h = im.size
    if w * h > max_pixels:
        raise MaskReadError(
            f"{path}: declares {w}x{h} = {w * h:,} pixels, above the limit of {max_pixels:,}; "
            "raise it with --max-pixels if the file is genuine"
        )
    if getattr(im, "n_frames", 1) > 1:
        raise MaskReadError(f"{path}: has {im.n_frames} frames; a mask must be a single image")
    for tile in im.tile:  # uncompressed data must be in the file before memory is allocated
        codec, (x0, y0, x1, y1), offset, args = tile[0], tile[1], tile[2], tile[3]
        raw = args[0] if isinstance(args, tuple) and args else args
        bits = _RAW_BITS.get(raw, 1) if isinstance(raw, str) else 1
        need = (((x1 - x0) * bits + 7) // 8) * (y1 - y0)
        if codec == "raw" and offset + need > len(data):
            raise MaskReadError(
                f"{path}: the image data is cut short: its {w}x{h} pixels need at least "
                f"{offset + need:,} bytes but the file holds {len(data):,} (truncated){_FIX}"
            )
    im.load()
    if fp.ran_out:
        raise MaskReadError(
            f"{path}: the image data is cut short: the decoder ran out of data before the last "
            f"of its {h} rows (truncated){_FIX}"
        )
    return im


def tiff_stored_values(im: Any, arr: Any) -> Any:
    """The labels a grey TIFF stores, where Pillow shows grey levels instead.

    Pillow inverts WhiteIsZero TIFFs (PhotometricInterpretation 0: label 0 reads as 255) and
    scales 2- and 4-bit grey to 0..255 (label 1 reads as 85 or 17); both are undone here.
    """
    tags = getattr(im, "tag_v2", None)
    if tags is None or im.mode not in ("L", "1"):
        return arr
    bits = tags.get(258, 8)
    bits = bits[0] if isinstance(bits, tuple) else bits
    if tags.get(262) == 0:
        arr = (1 if im.mode == "1" else 255) - arr
    if im.mode == "L" and bits in (2, 4):
        arr = arr // (255 // ((1 << bits) - 1))
    return arr.astype(np.uint8, copy=False)


_TIFF: list[Any] = []


def _tiff_class() -> Any:
    """Pillow's TIFF plugin without its process-wide pixel limit (``max_pixels`` is ours)."""
    if not _TIFF:
        from PIL import Image, ImageFile, TiffImagePlugin

        class StrictTiff(TiffImagePlugin.TiffImageFile):
            def load_prepare(self) -> None:
                size = getattr(self, "_tile_size", None)
                if getattr(self, "_im", None) is None and size is not None:
                    self.im = Image.core.new(self.mode, size)
                ImageFile.ImageFile.load_prepare(self)

        _TIFF.append(StrictTiff)
    return _TIFF[0]
