"""The README's memory bound, reader by reader (issue 28).

Each case scans one large mask of one kind with the CLI in a child process under the memory
ceiling (`capped.py`), checks the counts against NumPy, and compares the child's peak resident
memory with a baseline child that loaded every reader and the same kernels on tiny files:

    peak - baseline <= the file's bytes + the values the header declares (x2 for masks Pillow
                       decodes: palette PNG, TIFF) + ALLOWANCE

Files that declare little and inflate to a lot (NRRD gzip/bzip2 data, zarr chunks, a .nii.gz
by URL) and the one-hot check of a stack are held to the same bound: before, they took the
inflated size or several copies of the stack.
"""

from __future__ import annotations

import bz2
import gzip
import json
import math

import numpy as np
import pytest
from capped import cli_peak, one_line_error

nib = pytest.importorskip("nibabel")
nrrd = pytest.importorskip("nrrd")
zarr = pytest.importorskip("zarr")

#: resident memory a scan may take beyond the bound's terms (allocator slack, small buffers)
ALLOWANCE = 48
MB = 1 << 20
K = 3


def _blocky(shape: tuple[int, ...], dtype=np.uint8) -> np.ndarray:
    """Labels 0..K-1 in blocks (compresses well, so files are quick to write)."""
    i = np.arange(shape[0])[:, None] // 97
    j = np.arange(shape[1])[None, :] // 89
    a = ((i + j) % K).astype(dtype)
    if len(shape) == 3:
        a = np.repeat(a[..., None], shape[2], axis=2)
        a[..., ::7] = (a[..., ::7] + 1) % K
    return a


def _counts(a: np.ndarray) -> list[int]:
    return np.bincount(a.reshape(-1).astype(np.int64), minlength=K).tolist()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> float:
    """Peak resident MB of a scan that loads every reader and kernel on tiny files."""
    from PIL import Image

    d = tmp_path_factory.mktemp("tiny")
    a = _blocky((8, 8))
    Image.fromarray(a).save(d / "t.png")
    Image.fromarray(a).convert("P").save(d / "p.png")
    Image.fromarray(a).save(d / "t.tif", compression="tiff_deflate")
    np.save(d / "t.npy", np.stack([a, a]))
    np.savez_compressed(d / "t.npz", masks=np.stack([a, a]))
    zarr.create_array(str(d / "t.zarr"), shape=(2, 8, 8), dtype="u1")[...] = np.stack([a, a])
    v = _blocky((4, 4, 4))
    nib.save(nib.Nifti1Image(v, np.eye(4)), d / "t.nii.gz")
    nib.save(nib.Nifti1Image(v.astype(np.float32), np.eye(4)), d / "f.nii.gz")
    nrrd.write(str(d / "t.nrrd"), v, {"encoding": "gzip"})
    (d / "all.txt").write_text("t.png\np.png\nt.tif\nt.npy\nt.npz\nt.zarr\nt.nii.gz\nf.nii.gz\n"
                               "t.nrrd\n")  # fmt: skip
    for _ in range(2):  # the first run may compile kernels into Numba's cache: measure the second
        r, peak = cli_peak("stats", d / "all.txt", "--num-classes", K, "--no-cache", "--workers", 1)
        assert r.returncode == 0, r.stderr[-2000:]
    return peak


def _png(d, a):
    import imagecodecs

    (d / "m.png").write_bytes(imagecodecs.png_encode(a))
    return d / "m.png", 1


def _palette_png(d, a):
    from PIL import Image

    Image.fromarray(a).convert("P").save(d / "m.png")  # palette indices 0..2 = the labels
    return d / "m.png", 2


def _tiff(d, a):
    from PIL import Image

    Image.fromarray(a).save(d / "m.tif", compression="tiff_deflate")
    return d / "m.tif", 2


def _npy(d, a):
    np.save(d / "m.npy", a)
    return d / "m.npy", 1


def _npz(d, a):
    np.savez_compressed(d / "m.npz", masks=a)
    return d / "m.npz", 1


def _zarr_bz2(d, a):
    from numcodecs import zarr3

    z = zarr.create_array(str(d / "m.zarr"), shape=a.shape, chunks=(1000, 1000),
                          dtype=a.dtype, compressors=zarr3.BZ2())  # fmt: skip
    z[...] = a
    return d / "m.zarr", 1


