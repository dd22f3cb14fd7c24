"""Issue 28 (items 1 and 14): NRRD data files are followed only inside the dataset's folder,
are part of the cache key, and compressed data is never inflated past its declared size.
References: the arrays written, counted with ``np.bincount``; headers are written by hand
where pynrrd cannot write the case (detached data, LIST, patterns, hex)."""

from __future__ import annotations

import bz2
import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import classweights as cw
from classweights import cached_scan
from classweights.errors import ClassWeightsError

nrrd = pytest.importorskip("nrrd")
ROOT = Path(__file__).resolve().parents[1]


def _vol(shape=(5, 4, 3), k=4, seed=0, dtype=np.uint8):
    return np.random.default_rng(seed).integers(0, k, shape).astype(dtype)


def _counts(a, k=4):
    return np.bincount(np.asarray(a).ravel().astype(np.int64), minlength=k).tolist()


def _header(a, data_file=None, encoding="raw", extra="", endian="little"):
    """An NRRD header for ``a`` (x fastest), as teem writes it."""
    types = {"u1": "uint8", "i1": "int8", "u2": "uint16", "i2": "int16", "i4": "int32",
             "f4": "float"}  # fmt: skip
    lines = [
        "NRRD0004",
        "# written by hand for a test",
        f"type: {types[a.dtype.str[1:]]}",
        f"dimension: {a.ndim}",
        "sizes: " + " ".join(map(str, a.shape)),
        f"encoding: {encoding}",
        "spacings: 0.5 0.5 2",
    ]
    if a.dtype.itemsize > 1:
        lines.append(f"endian: {endian}")
    lines += [x for x in extra.splitlines() if x]
    if data_file is not None:
        lines.append(f"data file: {data_file}")
    return ("\n".join(lines) + "\n").encode()


def _raw(a, endian="<"):
    return np.asarray(a).astype(a.dtype.newbyteorder(endian)).tobytes(order="F")


def test_detached_raw_data_counts_exactly(tmp_path):
    a = _vol()
    (tmp_path / "seg.nhdr").write_bytes(_header(a, "seg.raw"))
    (tmp_path / "seg.raw").write_bytes(_raw(a))
    s = cw.scan(tmp_path, num_classes=4)
    assert s.counts.tolist() == [_counts(a)]
    assert s.shape.tolist() == [list(a.shape)]
    assert np.allclose(s.physical_volume, np.array(_counts(a)) * 0.5)


@pytest.mark.parametrize("verify", [False, True])
def test_a_rewritten_detached_data_file_is_a_new_key(tmp_path, verify):
    """Same size, modification time restored: the data file is in the listing, the key and the
    hashed bytes (it was not: its change was never seen)."""
    data = tmp_path / "data"
    data.mkdir()
    a, b = _vol(seed=1), _vol(seed=2)
    (data / "seg.nrrd").write_bytes(_header(a, "seg.raw"))
    raw = data / "seg.raw"
    raw.write_bytes(_raw(a))
    kw = {"num_classes": 4, "cache_dir": tmp_path / "cache", "verify": verify}
    first, _ = cached_scan(data, **kw)
    again, info = cached_scan(data, **kw)
    assert info.hit and first.counts.tolist() == [_counts(a)]
    st = raw.stat()
    raw.write_bytes(_raw(b))
    os.utime(raw, ns=(st.st_atime_ns, st.st_mtime_ns))
    after, info = cached_scan(data, **kw)
    assert not info.hit
    assert after.counts.tolist() == [_counts(b)]


@pytest.mark.parametrize("where", ["absolute", "parent", "link"])
def test_data_outside_the_dataset_folder_is_refused(tmp_path, where):
    a = _vol()
    outside = tmp_path / "secret.raw"
    outside.write_bytes(_raw(a))
    data = tmp_path / "data"
    data.mkdir()
    name = {"absolute": str(outside), "parent": "../secret.raw", "link": "inside.raw"}[where]
    if where == "link":
        (data / "inside.raw").symlink_to(outside)
    (data / "seg.nrrd").write_bytes(_header(a, name))
    with pytest.raises(ClassWeightsError, match=r"seg\.nrrd: its data file .* lies outside the "
                       r"dataset folder"):  # fmt: skip
        cw.scan(data, num_classes=4)


