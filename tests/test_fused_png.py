"""The fused PNG path (inflate once, unfilter and count in one pass per row) counts exactly what
the samples are, and exactly what today's library path counts.

References, independent of the code under test: the samples a test encodes itself
(`png_writer`, which picks every row's filter), and Pillow / OpenCV / libpng decodes followed by
``np.unique`` / ``np.bincount``. Every file is also counted through the library decoders
(`decode_image` + `count_mask`), which must give the same `ImageCount` bit for bit.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from png_writer import CHANNELS, encode

from classweights.counting import (
    MAX_UNKNOWN_COLORS,
    OTHER_COLORS,
    CountOptions,
    count_mask,
    count_png,
)
from classweights.errors import MaskReadError
from classweights.sources import ReadOptions, Scratch, decode_image, png_rows
from classweights.synthetic import street_scene

#: (colour type, bit depth) of every label format the fused path reads
LABEL_FORMATS = [
    *((0, d) for d in (1, 2, 4, 8, 16)),
    *((3, d) for d in (1, 2, 4, 8)),
    *((4, d) for d in (8, 16)),
]
COLOUR_FORMATS = [(2, 8), (6, 8)]
PLAIN = CountOptions(ReadOptions(), None, 256)


def colour_options(keys):
    keys = np.array(sorted(keys), np.int64)
    return CountOptions(ReadOptions(rgb=True), None, 256, keys, np.arange(keys.size) * 3)


def samples(rng, h, w, ctype, depth, runs=True):
    """Random samples with label-mask-like runs (or noise), the labels in channel 0."""
    top = (1 << depth) - 1
    shape = (h, w, CHANNELS[ctype]) if CHANNELS[ctype] > 1 else (h, w)
    a = rng.integers(0, top + 1, shape)
    if runs:
        labels = rng.integers(0, top + 1, 4)
        for r in range(h):
            cuts = np.sort(rng.integers(0, w + 1, 3))
            row = np.repeat(labels[rng.integers(0, 4, 4)], np.diff([0, *cuts, w]))
            if ctype in (0, 3):
                a[r] = row
            else:
                a[r, :, 0] = row
        if h > 2:
            a[h // 2 :] = a[h // 2 - 1]  # repeated rows (Up, Paeth continuing)
    return a.astype(np.uint16 if depth == 16 else np.uint8)


def expected(a, ctype):
    labels = a if a.ndim == 2 else a[..., 0]
    return np.unique(labels, return_counts=True)


def library(png, opts=PLAIN):
    return count_mask(decode_image(png, "m.png", opts.read), "m.png", opts)


def assert_same(got, ref):
    assert got is not None
    np.testing.assert_array_equal(got.values, ref.values)
    np.testing.assert_array_equal(got.counts, ref.counts)
    assert got.values.dtype == ref.values.dtype == np.int64
    assert got.counts.dtype == ref.counts.dtype == np.int64
    assert got.total == ref.total
    assert got.unknown_colors == ref.unknown_colors
    if ref.palette is not None or got.palette is not None:  # a palette image: its colours too
        np.testing.assert_array_equal(got.palette, ref.palette)


def check(png, a, ctype, opts=PLAIN, scratch=None):
    got = count_png(png, "m.png", opts, scratch)
    v, c = expected(a, ctype)
    assert got is not None
    assert got.decoder == "fused"
    np.testing.assert_array_equal(got.values, v)
    np.testing.assert_array_equal(got.counts, c)
    assert got.total == a.shape[0] * a.shape[1]
    assert_same(got, library(png, opts))


@pytest.mark.parametrize("fmt", LABEL_FORMATS, ids=str)
@pytest.mark.parametrize("f", range(5), ids=["none", "sub", "up", "average", "paeth"])
@pytest.mark.parametrize("w", [1, 3, 7, 8, 9, 16, 17, 31, 64, 101])
def test_every_filter_every_depth_odd_widths(fmt, f, w):
    ctype, depth = fmt
    rng = np.random.default_rng(w * 10 + f)
    for runs in (True, False):
        a = samples(rng, 9, w, ctype, depth, runs)
        check(encode(a, depth, ctype, f), a, ctype)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(LABEL_FORMATS),
    h=st.integers(1, 24),
    w=st.integers(1, 90),
    seed=st.integers(0, 2**32 - 1),
    runs=st.booleans(),
    level=st.sampled_from([0, 1, 6, 9]),
    data=st.data(),
)
def test_random_row_filters_and_idat_splits(fmt, h, w, seed, runs, level, data):
    ctype, depth = fmt
    rng = np.random.default_rng(seed)
    a = samples(rng, h, w, ctype, depth, runs)
    filters = data.draw(st.lists(st.integers(0, 4), min_size=h, max_size=h))
    png = encode(a, depth, ctype, filters, level=level)
    n = len(png)  # an upper bound of the stream's length
    split = sorted(data.draw(st.lists(st.integers(0, n // 2), max_size=4)))
    check(encode(a, depth, ctype, filters, level=level, split=split), a, ctype)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(LABEL_FORMATS + COLOUR_FORMATS),
    h=st.integers(1, 12),
    w=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
    zeros=st.sampled_from([0.5, 0.9, 0.99]),
)
def test_random_filtered_bytes_read_as_libpng_and_pillow_read_them(fmt, h, w, seed, zeros):
    """Filtered rows made up at random (mostly zero bytes, as the filters make of masks, but
    seldom the bytes an encoder would write) reach every word fast path with neighbourhoods no
    mask has; the libpng / Pillow decode, counted by NumPy, is the reference."""
    ctype, depth = fmt
    rng = np.random.default_rng(seed)
    rowbytes = (w * depth * CHANNELS[ctype] + 7) // 8
    body = rng.integers(0, 256, (h, rowbytes)) * (rng.random((h, rowbytes)) > zeros)
    for r in range(0, h, 2):  # blocks of values, their edges on word boundaries or not
        edges = np.sort(rng.choice([0, 8, 16, 24, 32, *rng.integers(0, rowbytes, 2)], 3))
        body[r] = np.repeat(rng.choice([0, 0, 7, 200], 4), np.diff([0, *np.minimum(edges, rowbytes),
                                                              rowbytes]))  # fmt: skip
    filters = rng.integers(0, 5, h)
    filters[::2] *= rng.random() < 0.5  # blocks unfiltered (None) in half the examples
    raw = np.column_stack([filters, body]).astype(np.uint8).tobytes()
    opts = PLAIN if ctype not in (2, 6) else colour_options({0, 1 << 16, 0x0A0B0C})
    png = encode(np.zeros((h, w, CHANNELS[ctype]), np.uint8), depth, ctype, raw=raw)
    decoded = decode_image(png, "m.png", opts.read)
    decoded = getattr(decoded, "array", decoded)  # a palette image: its indices
    got = count_png(png, "m.png", opts)
    if ctype in (2, 6):
        colours = (decoded[..., :3].reshape(-1, 3).astype(np.int64) * [65536, 256, 1]).sum(1)
        known = np.isin(colours, opts.color_keys)
        v, c = np.unique(colours[known], return_counts=True)
        labels = opts.color_labels[np.searchsorted(opts.color_keys, v)]
        np.testing.assert_array_equal(got.values, labels)
    else:
        v, c = np.unique(decoded, return_counts=True)
        np.testing.assert_array_equal(got.values, v)
    np.testing.assert_array_equal(got.counts, c)
    assert_same(got, library(png, opts))


@pytest.mark.parametrize("fmt", COLOUR_FORMATS, ids=str)
@pytest.mark.parametrize("f", range(5))
@pytest.mark.parametrize("w", [1, 2, 3, 5, 11, 40])
def test_colour_masks_every_filter(fmt, f, w):
    ctype, _ = fmt
    rng = np.random.default_rng(w + 7 * f)
    a = rng.integers(0, 3, (8, w, CHANNELS[ctype])).astype(np.uint8) * 100
    a[2:5, : w // 2] = a[0, 0]
    table = {(0, 0, 0), (100, 0, 200), (200, 200, 200)}
    opts = colour_options({(r << 16) | (g << 8) | b for r, g, b in table})
    png = encode(a, 8, ctype, f)
    got = count_png(png, "m.png", opts)
    assert_same(got, library(png, opts))
    rgb = a[..., :3].reshape(-1, 3)  # the reference: colours counted by NumPy
    known = np.isin((rgb.astype(np.int64) * [65536, 256, 1]).sum(1), opts.color_keys)
    assert int(got.counts.sum()) == int(known.sum())
    assert sum(got.unknown_colors.values()) == len(rgb) - int(known.sum())


def test_more_unknown_colours_than_are_listed():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 100, 3)).astype(np.uint8)  # ~4,000 distinct colours
    opts = colour_options({0})
    png = encode(a, 8, 2, [4, 1, 2, 3, 0] * 8)
    got = count_png(png, "m.png", opts)
    assert len(got.unknown_colors) == MAX_UNKNOWN_COLORS + 1
    assert OTHER_COLORS in got.unknown_colors
    assert_same(got, library(png, opts))


def _pillow_png(a, mode=None, **save):
    from PIL import Image

    im = Image.fromarray(a) if mode is None else Image.fromarray(a).convert(mode)
    b = io.BytesIO()
    im.save(b, format="PNG", **save)
    return b.getvalue()


@pytest.mark.parametrize("size", [(360, 480), (97, 203)])
def test_files_written_by_pillow_and_opencv(size):
    """Two real encoders choosing filters their own way (Pillow: adaptive per row for grey, none
    for palette; OpenCV/libpng: Sub throughout), against their own decoders + bincount."""
    import cv2
    from PIL import Image

    m = street_scene(*size, np.random.default_rng(sum(size)))
    ref = np.bincount(m.ravel(), minlength=256)
    files = {
        "pillow L": _pillow_png(m),
        "pillow L optimize": _pillow_png(m, optimize=True),
        "pillow P": _pillow_png(m, "P"),
        "opencv grey": cv2.imencode(".png", m)[1].tobytes(),
        "opencv grey level 9": cv2.imencode(".png", m, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1],
    }
    for name, png in files.items():
        png = bytes(png)
        decoded = np.asarray(Image.open(io.BytesIO(png)))
        if name.startswith("opencv"):
            decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(np.bincount(decoded.ravel(), minlength=256), ref)
        got = count_png(png, "m.png", PLAIN)
        hist = np.zeros(256, np.int64)
        hist[got.values] = got.counts
        np.testing.assert_array_equal(hist, ref, err_msg=name)
        assert_same(got, library(png))
    wide = (m.astype(np.uint16) * 257 + 3).astype(np.uint16)  # 16-bit grey, big-endian
    png = cv2.imencode(".png", wide)[1].tobytes()
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    v, c = np.unique(decoded, return_counts=True)
    got = count_png(png, "m.png", PLAIN)
    np.testing.assert_array_equal(got.values, v)
    np.testing.assert_array_equal(got.counts, c)
    assert_same(got, library(png))
    binary = (m > 10).astype(np.uint8)
    png = _pillow_png(binary * 255, "1")  # 1-bit grey: counted as stored, 0 and 1
    got = count_png(png, "m.png", PLAIN)
    assert got.values.tolist() == [0, 1]
    assert got.counts.tolist() == np.bincount(binary.ravel()).tolist()
    assert_same(got, library(png))


def test_opencv_colour_masks_with_a_colour_table():
    import cv2

    m = street_scene(120, 200, np.random.default_rng(5))
    colours = np.random.default_rng(1).integers(0, 256, (256, 3)).astype(np.uint8)
    rgb = colours[m]
    keys = {(int(r) << 16) | (int(g) << 8) | int(b) for r, g, b in colours[np.unique(m)[:-2]]}
    opts = colour_options(keys)  # two colours left out: counted as unknown
    for png in (
        cv2.imencode(".png", rgb[..., ::-1])[1].tobytes(),  # OpenCV writes BGR arrays as RGB
        cv2.imencode(".png", np.dstack([rgb[..., ::-1], np.full(m.shape, 9, np.uint8)]))[1],
    ):
        png = bytes(png)
        got = count_png(png, "m.png", opts)
        assert got is not None
        assert got.unknown_colors
        assert_same(got, library(png, opts))


def test_alpha_and_trns_are_dropped_as_today():
    rng = np.random.default_rng(3)
    a = samples(rng, 12, 40, 0, 8)
    for extra in ([(b"tRNS", b"\x00\x07")], [(b"tEXt", b"k\x00v"), (b"tRNS", b"\x00\x00")]):
        check(encode(a, 8, 0, 4, extra=extra), a, 0)
    p = samples(rng, 12, 40, 3, 4)
    check(encode(p, 4, 3, 1, extra=[(b"tRNS", bytes(range(16)))]), p, 3)
    g = samples(rng, 12, 40, 4, 16)  # 16-bit grey + alpha: the grey sample, big-endian
    check(encode(g, 16, 4, [0, 1, 2, 3, 4] * 2 + [4, 2]), g, 4)


def test_the_scratch_buffer_is_reused_across_sizes():
    rng = np.random.default_rng(0)
    scratch = Scratch()
    big, small = samples(rng, 60, 300, 0, 8), samples(rng, 5, 9, 3, 2)
    for a, ctype, depth in ((big, 0, 8), (small, 3, 2), (big, 0, 8), (small, 3, 2)):
        check(encode(a, depth, ctype, 4), a, ctype, scratch=scratch)
    rows = png_rows(encode(small, 2, 3, 0), "m.png", ReadOptions(), scratch)
    assert np.shares_memory(rows.buf, scratch.array((1,), np.uint8))


def test_bad_chunks_are_refused_with_the_library_paths_message():
    a = samples(np.random.default_rng(0), 10, 30, 0, 8)
    png = bytearray(encode(a, 8, 0, 1))
    png[40] ^= 0xFF  # inside the IDAT payload: its CRC no longer matches
    for damaged in (bytes(png), encode(a, 8, 0, 1)[:-30]):
        with pytest.raises(MaskReadError) as fused:
            count_png(damaged, "m.png", PLAIN)
        with pytest.raises(MaskReadError) as lib:
            library(damaged)
        assert str(fused.value) == str(lib.value)


# ---- damaged streams: the fused path counts exactly, or leaves the file to the library path,
# ---- which gives today's answer (docs/trust.md, "The fused PNG path")


def _outcome(fn):
    """``("counts", values, counts, total)``, ``("error", message)`` or ``("declined",)``."""
    try:
        got = fn()
    except MaskReadError as e:
        return ("error", str(e))
    if got is None:
        return ("declined",)
    return ("counts", got.values.tolist(), got.counts.tolist(), got.total)


def _damaged(kind, m, ctype=0):
    """A PNG of mask ``m`` with one kind of damage (chunk CRCs valid unless that is the damage)."""
    h, w = m.shape
    rows = b"".join(b"\x00" + m[r].tobytes() for r in range(h))
    z = zlib.compress(rows)
    stream = {
        "truncated stream": z[: len(z) // 2],
        "trailing data after the stream": z + b"junk data",
        "a second stream after the first": z + z,
        "longer than declared": zlib.compress(rows + b"\x00" + m[0].tobytes()),
        "bad Adler-32": z[:-1] + bytes([z[-1] ^ 1]),
        "no Adler-32": z[:-4],
        "bad filter byte": zlib.compress(rows[: w + 1] + b"\x05" + rows[w + 2 :]),
        "too few rows": zlib.compress(rows[: -(w + 1)]),
        "bad zlib header": b"\x78\x9d" + z[2:],
    }.get(kind, z)
    if kind == "zero-length IDATs":
        return encode(m, 8, ctype, stream=z, split=[0, 0, 5, 5, len(z)])
    png = encode(m, 8, ctype, stream=stream)
    if kind == "trailing data after IEND":
        return png + b"\x00garbage after the end"
    if kind == "interlace flag":  # the stream is not Adam7: what libpng / Pillow make of it
        png = bytearray(png)
        png[28] = 1
        png[29:33] = zlib.crc32(png[12:29]).to_bytes(4, "big")
        return bytes(png)
    return png


#: what the fused path alone does with each damage: count (exactly as the library path), or
#: decline (the library decoders then decide, as they did before the fused path existed)
DAMAGE = {
    "zero-length IDATs": "counts",
    "trailing data after the stream": "counts",  # libdeflate stops at the stream's end
    "a second stream after the first": "counts",
    "trailing data after IEND": "counts",
    "truncated stream": "declined",
    "longer than declared": "declined",  # libdeflate: the buffer is too small
    "bad Adler-32": "declined",
    "no Adler-32": "declined",
    "bad filter byte": "declined",  # the kernel stops at that row
    "too few rows": "declined",
    "bad zlib header": "declined",
    "interlace flag": "declined",
}


@pytest.mark.parametrize("kind", DAMAGE)
@pytest.mark.parametrize("ctype", [0, 3])
@pytest.mark.parametrize("size", [(9, 13), (300, 410)])
def test_damaged_streams(kind, ctype, size):
    m = street_scene(*size, np.random.default_rng(1))
    png = _damaged(kind, m, ctype)
    fused = _outcome(lambda: count_png(png, "m.png", PLAIN))
    lib = _outcome(lambda: library(png))
    assert fused[0] == DAMAGE[kind]
    if fused[0] == "counts":
        v, c = np.unique(m, return_counts=True)
        assert fused == lib == ("counts", v.tolist(), c.tolist(), m.size)


@pytest.mark.parametrize(
    ("kind", "library_verdict"),
    [
        ("truncated stream", "error"),
        ("bad Adler-32", "error"),
        ("bad filter byte", "error"),
        ("too few rows", "error"),
        ("bad zlib header", "error"),
        ("longer than declared", "counts"),  # the declared rows; the rest is ignored
        ("no Adler-32", "counts"),  # Pillow reads every row without reaching the trailer
    ],
)
def test_what_the_library_path_makes_of_what_the_fused_path_declines(kind, library_verdict):
    """The cases the fused path declines: the library path (which then reads the file, as it
    did before) refuses most; two it reads in full, exactly, as before."""
    m = street_scene(300, 410, np.random.default_rng(1))
    lib = _outcome(lambda: library(_damaged(kind, m)))
    assert lib[0] == library_verdict
    if lib[0] == "counts":
        v, c = np.unique(m, return_counts=True)
        assert lib == ("counts", v.tolist(), c.tolist(), m.size)


DAMAGES = st.sampled_from(["flip", "flip+crc", "cut", "cut+crc", "append", "zero-idat"])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(LABEL_FORMATS),
    seed=st.integers(0, 2**32 - 1),
    damage=DAMAGES,
    where=st.floats(0, 1),
    byte=st.integers(1, 255),
)
def test_a_damaged_file_is_counted_exactly_or_left_to_the_library_path(
    fmt, seed, damage, where, byte
):
    """Random damage anywhere (payload bytes with or without a matching CRC, a cut stream, bytes
    appended to the stream): whenever the fused path answers, the library path gives the same
    answer (the same counts, or the same error line); otherwise it declines."""
    ctype, depth = fmt
    rng = np.random.default_rng(seed)
    a = samples(rng, int(rng.integers(1, 20)), int(rng.integers(1, 50)), ctype, depth)
    filters = rng.integers(0, 5, a.shape[0]).tolist()
    raw_png = encode(a, depth, ctype, filters)
    start = raw_png.index(b"IDAT") + 4
    stop = raw_png.index(b"IEND") - 8  # the IDAT payload is raw_png[start:stop]
    stream = raw_png[start:stop]
    if damage in ("flip", "flip+crc"):
        png = bytearray(raw_png)
        png[8 + int(where * (len(png) - 9))] ^= byte
        if damage == "flip+crc":  # damage the stream, keep its chunk valid
            png = bytearray(raw_png)
            s = bytearray(stream)
            s[int(where * (len(s) - 1))] ^= byte
            png = bytearray(encode(a, depth, ctype, filters, stream=bytes(s)))
        png = bytes(png)
    elif damage == "cut":
        png = raw_png[: 8 + int(where * (len(raw_png) - 8))]
    elif damage == "cut+crc":
        png = encode(a, depth, ctype, filters, stream=stream[: int(where * len(stream))])
    elif damage == "append":
        png = encode(a, depth, ctype, filters, stream=stream + bytes([byte]) * int(1 + 9 * where))
    else:
        cut = int(where * len(stream))
        png = encode(a, depth, ctype, filters, stream=stream, split=[cut, cut])
    fused = _outcome(lambda: count_png(png, "m.png", PLAIN))
    if fused[0] != "declined":
        assert fused == _outcome(lambda: library(png))
    if fused[0] == "counts":
        v, c = expected(a, ctype)
        assert fused[1:3] == (v.tolist(), c.tolist())


def test_without_libdeflate_the_library_path_reads_every_png(monkeypatch):
    """imagecodecs without libdeflate (or without imagecodecs): the fused path is off."""
    import classweights.sources.png as png_module

    a = samples(np.random.default_rng(0), 20, 40, 0, 8)
    png = encode(a, 8, 0, 4)
    assert count_png(png, "m.png", PLAIN) is not None
    monkeypatch.setattr(png_module, "_CODECS", [None])
    assert not png_module.fused_available()
    assert count_png(png, "m.png", PLAIN) is None
    assert png_rows(png, "m.png", ReadOptions()) is None
    v, c = expected(a, 0)
    got = library(png)  # still read, by libpng
    assert got.values.tolist() == v.tolist()
    assert got.counts.tolist() == c.tolist()


def test_the_library_setting_declines_every_png():
    a = samples(np.random.default_rng(0), 20, 40, 3, 8)
    png = encode(a, 8, 3, 1)
    opts = CountOptions(ReadOptions(png_decoder="library"), None, 256)
    assert count_png(png, "m.png", opts) is None
    with pytest.raises(Exception, match="png_decoder='fast' is not one of auto, library"):
        ReadOptions(png_decoder="fast")
