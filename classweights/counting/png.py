"""The fused PNG path composed: a PNG's image data (`classweights.sources.png`: chunks walked
and checked, the zlib stream) inflated by libdeflate and unfiltered and counted by the Numba
kernels of `classweights.kernels.png`, never decoded into an image. Every function gives the
`ImageCount` that decoding the file and `count_mask` give, or leaves the file to the library
decoders (docs/trust.md, "The fused PNG path").
"""

from __future__ import annotations

import numpy as np

from ..errors import ClassWeightsError
from ..sources import (
    PngRows,
    PngStream,
    Scratch,
    decode_image,
    fused_available,
    png_rows,
    zlib_decompressor,
)
from .core import (
    MAX_UNKNOWN_COLORS,
    CountOptions,
    Failure,
    ImageCount,
    colour_count,
    count_mask,
    palette_colours,
    unexpected_failure,
)


def count_rows(rows: PngRows, source: str, opts: CountOptions) -> ImageCount | None:
    """Count a PNG's inflated, still-filtered rows with the fused kernels (unfilter and count
    in one pass per row, `classweights.kernels.png`): the `ImageCount` that decoding the file
    and `count_mask` give, or None when a row's filter byte is invalid (decode the file then:
    the library path names the damage). ``rows.buf`` is unfiltered in place."""
    from ..kernels import png

    total = rows.width * rows.height
    if rows.ctype in (2, 6):
        bpp = 3 if rows.ctype == 2 else 4
        found = png.colour_counts(
            rows.buf, rows.height, rows.width, bpp, opts.color_keys, MAX_UNKNOWN_COLORS
        )
        if found is None:
            return None
        got = colour_count(source, found, total, opts)
        got.decoder = "fused"
        return got
    hist = png.label_counts(rows.buf, rows.height, rows.width, rows.depth, rows.ctype)
    if hist is None:
        return None
    values = hist.nonzero()[0]
    return _with_palette(ImageCount(source, values, hist[values], total, decoder="fused"), rows)


def _with_palette(count: ImageCount, image: PngRows | PngStream) -> ImageCount:
    """A palette image's count with its indices' colours (the scan checks the files agree)."""
    if image.palette is not None:
        count.palette = palette_colours(count.values, image.palette)
    return count


def count_png(
    data: bytes, source: str, opts: CountOptions, scratch: Scratch | None = None
) -> ImageCount | None:
    """The fused path as a unit, bytes in, counts out: a PNG file's `ImageCount`, exactly as
    decoding it and `count_mask` give, or None where the fused path does not apply or a check
    fails (`classweights.sources.png.png_rows`; count `decode_image`'s array then). With a
    ``scratch``, its buffer holds the inflated rows (reused from mask to mask).

    >>> import zlib, struct
    >>> from classweights.sources import ReadOptions
    >>> def chunk(t, d):
    ...     return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    >>> rows = bytes([1, 3, 0, 0, 2, 0, 1, 0])  # 3 x 2, 8-bit grey: Sub, then Up
    >>> ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 2, 8, 0, 0, 0, 0))
    >>> png = b"\\x89PNG\\r\\n\\x1a\\n" + ihdr + chunk(b"IDAT", zlib.compress(rows))
    >>> png += chunk(b"IEND", b"")
    >>> c = count_png(png, "a.png", CountOptions(ReadOptions(), None, 256))
    >>> c.values.tolist(), c.counts.tolist(), c.total
    ([3, 4], [5, 1], 6)
    """
    rows = png_rows(data, source, opts.read, scratch)
    return None if rows is None else count_rows(rows, source, opts)


def uses_fused_png(opts: CountOptions) -> bool:
    """Whether this job counts PNG masks with the fused path where it applies: the Numba back
    end is in use (the fused kernels are Numba's), nothing needs the decoded image
    (``objects``), the masks are not multi-label, ``png_decoder`` is ``auto`` and imagecodecs
    has libdeflate. Files it does not apply to are decoded (`sources.png.png_rows`)."""
    return (
        opts.jit
        and opts.objects is None
        and not opts.read.multilabel
        and opts.read.png_decoder == "auto"
        and fused_available()
    )


def count_streams(
    streams: list[tuple[int, str, PngStream]], opts: CountOptions, scratch: Scratch | None
) -> list[tuple[int, ImageCount | Failure]]:
    """Count grey / palette PNG streams (8 bits or fewer) in one kernel call, which inflates
    each with libdeflate and unfilters and counts it (`kernels.png.inflate_count_bytes`): one
    release of the GIL for the lot instead of two a mask, which is what kept two threads from
    counting small masks twice as fast as one. A stream the kernel refuses is read by the
    library decoders (its damage named as before). ``(place, result)`` for each stream."""
    from ..kernels import png

    fn, alloc, free = zlib_decompressor()
    k = len(streams)
    data = b"".join(s.idat for _, _, s in streams)
    sizes = np.array([len(s.idat) for _, _, s in streams], np.int64)
    starts = np.zeros(k, np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    geometry = np.array(
        [(s.height, s.rowbytes, s.width * s.depth, s.depth) for _, _, s in streams], np.int64
    )
    heights, rowbytes, bits, depths = geometry.T.copy()
    need = int(((heights + 1) * (rowbytes + 1)).max())
    buf = scratch.bytes(need) if scratch is not None else None
    if buf is None:
        buf = np.empty(need, np.uint8)
    hists = np.zeros((k, 256), np.int64)
    rest = np.zeros((k, 256), np.int64)
    dec = alloc()
    if not dec:
        raise MemoryError("libdeflate could not allocate a decompressor")
    fulls, parts = bits // 8, (bits % 8) // depths
    layout = (heights, rowbytes, fulls, parts, depths)
    try:
        status = png.inflate_count_bytes(
            fn,
            dec,
            np.frombuffer(data, np.uint8),
            starts,
            sizes,
            *layout,
            buf,
            hists,
            rest,
            np.zeros(1, np.uint64),
        )
    finally:
        free(dec)
    out: list[tuple[int, ImageCount | Failure]] = []
    for i, (place, sid, stream) in enumerate(streams):
        if status[i] == 0:
            depth = int(depths[i])
            hist = hists[i]
            if depth < 8:
                hist = png.sample_counts(hist, depth) + rest[i][: 1 << depth]
            values = hist.nonzero()[0]
            total = stream.width * stream.height
            count = ImageCount(sid, values, hist[values], total, decoder="fused")
            out.append((place, _with_palette(count, stream)))
            continue
        try:  # the library decoders name the damage, or read what libdeflate refused
            decoded = decode_image(stream.data, sid, opts.read, scratch)
            out.append((place, count_mask(decoded, sid, opts)))
        except ClassWeightsError as e:
            out.append((place, Failure(sid, str(e))))
        except Exception as e:
            out.append((place, unexpected_failure(sid, e)))
    return out


def fused_batches() -> bool:
    """Whether grey / palette PNGs of a unit can be counted together (`count_streams`): the
    kernel calls libdeflate itself, found beside imagecodecs or on the system."""
    return zlib_decompressor() is not None