def test_data_elsewhere_inside_the_given_folder_is_followed(tmp_path):
    a = _vol()
    (tmp_path / "headers").mkdir()
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "seg.raw").write_bytes(_raw(a))
    (tmp_path / "headers" / "seg.nrrd").write_bytes(_header(a, "../raw/seg.raw"))
    assert cw.scan(tmp_path, num_classes=4).counts.tolist() == [_counts(a)]
    with pytest.raises(ClassWeightsError, match="outside the dataset folder"):
        cw.scan(tmp_path / "headers", num_classes=4)  # the folder given holds no data


def _scan_in_child(path, timeout=120):
    code = (
        "import classweights as cw, sys\n"
        "try:\n"
        f"    cw.scan({str(path)!r}, num_classes=4)\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e); sys.exit(2)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_data_file_is_refused_not_waited_for(tmp_path):
    a = _vol()
    os.mkfifo(tmp_path / "seg.raw")
    (tmp_path / "seg.nrrd").write_bytes(_header(a, "seg.raw"))
    r = _scan_in_child(tmp_path)  # it used to block forever in open()
    assert r.returncode == 2, r.stdout + r.stderr
    assert "seg.raw" in r.stdout and "FIFO" in r.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_like_a_mask_is_refused_not_waited_for(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    os.mkfifo(tmp_path / "b.png")
    r = _scan_in_child(tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "b.png: is a FIFO" in r.stdout


def test_list_and_pattern_data_files(tmp_path):
    a = _vol((4, 3, 5))
    for z in range(5):
        (tmp_path / f"slice{z:02d}.raw").write_bytes(_raw(a[:, :, z]))
    listed = _header(a, "LIST 2") + b"".join(f"slice{z:02d}.raw\n".encode() for z in range(5))
    (tmp_path / "list.nhdr").write_bytes(listed)
    (tmp_path / "pattern.nhdr").write_bytes(_header(a, "slice%02d.raw 0 4 1"))
    (tmp_path / "backwards.nhdr").write_bytes(_header(a[:, :, ::-1], "slice%02d.raw 4 0 -1"))
    s = cw.scan(tmp_path, num_classes=4)
    assert s.counts.tolist() == [_counts(a)] * 3
    assert s.sources[0].endswith("backwards.nhdr")


def test_a_pattern_reaching_outside_is_refused(tmp_path):
    a = _vol((4, 3, 2))
    data = tmp_path / "data"
    data.mkdir()
    for z in range(2):
        (tmp_path / f"s{z}.raw").write_bytes(_raw(a[:, :, z]))
    (data / "p.nrrd").write_bytes(_header(a, "../s%d.raw 0 1 1"))
    with pytest.raises(ClassWeightsError, match="outside the dataset folder"):
        cw.scan(data, num_classes=4)


@pytest.mark.parametrize("encoding", ["raw", "gzip", "bzip2", "ascii"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16])
def test_pynrrd_files_read_exactly(tmp_path, encoding, dtype):
    a = _vol((6, 5, 4), k=4, dtype=dtype)
    a[0, 0, 0] = 3
    f = tmp_path / "seg.nrrd"
    nrrd.write(str(f), a, {"encoding": encoding, "spacings": [1.0, 1.0, 1.0]}, index_order="F")
    s = cw.scan(f, num_classes=4)
    assert s.counts.tolist() == [_counts(a)]
    assert s.shape.tolist() == [list(a.shape)]


@pytest.mark.parametrize("endian", ["little", "big"])
def test_hex_big_endian_line_and_byte_skip(tmp_path, endian):
    a = _vol((3, 4, 2), dtype=np.uint16) * 300  # labels 0, 300, 600, 900: both bytes matter
    order = "<" if endian == "little" else ">"
    raw = _raw(a, order)
    (tmp_path / "hex.nrrd").write_bytes(
        _header(a, encoding="hex", endian=endian) + b"\n" + "\n".join(
            raw[i : i + 7].hex(" ") for i in range(0, len(raw), 7)).encode()  # fmt: skip
    )
    (tmp_path / "skip.raw").write_bytes(b"P5 junk line\nsecond\n" + b"\xff" * 3 + raw)
    (tmp_path / "skip.nhdr").write_bytes(
        _header(a, "skip.raw", endian=endian, extra="line skip: 2\nbyte skip: 3")
    )
    (tmp_path / "gz.raw.gz").write_bytes(gzip.compress(b"\x00" * 5 + raw))
    (tmp_path / "gz.nhdr").write_bytes(
        _header(a, "gz.raw.gz", "gzip", endian=endian, extra="byte skip: 5")
    )
    s = cw.scan(tmp_path, num_classes=901)
    ref = np.bincount(a.ravel(), minlength=901).tolist()
    assert s.counts.tolist() == [ref] * 3


def test_ascii_values_outside_the_type_are_refused(tmp_path):
    a = _vol((2, 2, 2))
    text = " ".join(["-1"] + ["1"] * 7)
    (tmp_path / "neg.nrrd").write_bytes(_header(a, encoding="ascii") + b"\n" + text.encode())
    with pytest.raises(ClassWeightsError, match=r"neg\.nrrd: the ascii data holds values outside"):
        cw.scan(tmp_path / "neg.nrrd", num_classes=4)


@pytest.mark.parametrize("codec", ["gzip", "bzip2"])
def test_more_data_than_declared_is_refused_before_it_is_inflated(tmp_path, codec):
    """A header declaring 8 voxels and a stream of 50 MB (350 MB in the issue): refused after
    at most one block of 1 MiB is inflated (pynrrd inflated all of it first)."""
    a = _vol((2, 2, 2))
    zeros = bytes(50 << 20)
    comp = gzip.compress(zeros, 9) if codec == "gzip" else bz2.compress(zeros, 9)
    f = tmp_path / "bomb.nrrd"
    f.write_bytes(_header(a, encoding=codec) + b"\n" + comp)
    with pytest.raises(ClassWeightsError, match=rf"bomb\.nrrd: the {codec[:2]}\w* data "
                       "decompresses to more than the 8 bytes"):  # fmt: skip
        cw.scan(f, num_classes=4)


@pytest.mark.parametrize("cut", ["gzip", "raw"])
def test_truncated_data_is_refused(tmp_path, cut):
    a = _vol((6, 5, 4))
    body = gzip.compress(_raw(a)) if cut == "gzip" else _raw(a)
    f = tmp_path / "cut.nrrd"
    f.write_bytes(_header(a, encoding=cut) + b"\n" + body[: len(body) // 2])
    with pytest.raises(ClassWeightsError, match=r"cut\.nrrd: .*truncated"):
        cw.scan(f, num_classes=4)


def test_a_header_without_end_is_refused(tmp_path):
    f = tmp_path / "long.nrrd"
    f.write_bytes(b"NRRD0004\ntype: uint8\n" + b"# " + b"x" * (2 << 20))
    with pytest.raises(ClassWeightsError, match=r"long\.nrrd: the NRRD header runs past"):
        cw.scan(f, num_classes=4)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_given_by_name_or_as_a_zarr_chunk_is_refused_not_waited_for(tmp_path):
    os.mkfifo(tmp_path / "named.png")
    r = _scan_in_child(tmp_path / "named.png")
    assert r.returncode == 2 and "named.png: is a FIFO" in r.stdout, r.stdout + r.stderr
    zarr = pytest.importorskip("zarr")
    store = tmp_path / "m.zarr"
    zarr.create_array(str(store), shape=(2, 4, 4), chunks=(1, 4, 4), dtype="u1")[...] = 1
    chunk = next(p for p in store.rglob("*") if p.is_file() and p.name != "zarr.json")
    chunk.unlink()
    os.mkfifo(chunk)
    r = _scan_in_child(store)
    assert r.returncode == 2 and "is a FIFO" in r.stdout, r.stdout + r.stderr
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    verify = subprocess.run(  # --verify hashes every file first: it must not wait either
        [sys.executable, "-m", "classweights.cli", "stats", str(store), "--num-classes", "2",
         "--verify", "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert verify.returncode == 2 and "is a FIFO" in verify.stderr, verify.stderr


def test_a_header_with_no_data_after_it_is_refused(tmp_path):
    """Without the blank line nothing follows the header: its own text must not be read as
    voxels (8 header bytes made a 2 x 2 x 2 volume)."""
    f = tmp_path / "nodata.nrrd"
    f.write_bytes(b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 2 2\nencoding: raw")
    with pytest.raises(ClassWeightsError, match=r"nodata\.nrrd: the NRRD header is followed by no "
                       "data"):  # fmt: skip
        cw.scan(f, num_classes=256)
