"""Issue 28 (item 15): zarr chunks are decoded within their declared size, through an
allowlist of codecs; others are refused by name. References: the arrays written, counted with
``np.bincount`` image by image."""

from __future__ import annotations

import bz2
import gzip

import numpy as np
import pytest

import classweights as cw
from classweights.errors import ClassWeightsError

zarr = pytest.importorskip("zarr")
numcodecs = pytest.importorskip("numcodecs")
from numcodecs import zarr3  # noqa: E402

K = 7


def _stack(shape=(5, 37, 29), dtype=np.uint16, seed=0):
    a = np.random.default_rng(seed).integers(0, K, shape).astype(dtype)
    a[0, :3, :3] = K - 1
    return a


def _ref(a):
    return [np.bincount(m.ravel().astype(np.int64), minlength=K).tolist() for m in a]


V3 = {
    "zstd (default)": {},
    "gzip": {"compressors": zarr.codecs.GzipCodec()},
    "blosc": {"compressors": zarr.codecs.BloscCodec(cname="lz4", shuffle="bitshuffle")},
    "gzip+crc32c": {"compressors": [zarr.codecs.GzipCodec(), zarr.codecs.Crc32cCodec()]},
    "none": {"compressors": None},
    "transpose": {"filters": [zarr.codecs.TransposeCodec(order=(2, 0, 1))]},
    "big-endian": {"serializer": zarr.codecs.BytesCodec(endian="big")},
    "numcodecs.bz2": {"compressors": zarr3.BZ2(level=9)},
    "numcodecs.lzma": {"compressors": zarr3.LZMA()},
    "numcodecs.zlib": {"compressors": zarr3.Zlib()},
    "numcodecs.gzip": {"compressors": zarr3.GZip()},
    "numcodecs.lz4": {"compressors": zarr3.LZ4()},
    "numcodecs.zstd": {"compressors": zarr3.Zstd()},
    "numcodecs.blosc": {"compressors": zarr3.Blosc(cname="zstd")},
    "sharded": {"shards": (2, 32, 16), "compressors": zarr.codecs.BloscCodec()},
}


@pytest.mark.parametrize("name", list(V3))
def test_every_allowed_v3_codec_counts_exactly(tmp_path, name):
    a = _stack()
    kw = dict(V3[name])
    chunks = (1, 16, 8) if "shards" in kw else (2, 16, 16)  # edge chunks on every axis
    z = zarr.create_array(str(tmp_path / "m.zarr"), shape=a.shape, chunks=chunks, dtype=a.dtype,
                          fill_value=3, **kw)  # fmt: skip
    z[...] = a
    z[4, 32:, 16:] = 3  # a chunk of the fill value is not written: read as the fill value
    a[4, 32:, 16:] = 3
    assert cw.scan(tmp_path / "m.zarr", num_classes=K).counts.tolist() == _ref(a)


V2 = {
    "zstd": numcodecs.Zstd(),
    "blosc": numcodecs.Blosc(cname="lz4", shuffle=numcodecs.Blosc.SHUFFLE),
    "bz2": numcodecs.BZ2(),
    "lzma": numcodecs.LZMA(),
    "lz4": numcodecs.LZ4(),
    "zlib": numcodecs.Zlib(),
    "gzip": numcodecs.GZip(),
    "none": None,
}


@pytest.mark.parametrize("name", list(V2))
@pytest.mark.parametrize("order", ["C", "F"])
def test_every_allowed_v2_codec_counts_exactly(tmp_path, name, order):
    a = _stack(dtype=np.dtype(">u2"))
    z = zarr.create_array(str(tmp_path / "m.zarr"), shape=a.shape, chunks=(2, 16, 16),
                          dtype=a.dtype, zarr_format=2, compressors=V2[name], order=order)  # fmt: skip
    z[...] = a
    assert cw.scan(tmp_path / "m.zarr", num_classes=K).counts.tolist() == _ref(a)


