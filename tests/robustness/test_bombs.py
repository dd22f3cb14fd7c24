"""Memory bombs: small files that declare or decode to huge arrays are refused before the
memory is taken; each case runs the CLI in a child process under a memory ceiling."""

import gzip
import io
import json
import math
import struct
import zipfile
import zlib

import numpy as np
import pytest
from capped import CEILING, cli, one_line_error, python
from robust_helpers import chunk

from classweights.labels import CITYSCAPES_COLORS


def npy_header(shape, descr="|u1") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": tuple(shape)}
    )
    return buf.getvalue()


def deflate_zeros(head: bytes, zeros: int) -> tuple[bytes, int]:
    """Raw deflate of ``head`` + ``zeros`` zero bytes and its CRC-32, built from one repeated
    16 MiB block (after a full flush the compressor forgets its history, so every such block
    compresses to the same bytes)."""
    block = bytes(1 << 24)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = [c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)]
    one = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(zeros, len(block))
    crc = zlib.crc32(head)
    for _ in range(full):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(bytes(rest), crc)
    out += [one] * full + [c.compress(bytes(rest)) + c.flush()]
    return b"".join(out), crc


def write_zip(path, name: str, data: bytes, crc: int, size: int) -> None:
    """A one-member deflated zip archive written by hand (the member is already compressed)."""
    n = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size,
                        len(n), 0) + n  # fmt: skip
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                          len(data), size, len(n), 0, 0, 0, 0, 0, 0) + n  # fmt: skip
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(data), 0)  # fmt: skip
    path.write_bytes(local + data + central + end)


def test_npz_bomb_is_refused_from_the_member_header(tmp_path):
    # 1.5 MB on disk, 1.6 G pixels once decompressed (default limit: 2**30)
    shape = (40000, 40000)
    head = npy_header(shape)
    data, crc = deflate_zeros(head, math.prod(shape))
    bomb = tmp_path / "bomb.npz"
    write_zip(bomb, "masks.npy", data, crc, len(head) + math.prod(shape))
    assert bomb.stat().st_size < 3_000_000
    with zipfile.ZipFile(bomb) as zf:  # a genuine archive: it would decompress
        assert zf.getinfo("masks.npy").file_size == len(head) + math.prod(shape)
    r = cli("stats", bomb, "--num-classes", 2)
    one_line_error(r, f"{bomb}:masks", "1,600,000,000 values", "above the limit of 1,073,741,824")


def test_npz_stack_larger_than_the_ceiling_is_streamed_image_by_image(tmp_path):
    # 500 masks of 1000 x 1000 in one member: 500 MB decompressed, more than a child capped at
    # 900 MB may take besides the interpreter (~0.5 GB of address space); each image is within
    # max_pixels, so it is read one by one
    shape = (500, 1000, 1000)
    head = npy_header(shape)
    data, crc = deflate_zeros(head, math.prod(shape))
    stack = tmp_path / "stack.npz"
    write_zip(stack, "masks.npy", data, crc, len(head) + math.prod(shape))
    r = cli("stats", stack, "--num-classes", 2, "--workers", 1, "--format", "json",
            ceiling=900 << 20)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["dataset"]["images"] == 500
    assert [c["pixels"] for c in out["classes"]] == [500_000_000, 0]


@pytest.mark.parametrize("where", ["npy", "npz-member"])
def test_declared_image_count_is_checked_against_the_file_size(tmp_path, where):
    head = npy_header((300_000_000, 1, 1))  # 3e8 images of 1x1 in 128 bytes
    if where == "npy":
        f = tmp_path / "forged.npy"
        f.write_bytes(head + bytes(16))
    else:
        f = tmp_path / "forged.npz"
        with zipfile.ZipFile(f, "w") as zf:
            zf.writestr("masks.npy", head + bytes(16))
    r = cli("stats", f, "--num-classes", 2)
    one_line_error(r, f, "(300000000, 1, 1)", "300,000,000 bytes", "holds 16 bytes of data")


