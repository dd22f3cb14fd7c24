"""PNG files: the header, the chunk walk (every CRC), and the first half of the fused path:
the image data inflated once, with libdeflate, into a reused buffer.

The fused path counts a PNG without decoding it into an image: `inflate_png` walks and checks
the chunks, inflates the concatenated IDAT payloads into a buffer of exactly the declared size
(``height * (1 + rowbytes)``) and hands back the still-filtered rows; the Numba kernels of
`classweights.kernels.png` unfilter and count them (`classweights.counting` composes the two).
libdeflate's zlib decoder checks the zlib header, the end of the deflate stream and its
Adler-32, and refuses a stream that inflates to more than the buffer holds; the length of what
it wrote shows a short one. Anything it does not handle, or any check that fails, is left to
the library decoders of `readers.py`, which read the file as before (and name the damage), so
the fused path never accepts or refuses a file differently (docs/trust.md).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError, MaskReadError
from .entries import PNG_DECODERS, PNG_SIGNATURE, ReadOptions
from .scratch import Scratch

#: ``CLASSWEIGHTS_PNG_DECODER=library`` forces the library decoders for every scan.
PNG_DECODER_ENV = "CLASSWEIGHTS_PNG_DECODER"

#: bit depths the fused path reads, per colour type (16-bit colour is refused as today, by
#: the library path; colour types 2 and 6 only with a colour table)
FUSED_DEPTHS = {0: (1, 2, 4, 8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 2: (8,), 6: (8,)}
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_CRITICAL = (b"IHDR", b"PLTE", b"IDAT", b"IEND")
#: chunks from this size on are checked with libdeflate's CRC-32 (10x zlib's speed here);
#: smaller ones with zlib's, whose call costs less
_BIG_CHUNK = 4096


def png_decoder(value: str = "auto") -> str:
    """The decoder setting in force: the environment's ``CLASSWEIGHTS_PNG_DECODER=library``
    overrides ``auto``.

    >>> png_decoder("library")
    'library'
    """
    if value not in PNG_DECODERS:
        raise ConfigError(f"png_decoder={value!r} is not one of {', '.join(PNG_DECODERS)}")
    env = os.environ.get(PNG_DECODER_ENV, "").strip().lower()
    if env and env not in PNG_DECODERS:
        raise ConfigError(
            f"{PNG_DECODER_ENV}={env} is not one of {', '.join(PNG_DECODERS)}; unset it or set "
            "it to library (to rule the fused PNG decoder out)"
        )
    return "library" if env == "library" else value


def png_header(data: bytes) -> tuple[int, int, int, int] | None:
    """``(width, height, bit_depth, colour_type)`` of a PNG, or None if it is not a PNG."""
    if len(data) < 33 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
    return w, h, depth, ctype


def check_png_chunks(data: bytes, path: str) -> None:
    """Walk a PNG's chunks: verify every CRC, refuse truncation and animated PNGs (APNG).

    Decoders skip checks a label mask needs: libpng (imagecodecs) accepts a wrong IDAT CRC
    and decodes only the first frame of an APNG, and both would count wrong labels silently.
    The CRCs run at several GB/s, so this costs well under 1 % of a decode.

    >>> import zlib, struct
    >>> def chunk(t, d):
    ...     return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    >>> ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    >>> idat = chunk(b"IDAT", zlib.compress(b"\\x00\\x07"))
    >>> png = PNG_SIGNATURE + ihdr + idat + chunk(b"IEND", b"")
    >>> check_png_chunks(png, "ok.png")
    >>> check_png_chunks(png[:-4] + b"xxxx", "bad.png")
    Traceback (most recent call last):
    ...
    classweights.errors.MaskReadError: bad.png: the PNG is damaged: the CRC of its IEND chunk
    does not match (a corrupted copy?); re-export or re-download the file
    """
    walk_chunks(data, path)


def walk_chunks(data: bytes, path: str) -> list[tuple[bytes, int, int]]:
    """``(type, payload start, payload length)`` of each chunk up to IEND, every CRC checked
    (errors as `check_png_chunks`)."""
    damaged = f"{path}: the PNG is damaged: "
    fix = "; re-export or re-download the file"
    pos, end = len(PNG_SIGNATURE), len(data)
    view = memoryview(data)
    chunks = []
    while True:
        if pos + 12 > end:
            raise MaskReadError(
                f"{damaged}it ends after {end:,} bytes, before its IEND chunk (truncated){fix}"
            )
        length, kind = struct.unpack_from(">I4s", data, pos)
        stop = pos + 8 + length
        if stop + 4 > end:
            raise MaskReadError(
                f"{damaged}its {kind.decode('latin-1')!r} chunk runs past the end of the file "
                f"({end:,} bytes; truncated){fix}"
            )
        (crc,) = struct.unpack_from(">I", data, stop)
        if _crc32(view[pos + 4 : stop], length) != crc:
            raise MaskReadError(
                f"{damaged}the CRC of its {kind.decode('latin-1')} chunk does not match (a "
                f"corrupted copy?){fix}"
            )
        if kind == b"acTL":
            frames = struct.unpack_from(">I", data, pos + 8)[0] if length >= 4 else 0
            raise MaskReadError(
                f"{path}: animated PNG with {frames} frames; a mask must be a single image "
                "(save one frame as a plain PNG)"
            )
        chunks.append((kind, pos + 8, length))
        if kind == b"IEND":
            return chunks
        pos = stop + 4


def _crc32(piece: memoryview, length: int) -> int:
    if length >= _BIG_CHUNK and _libdeflate() is not None:
        return _libdeflate().deflate_crc32(piece)
    return zlib.crc32(piece)


_CODECS: list[Any] = []


def _libdeflate() -> Any:
    """imagecodecs when it has libdeflate (its ``deflate_decode`` then inflates a stream of
    known size with libdeflate), else None: the fused path is off."""
    if not _CODECS:
        try:
            import imagecodecs

            ok = bool(imagecodecs.DEFLATE.available) and hasattr(imagecodecs, "deflate_crc32")
        except Exception:  # not installed, or built without libdeflate
            ok = False
        _CODECS.append(imagecodecs if ok else None)
    return _CODECS[0]


def fused_available() -> bool:
    """Whether the fused path can inflate (imagecodecs with libdeflate is installed)."""
    return _libdeflate() is not None


@dataclass(slots=True)  # not frozen: a frozen dataclass takes 4x as long to make (1.4 us)
class PngStream:
    """A PNG the fused path can count, before inflating: its chunks walked and checked,
    ``idat`` the image data's zlib stream (the IDAT payloads joined), ``data`` the file (for
    the library decoders if a later check fails)."""

    data: bytes
    idat: bytes | memoryview
    width: int
    height: int
    depth: int
    ctype: int
    #: a palette image's colours (packed ``0xRRGGBB``, PLTE order), for the scan's check that
    #: the files' palettes agree (`scan.palettes`); None for other colour types
    palette: NDArray[np.int64] | None = None

    @property
    def rowbytes(self) -> int:
        """Bytes of a row after its filter byte."""
        return (self.width * self.depth * _CHANNELS[self.ctype] + 7) // 8


@dataclass(slots=True)
class PngRows:
    """A PNG's inflated, still-filtered rows, as the `classweights.kernels.png` kernels take
    them: ``buf`` is a zero row (``1 + rowbytes`` bytes) followed by ``height`` rows of a filter
    byte and ``rowbytes`` bytes. ``buf`` may be a thread's scratch buffer (valid until its next
    mask); ``data`` is the file, for the library decoder if a kernel finds a bad filter byte."""

    buf: NDArray[np.uint8]
    width: int
    height: int
    depth: int
    ctype: int
    data: bytes
    palette: NDArray[np.int64] | None = None


def png_stream(data: bytes, path: str, opts: ReadOptions) -> PngStream | None:
    """The fused path's view of a PNG file's bytes, or None where the library decoders must
    read it (`readers.decode_image`): not a PNG, ``opts.png_decoder == "library"``,
    multi-label, above the pixel limit, colour types that do not match the colour table (the
    library path raises), interlaced, an unusual layout or chunk, or no libdeflate. A chunk
    CRC, truncation or APNG is refused here exactly as `check_png_chunks` refuses it.
    """
    head = png_header(data)
    if head is None or opts.png_decoder != "auto" or opts.multilabel:
        return None
    w, h, depth, ctype = head
    if (
        _libdeflate() is None
        or w * h > opts.max_pixels
        or (ctype in (2, 6)) != opts.rgb
        or depth not in FUSED_DEPTHS.get(ctype, ())
        or not w
        or not h
        or data[8:12] != b"\x00\x00\x00\x0d"
        or data[26:29] != b"\x00\x00\x00"  # deflate, adaptive filters, not interlaced
    ):
        return None
    chunks = walk_chunks(data, path)
    idat = _image_data(chunks, data, ctype)
    if idat is None:
        return None
    palette = _palette(chunks, data) if ctype == 3 else None
    return PngStream(data, idat, w, h, depth, ctype, palette)


def _palette(chunks: list[tuple[bytes, int, int]], data: bytes) -> NDArray[np.int64]:
    """The PLTE chunk's colours, packed ``0xRRGGBB``."""
    start, length = next((s, n) for kind, s, n in chunks if kind == b"PLTE")
    rgb = np.frombuffer(data, np.uint8, (length // 3) * 3, start).reshape(-1, 3).astype(np.int64)
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


def inflate_rows(stream: PngStream, scratch: Scratch | None = None) -> PngRows | None:
    """A stream's rows, inflated once by libdeflate into a buffer of exactly the declared size
    (``scratch``'s when given); None when the stream is damaged, short or longer than declared
    (the library path then decides, and names the damage)."""
    stride = stream.rowbytes + 1
    size = (stream.height + 1) * stride
    buf = scratch.bytes(size) if scratch is not None else None
    if buf is None:
        buf = np.empty(size, np.uint8)
    buf[:stride] = 0
    try:
        out = _libdeflate().deflate_decode(stream.idat, out=buf[stride:])
    except Exception:  # damaged, or longer than declared: the library path decides
        return None
    if len(out) != size - stride:  # short: too few rows
        return None
    return PngRows(
        buf, stream.width, stream.height, stream.depth, stream.ctype, stream.data, stream.palette
    )


def png_rows(
    data: bytes, path: str, opts: ReadOptions, scratch: Scratch | None = None
) -> PngRows | None:
    """`png_stream` and `inflate_rows` in one: a PNG file's inflated rows, or None where the
    library decoders must read it."""
    stream = png_stream(data, path, opts)
    return None if stream is None else inflate_rows(stream, scratch)


_ZLIB: list[Any] = []


def zlib_decompressor() -> tuple[int, Any, Any] | None:
    """``(address of libdeflate_zlib_decompress, alloc, free)`` of the libdeflate library that
    imagecodecs ships (or the system's), for Numba kernels that inflate a whole unit of masks
    in one call (`classweights.kernels.png.inflate_count_bytes`); ``alloc()`` gives a
    decompressor (one thread's), ``free(d)`` frees it. None when no libdeflate is found or it
    fails a self-test: each mask is then inflated by ``imagecodecs.deflate_decode``."""
    if not _ZLIB:
        _ZLIB.append(_find_zlib_decompressor())
    return _ZLIB[0]


def _find_zlib_decompressor() -> tuple[int, Any, Any] | None:
    import ctypes
    import ctypes.util
    import glob

    if _libdeflate() is None:
        return None
    here = os.path.dirname(_libdeflate().__file__)
    names = []
    for folder in (here, here + ".libs", os.path.join(here, ".dylibs")):
        found = sorted(glob.glob(os.path.join(folder, "*deflate*")))
        names += [n for n in found if ".so" in n or n.endswith((".dylib", ".dll"))]
    names.append(ctypes.util.find_library("deflate"))
    for name in filter(None, names):
        try:
            lib = ctypes.CDLL(name)
            decompress = lib.libdeflate_zlib_decompress
            alloc, free = lib.libdeflate_alloc_decompressor, lib.libdeflate_free_decompressor
        except (OSError, AttributeError):
            continue
        alloc.restype, alloc.argtypes = ctypes.c_void_p, []
        free.restype, free.argtypes = None, [ctypes.c_void_p]
        decompress.restype = ctypes.c_int
        decompress.argtypes = [ctypes.c_void_p] * 2 + [ctypes.c_size_t, ctypes.c_void_p]
        decompress.argtypes += [ctypes.c_size_t, ctypes.c_void_p]
        if _self_test(decompress, alloc, free):
            return ctypes.cast(decompress, ctypes.c_void_p).value, alloc, free
    return None


def _self_test(decompress: Any, alloc: Any, free: Any) -> bool:
    import ctypes

    raw = bytes(range(256)) * 3
    packed = zlib.compress(raw)
    out = ctypes.create_string_buffer(len(raw))
    got = ctypes.c_size_t(0)
    d = alloc()
    if not d:
        return False
    try:
        ok = decompress(d, packed, len(packed), out, len(raw), ctypes.byref(got)) == 0
        return ok and got.value == len(raw) and out.raw == raw
    finally:
        free(d)


def _image_data(
    chunks: list[tuple[bytes, int, int]], data: bytes, ctype: int
) -> bytes | memoryview | None:
    """The IDAT payloads joined, when the chunks are as the fused path expects: IHDR first and
    once, one run of IDATs, PLTE (before them) exactly for palette images, only known
    critical chunks, chunk types of letters; None otherwise."""
    view = memoryview(data)
    parts = []
    plte = seen = done = False  # a PLTE, an IDAT seen, the run of IDATs over
    for i, (kind, start, length) in enumerate(chunks):
        if not kind.isalpha():
            return None
        if kind == b"IDAT":
            if done:
                return None
            seen = True
            if length:
                parts.append(view[start : start + length])
            continue
        done = seen
        if kind == b"PLTE":
            if plte or seen or ctype in (0, 4):
                return None
            plte = True
        elif not kind[0] & 0x20 and (kind not in _CRITICAL or (kind == b"IHDR" and i)):
            return None
    if not parts or (ctype == 3 and not plte):
        return None
    return parts[0] if len(parts) == 1 else b"".join(parts)