def test_a_remote_store_reads_exactly(tmp_path):
    pytest.importorskip("fsspec")
    a = _stack(dtype=np.uint8)
    z = zarr.create_array(str(tmp_path / "m.zarr"), shape=a.shape, chunks=(2, 16, 16),
                          dtype=a.dtype, compressors=zarr3.BZ2())  # fmt: skip
    z[...] = a
    s = cw.scan(f"file://{tmp_path / 'm.zarr'}", num_classes=K)
    assert s.counts.tolist() == _ref(a)


def _one_chunk_store(tmp_path, compressors, zarr_format=3):
    z = zarr.create_array(str(tmp_path / "m.zarr"), shape=(64, 64), chunks=(64, 64),
                          dtype="uint8", compressors=compressors, zarr_format=zarr_format)  # fmt: skip
    z[...] = 1
    chunks = [p for p in (tmp_path / "m.zarr").rglob("*") if p.is_file()
              and not p.name.startswith((".z", "zarr.json"))]  # fmt: skip
    assert len(chunks) == 1
    return tmp_path / "m.zarr", chunks[0]


@pytest.mark.parametrize(
    ("codec", "make", "fmt"),
    [
        ("bz2", lambda: zarr3.BZ2(), 3),
        ("bz2", lambda: numcodecs.BZ2(), 2),
        ("gzip", lambda: zarr.codecs.GzipCodec(), 3),
        ("lzma", lambda: zarr3.LZMA(), 3),
    ],
)
def test_a_tiny_chunk_that_inflates_to_megabytes_is_refused(tmp_path, codec, make, fmt):
    """A few hundred bytes, far under the chunk-file bound, inflating to 40 MB (460 MB in the
    issue): stopped once the 4,096 bytes of the chunk are full."""
    store, chunk = _one_chunk_store(tmp_path, make(), fmt)
    zeros = bytes((30 if codec == "gzip" else 40) << 20)  # gzip: at most ~1,000:1
    import lzma

    bomb = {"bz2": bz2.compress, "gzip": gzip.compress, "lzma": lzma.compress}[codec](zeros)
    assert len(bomb) < 4096 * 8 * 11 // 10 + 4096  # passes the chunk-file check
    chunk.write_bytes(bomb)
    with pytest.raises(ClassWeightsError, match=rf"m\.zarr: the \w+ data decompresses to more "
                       "than the 4,096 bytes"):  # fmt: skip
        cw.scan(store, num_classes=2)


def test_a_blosc_header_declaring_more_than_the_chunk_is_refused(tmp_path):
    store, chunk = _one_chunk_store(tmp_path, zarr.codecs.BloscCodec())
    forged = numcodecs.Blosc().encode(bytes(1 << 20))  # a genuine stream of 1 MiB
    chunk.write_bytes(forged)
    with pytest.raises(ClassWeightsError, match=r"a blosc chunk holds 1,048,576 bytes where its "
                       "declared chunk takes 4,096"):  # fmt: skip
        cw.scan(store, num_classes=2)


@pytest.mark.parametrize(
    ("fmt", "kw", "name"),
    [
        (2, {"filters": [numcodecs.Delta(dtype="u1")]}, "delta"),
        (3, {"filters": [zarr3.Delta(dtype="u1")]}, "numcodecs.delta"),
        (3, {"compressors": zarr3.Shuffle()}, "numcodecs.shuffle"),
    ],
)
def test_codecs_that_cannot_be_bounded_are_refused_by_name(tmp_path, fmt, kw, name):
    z = zarr.create_array(str(tmp_path / "m.zarr"), shape=(4, 8, 8), chunks=(1, 8, 8),
                          dtype="uint8", zarr_format=fmt, **kw)  # fmt: skip
    z[...] = 1
    with pytest.raises(ClassWeightsError, match=rf"m\.zarr: zarr codec '{name}' cannot be decoded "
                       r"within .*re-save the store with gzip, zlib, bz2"):  # fmt: skip
        cw.scan(tmp_path / "m.zarr", num_classes=2)