def _zarr(path, shape, chunks, **kw):
    import zarr

    return zarr.create_array(store=str(path), shape=shape, chunks=chunks, dtype="uint8", **kw)


@pytest.mark.parametrize("kind", ["npy", "npz", "zarr"])
def test_max_pixels_applies_to_every_array_kind(tmp_path, kind):
    masks = np.zeros((2, 40, 40), np.uint8)
    f = tmp_path / f"masks.{kind}"
    if kind == "npy":
        np.save(f, masks)
    elif kind == "npz":
        np.savez_compressed(f, masks=masks)
    else:
        _zarr(f, masks.shape, (1, 40, 40))[...] = masks
    r = cli("stats", f, "--num-classes", 2, "--max-pixels", 1000)
    one_line_error(r, f, "(2, 40, 40) holds 1,600 values, above the limit of 1,000", "--max-pixels")
    ok = cli("stats", f, "--num-classes", 2, "--max-pixels", 1600, "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert [c["pixels"] for c in json.loads(ok.stdout)["classes"]] == [3200, 0]


def test_zarr_chunk_bomb_is_refused_before_decoding(tmp_path):
    import zarr

    store = tmp_path / "m.zarr"
    arr = _zarr(store, (64, 64), (64, 64), compressors=zarr.codecs.GzipCodec(level=9))
    arr[...] = 1
    chunks = [p for p in store.rglob("*") if p.is_file() and p.name != "zarr.json"]
    assert len(chunks) == 1
    chunks[0].write_bytes(gzip.compress(bytes(8000 * 8000), 9))  # 64 MB where 4 KB belong
    r = cli("stats", store, "--num-classes", 2)
    one_line_error(r, store, "chunk file", "64x64 chunk")


def test_huge_zarr_of_fill_value_is_refused_before_allocating(tmp_path):
    store = tmp_path / "fill.zarr"
    _zarr(store, (80000, 80000), (4096, 4096), fill_value=0)  # no chunk written
    r = cli("stats", store, "--num-classes", 2)
    one_line_error(r, store, "6,400,000,000 values", "above the limit")


def test_rgb_png_without_colour_table_is_refused_from_its_header(tmp_path):
    # valid header and CRCs, IDAT that is not a deflate stream: decoding would fail instead
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"junk")
    png += chunk(b"IEND", b"")
    f = tmp_path / "rgb.png"
    f.write_bytes(png)
    r = cli("stats", f, "--num-classes", 2)
    one_line_error(r, f, "is an RGB colour mask but no colour table was given", "--palette")


