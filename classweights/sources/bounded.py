"""Decompressing into a buffer of the declared size, never more.

Decoders inflate a stream whole before anyone can compare it with the size a header declares:
a 150 KB gzip stream inflates to 350 MB, a 177-byte bzip2 chunk to 460 MB. `inflate_into`
writes into the caller's buffer (the final array, sized from the header) in blocks of at most
1 MiB and stops with one line naming the file as soon as the stream holds more than the buffer
takes, or less. Concatenated gzip members and bzip2/xz streams are read in turn, as ``gzip``,
``bz2`` and ``lzma`` read them.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import MaskReadError

#: most bytes a decoder may return per call (and what `file_blocks` reads at once)
BLOCK = 1 << 20

#: the first bytes of another member of a concatenated stream
_MAGIC = {"gzip": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}


def decompressor(codec: str, **lzma_args: Any) -> Callable[[], Any]:
    """A factory of stdlib decompressors for ``codec``: ``gzip`` (a zlib stream is accepted
    too), ``zlib``, ``bz2``, ``lzma`` (``lzma_args``: ``format``, ``filters`` as for
    :class:`lzma.LZMADecompressor`)."""
    if codec == "gzip":
        return lambda: zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
    if codec == "zlib":
        return lambda: zlib.decompressobj(zlib.MAX_WBITS)
    if codec == "bz2":
        return bz2.BZ2Decompressor
    if codec == "lzma":
        return lambda: lzma.LZMADecompressor(**lzma_args)
    raise ValueError(f"unknown codec {codec!r}")  # pragma: no cover - callers pass constants


def inflate_into(
    chunks: Iterable[bytes | memoryview],
    out: memoryview,
    codec: str,
    where: str,
    *,
    skip: int = 0,
    fill: str = "exact",
    **lzma_args: Any,
) -> int:
    """Decompress the stream given as ``chunks`` into ``out`` (a writable byte view) after its
    first ``skip`` decompressed bytes; returns the bytes written.

    ``fill``: ``"exact"``: the stream must fill ``out`` exactly; ``"prefix"``: it must fill it,
    and whatever follows is not inflated (as a reader that stops there); ``"upto"``: it may
    hold less than ``out`` takes (``out`` is an upper bound), never more.

    Raises:
        MaskReadError: naming ``where``: the stream decompresses to more than ``out`` takes,
            to less, or ends before its end marker (truncated), or is not of this codec.

    >>> import gzip
    >>> buf = bytearray(4)
    >>> n = inflate_into([gzip.compress(b"abcd")], memoryview(buf), "gzip", "m.nrrd"); bytes(buf)
    b'abcd'
    >>> inflate_into([gzip.compress(bytes(10**6))], memoryview(buf), "gzip", "m.nrrd")
    Traceback (most recent call last):
    ...
    classweights.errors.MaskReadError: m.nrrd: the gzip data decompresses to more than the
    4 bytes its header declares; the file is damaged or forged
    """
    make = decompressor(codec, **lzma_args)
    dec = make()
    size, pos, left = len(out), 0, skip
    magic = _MAGIC.get("xz" if codec == "lzma" else codec)
    try:
        for block in chunks:
            data = bytes(block)
            while True:
                if dec.eof:
                    rest = dec.unused_data + data
                    if not rest:
                        break  # the next block may start another member
                    if magic is None or not rest.startswith(magic):
                        return _finish(dec, pos, size, codec, where, fill)  # trailing padding
                    dec, data = make(), rest  # the next member of a concatenated stream
                want = min(BLOCK, size - pos + left + 1)
                part = dec.decompress(data, want)
                limited = len(part) == want  # more output may be waiting
                data = getattr(dec, "unconsumed_tail", b"")
                if left:
                    cut = min(left, len(part))
                    part, left = part[cut:], left - cut
                if len(part) > size - pos and fill == "prefix":
                    out[pos:size] = part[: size - pos]
                    return size
                if len(part) > size - pos:
                    raise MaskReadError(
                        f"{where}: the {codec} data decompresses to more than the {size:,} bytes "
                        "its header declares; the file is damaged or forged"
                    )
                out[pos : pos + len(part)] = part
                pos += len(part)
                if not limited and not data and not dec.eof:
                    break  # the decoder wants the next block
    except (zlib.error, OSError, EOFError, lzma.LZMAError) as e:
        raise MaskReadError(f"{where}: the {codec} data is damaged ({e})") from None
    return _finish(dec, pos, size, codec, where, fill)


def _finish(dec: Any, pos: int, size: int, codec: str, where: str, fill: str) -> int:
    if not dec.eof:
        raise MaskReadError(
            f"{where}: the {codec} data ends before its end marker (truncated); re-export the file"
        )
    if pos < size and fill != "upto":
        raise MaskReadError(
            f"{where}: the {codec} data holds {pos:,} bytes but its header declares {size:,} "
            "(truncated); re-export the file"
        )
    return pos


def file_blocks(fh: Any, limit: int | None = None) -> Iterator[bytes]:
    """The rest of an open binary file in blocks of at most :data:`BLOCK` bytes (at most
    ``limit`` bytes in all)."""
    while limit is None or limit > 0:
        block = fh.read(BLOCK if limit is None else min(BLOCK, limit))
        if not block:
            return
        if limit is not None:
            limit -= len(block)
        yield block


def memory_blocks(data: bytes | memoryview) -> Iterator[memoryview]:
    """``data`` in blocks of 64 KiB (a zlib decoder copies its unconsumed input on each call)."""
    view = memoryview(data)
    for i in range(0, len(view), 1 << 16):
        yield view[i : i + (1 << 16)]