def _nifti(name, scale=None, dtype=np.uint8):
    def make(d, a):
        img = nib.Nifti1Image(a.astype(dtype), np.eye(4))
        if scale:
            img.header.set_slope_inter(*scale)
        nib.save(img, d / name)
        return d / name, 1

    return make


def _nrrd(encoding):
    def make(d, a):
        nrrd.write(str(d / "m.nrrd"), a, {"encoding": encoding}, index_order="F")
        return d / "m.nrrd", 1

    return make


def _nhdr(d, a):
    (d / "m.raw").write_bytes(a.tobytes(order="F"))
    sizes = " ".join(map(str, a.shape))
    (d / "m.nhdr").write_text(f"NRRD0004\ntype: uint8\ndimension: 3\nsizes: {sizes}\n"
                              "encoding: raw\ndata file: m.raw\n")  # fmt: skip
    return d / "m.nhdr", 1


SHAPE_2D = (7800, 7700)  # 60 M pixels
SHAPE_3D = (400, 375, 400)  # 60 M voxels
CASES = {
    "png (imagecodecs)": (_png, SHAPE_2D, np.uint8),
    "palette png (Pillow)": (_palette_png, SHAPE_2D, np.uint8),
    "tiff (Pillow)": (_tiff, SHAPE_2D, np.uint8),
    "npy": (_npy, SHAPE_2D, np.uint8),
    "npz": (_npz, SHAPE_2D, np.uint8),
    "zarr bz2": (_zarr_bz2, SHAPE_2D, np.uint8),
    "nii": (_nifti("m.nii"), SHAPE_3D, np.uint8),
    "nii.gz": (_nifti("m.nii.gz"), SHAPE_3D, np.uint8),
    "nii.gz scl_slope": (_nifti("m.nii.gz", (2.0, 0.0)), SHAPE_3D, np.uint8),
    "nii.gz float32": (_nifti("m.nii.gz", dtype=np.float32), (400, 375, 133), np.float32),
    "nrrd raw": (_nrrd("raw"), SHAPE_3D, np.uint8),
    "nrrd gzip": (_nrrd("gzip"), SHAPE_3D, np.uint8),
    "nrrd bzip2": (_nrrd("bzip2"), (400, 375, 100), np.uint8),
    "nhdr + raw": (_nhdr, SHAPE_3D, np.uint8),
    "nii.gz by URL": (_nifti("m.nii.gz"), SHAPE_3D, np.uint8),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_reader_stays_within_the_readme_bound(tmp_path, baseline, case):
    make, shape, dtype = CASES[case]
    a = _blocky(shape)
    path, factor = make(tmp_path, a)
    ref = _counts(a)
    if case == "nii.gz scl_slope":
        ref = [ref[0], 0, ref[1], 0, ref[2], 0]  # labels 0, 2, 4
    target = f"file://{path}" if "URL" in case else path
    r, peak = cli_peak("stats", target, "--num-classes", len(ref), "--no-cache", "--workers", 1,
                       "--format", "json")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert [c["pixels"] for c in json.loads(r.stdout)["classes"]] == ref
    size = sum(f.stat().st_size for f in tmp_path.rglob("*") if f.is_file())
    bound = size / MB + factor * math.prod(shape) * np.dtype(dtype).itemsize / MB + ALLOWANCE
    assert peak - baseline <= bound, (case, peak, baseline, bound)


def _nrrd_bomb(d, codec):
    zeros = bytes(400 * MB)
    body = gzip.compress(zeros, 9) if codec == "gzip" else bz2.compress(zeros, 9)
    f = d / "bomb.nrrd"
    f.write_bytes(b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 2 2\nencoding: "
                  + codec.encode() + b"\n\n" + body)  # fmt: skip
    return f


@pytest.mark.parametrize("codec", ["gzip", "bzip2"])
def test_nrrd_data_declaring_8_voxels_and_holding_400_mb(tmp_path, baseline, codec):
    f = _nrrd_bomb(tmp_path, codec)
    r, peak = cli_peak("stats", f, "--num-classes", K, "--no-cache")
    one_line_error(r, f, "decompresses to more than the 8 bytes its header declares")
    assert peak - baseline <= f.stat().st_size / MB + ALLOWANCE


def test_a_zarr_chunk_of_a_few_hundred_bytes_holding_400_mb(tmp_path, baseline):
    from numcodecs import zarr3

    z = zarr.create_array(str(tmp_path / "m.zarr"), shape=(64, 64), chunks=(64, 64),
                          dtype="uint8", compressors=zarr3.BZ2())  # fmt: skip
    z[...] = 1
    chunk = next(p for p in (tmp_path / "m.zarr").rglob("*") if p.is_file()
                 and p.name != "zarr.json")  # fmt: skip
    chunk.write_bytes(bz2.compress(bytes(400 * MB), 9))
    assert chunk.stat().st_size < 4096
    r, peak = cli_peak("stats", tmp_path / "m.zarr", "--num-classes", K, "--no-cache")
    one_line_error(r, "m.zarr", "decompresses to more than the 4,096 bytes")
    assert peak - baseline <= ALLOWANCE


def test_a_nifti_gz_by_url_holding_400_mb_past_its_voxels(tmp_path, baseline):
    v = _blocky((4, 4, 4))
    nib.save(nib.Nifti1Image(v, np.eye(4)), tmp_path / "small.nii")
    f = tmp_path / "tail.nii.gz"
    f.write_bytes(gzip.compress((tmp_path / "small.nii").read_bytes() + bytes(400 * MB), 9))
    r, peak = cli_peak("stats", f"file://{f}", "--num-classes", K, "--no-cache", "--format", "json")
    assert r.returncode == 0, r.stderr[-2000:]
    assert [c["pixels"] for c in json.loads(r.stdout)["classes"]] == _counts(v)
    assert peak - baseline <= f.stat().st_size / MB + ALLOWANCE


@pytest.mark.parametrize("kind", ["npy", "zarr"])
def test_the_one_hot_check_reads_a_stack_slice_by_slice(tmp_path, baseline, kind):
    """A 256 x 500 x 500 one-hot stack (64 MB): refused, reading one slice at a time (the
    whole stack and three stack-sized temporaries before)."""
    labels = (np.arange(500)[:, None] // 10 * 7 + np.arange(500)[None, :] // 25) % 256
    onehot = np.zeros((256, 500, 500), np.uint8)
    np.put_along_axis(onehot, labels[None], 1, axis=0)
    f = tmp_path / f"oh.{kind}"
    if kind == "npy":
        np.save(f, onehot)
    else:
        zarr.create_array(str(f), shape=onehot.shape, chunks=(1, 500, 500), dtype="u1")[...] = onehot
    del onehot
    r, peak = cli_peak("stats", f, "--num-classes", 2, "--no-cache")
    one_line_error(r, f, "every pixel is set in exactly one of its 256 slices")
    size = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert peak - baseline <= size / MB + ALLOWANCE


def test_a_nifti_extension_declaring_400_mb(tmp_path, baseline):
    """nibabel reads a header extension whole, whatever size it declares."""
    import struct

    img = nib.Nifti1Image(_blocky((4, 4, 4)), np.eye(4))
    img.header.extensions.append(nib.nifti1.Nifti1Extension("comment", b"scanner notes"))
    nib.save(img, tmp_path / "ok.nii")
    raw = bytearray((tmp_path / "ok.nii").read_bytes())
    struct.pack_into("<i", raw, 352, 400 * MB)
    f = tmp_path / "ext.nii.gz"
    f.write_bytes(gzip.compress(bytes(raw) + bytes(400 * MB), 9))
    r, peak = cli_peak("stats", f, "--num-classes", K, "--no-cache")
    one_line_error(r, f, "a NIfTI header extension declares 419,430,400 bytes")
    assert peak - baseline <= f.stat().st_size / MB + ALLOWANCE


def test_a_fortran_ordered_npz_stack_is_read_a_block_at_a_time(tmp_path, baseline):
    """Each image of a Fortran-ordered member used to decompress the whole member (64 MB)."""
    stack = np.stack([_blocky((1000, 1000)) for _ in range(64)])
    stack[::3] = (stack[::3] + 1) % K
    f = tmp_path / "f.npz"
    np.savez_compressed(f, masks=np.asfortranarray(stack))
    r, peak = cli_peak("stats", f, "--num-classes", K, "--no-cache", "--workers", 1, "--format",
                       "json")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert [c["pixels"] for c in out["classes"]] == _counts(stack)
    block = 16  # MB: the 16 M values read at once
    assert peak - baseline <= f.stat().st_size / MB + 1 + block + ALLOWANCE