def _rgb_with_unknown(h: int, w: int) -> tuple[np.ndarray, list[int]]:
    """Cityscapes colours in bands plus a few unknown colours; reference class pixel counts."""
    a = np.empty((h, w, 3), np.uint8)
    labels = (np.arange(h) * 19 // h).astype(np.int64)
    a[:] = np.array(CITYSCAPES_COLORS, np.uint8)[labels][:, None, :]
    a[::97, :7] = (1, 2, 3)  # unknown colours
    a[5, 100:300] = (9, 9, 9)
    known = np.ones((h, w), bool)
    known[::97, :7] = False
    known[5, 100:300] = False
    ref = np.bincount(np.broadcast_to(labels[:, None], (h, w))[known], minlength=19)
    return a, ref.tolist()


def test_rgb_mask_with_unknown_colours_in_bounded_memory(tmp_path):
    import imagecodecs

    a, ref = _rgb_with_unknown(8000, 8000)  # 192 MB decoded; int64 copies would take 3.4 GB
    f = tmp_path / "rgb.png"
    f.write_bytes(imagecodecs.png_encode(a))
    del a
    r = cli("stats", f, "--num-classes", 19, "--palette", "cityscapes", "--unknown", "ignore",
            "--format", "json", ceiling=CEILING)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert [c["pixels"] for c in out["classes"]] == ref
    unknown = 83 * 7 + 200
    assert out["dataset"]["unknown_pixels"] == unknown


def test_colour_counting_takes_no_memory_per_pixel():
    # tracemalloc sees every numpy allocation: counting a 16 M pixel colour mask with unknown
    # colours must not allocate per pixel (the former path made int64 copies: ~48 bytes/pixel)
    r = python(
        """
        import tracemalloc
        import numpy as np
        from classweights.counting import CountOptions, count_mask
        from classweights.sources import ReadOptions
        a = np.zeros((4000, 4000, 3), np.uint8)
        a[::3, ::5] = (1, 2, 3)
        a[7] = (4, 5, 6)
        keys = np.array([0], np.int64)
        opts = CountOptions(ReadOptions(rgb=True), 1, 256, keys, np.array([0], np.int64))
        count_mask(a[:2, :2], "warm-up", opts)
        tracemalloc.start()
        c = count_mask(a, "a", opts)
        print(tracemalloc.get_traced_memory()[1] / a[..., 0].size)
        print(c.counts.tolist())
        print(c.unknown_colors)
        """
    )
    assert r.returncode == 0, r.stderr[-2000:]
    per_pixel, counts, unknown = r.stdout.splitlines()
    assert float(per_pixel) < 1.0
    n13 = len(range(0, 4000, 3)) * len(range(0, 4000, 5))
    assert unknown == str({"#010203": n13, "#040506": 4000})
    assert counts == str([16_000_000 - n13 - 4000])


def test_many_unknown_colours_keep_exact_totals():
    from classweights.counting import MAX_UNKNOWN_COLORS, OTHER_COLORS, CountOptions, count_mask
    from classweights.sources import ReadOptions

    rng = np.random.default_rng(0)
    a = rng.integers(1, 256, (64, 64, 3), dtype=np.uint8)  # ~4096 distinct colours, none known
    opts = CountOptions(ReadOptions(rgb=True), 1, 256, np.array([0], np.int64),
                        np.array([0], np.int64))  # fmt: skip
    c = count_mask(a, "a", opts)
    packed = (a[..., 0].astype(np.int64) << 16) | (a[..., 1].astype(np.int64) << 8) | a[..., 2]
    ref_colors, ref_counts = np.unique(packed, return_counts=True)
    listed = {k: v for k, v in c.unknown_colors.items() if k != OTHER_COLORS}
    assert len(listed) == MAX_UNKNOWN_COLORS < ref_colors.size
    ref = dict(zip((f"#{v:06x}" for v in ref_colors), ref_counts.tolist()))
    assert all(ref[k] == v for k, v in listed.items())
    assert sum(c.unknown_colors.values()) == a.shape[0] * a.shape[1]


@pytest.mark.parametrize(("dtype", "value"), [("uint32", 4_000_000_000), ("int64", 2**62)])
def test_a_huge_label_cannot_size_the_table(tmp_path, dtype, value):
    """One pixel of label 4e9 made the inferred table 4e9 classes wide (32 GB per image row):
    refused with the file named, before anything is allocated; an explicit count too."""
    a = np.zeros((8, 8), dtype)
    a[0, 0] = value
    np.save(tmp_path / "m.npy", a)
    r = cli("stats", tmp_path)
    one_line_error(r, tmp_path / "m.npy", f"holds label {value:,}", "above the 65,536",
                   "--num-classes K")  # fmt: skip
    r = cli("stats", tmp_path, "--num-classes", 100_000)
    one_line_error(r, "--num-classes 100000 is not valid: expected an int in [1, 65,536]")
    r = cli("stats", tmp_path, "--num-classes", 3, "--unknown", "ignore", "--format", "json")
    assert r.returncode == 0, r.stderr  # the way out the message names: counted, value reported
    assert json.loads(r.stdout)["dataset"]["unknown_pixels"] == 1
