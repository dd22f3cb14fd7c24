"""The cache never serves numbers of another dataset or of another state of this one.

Each test builds real folders on disk and compares what the cache returns with a plain
`cw.scan` of the same folder (no cache involved) or with hand-made expectations.
"""

import dataclasses
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_png

import classweights as cw
from classweights import cached_scan, load_weights
from classweights.cache import CacheWarning

KW = {"num_classes": 5, "ignore_index": 255}


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def _masks(seed, n=20, shape=(8, 8)):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 5, shape, dtype=np.uint8) for _ in range(n)]


def _write(folder: Path, masks, ext: str) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True)
    out = []
    for i, m in enumerate(masks):
        f = folder / f"m{i:02d}.{ext}"
        if ext == "npy":
            np.save(f, m)
        else:  # uncompressed TIFF: the file size depends on the shape only
            Image.fromarray(m).save(f)
        out.append(f)
    return out


def _same_times(files_from: list[Path], files_to: list[Path]) -> None:
    """What an archive with normalised timestamps gives: equal names, sizes and mtimes."""
    for a, b in zip(files_from, files_to):
        st = a.stat()
        os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert b.stat().st_size == st.st_size


def _weights(folder, method="inverse_freq"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cw.compute_weights(cw.scan(folder, **KW), method)


def _twins(tmp_path, ext):
    a = _write(tmp_path / "a", _masks(1), ext)
    b = _write(tmp_path / "b", _masks(2), ext)
    _same_times(a, b)
    return tmp_path / "a", tmp_path / "b"


# ---- 4: key collisions ----------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["npy", "tif"])  # tif: the warm loader's quick fingerprint
def test_same_listing_other_bytes_is_never_served(tmp_path, cache, ext):
    a, b = _twins(tmp_path, ext)
    sa, ia = cached_scan(a, cache_dir=cache, **KW)
    sb, ib = cached_scan(b, cache_dir=cache, **KW)
    assert sb == cw.scan(b, **KW) and sb != sa
    assert not ib.hit and ib.key != ia.key  # b got an entry of its own
    for folder in (a, b, a, b):  # both entries stay, each served to its own dataset
        s, info = cached_scan(folder, cache_dir=cache, **KW)
        assert info.hit and s == cw.scan(folder, **KW)
    wa = load_weights(a, "inverse_freq", cache_dir=cache, dtype=torch.float64, **KW)
    wb = load_weights(b, "inverse_freq", cache_dir=cache, dtype=torch.float64, **KW)
    np.testing.assert_allclose(wa.numpy(), _weights(a))
    np.testing.assert_allclose(wb.numpy(), _weights(b))
    for _ in range(2):  # warm, from the .pth files
        for folder in (b, a):
            w = load_weights(folder, "inverse_freq", cache_dir=cache, **KW)
            np.testing.assert_allclose(w, _weights(folder), rtol=1e-6)


def test_load_weights_first_on_the_second_twin(tmp_path, cache):
    a, b = _twins(tmp_path, "tif")
    load_weights(a, "inverse_freq", cache_dir=cache, **KW)
    w = load_weights(b, "inverse_freq", cache_dir=cache, **KW)
    np.testing.assert_allclose(w, _weights(b), rtol=1e-6)


def test_the_same_files_elsewhere_are_a_hit_a_byte_copy_is_scanned_once(tmp_path, cache):
    a = tmp_path / "a"
    _write(a, _masks(1), "tif")
    # hard links (cp -al) and a moved folder are the same files: served (after the probe);
    # making a link changes a file's change time, so the links come before the first scan
    shutil.copytree(a, tmp_path / "linked", copy_function=os.link)
    cached_scan(a, cache_dir=cache, **KW)
    s, info = cached_scan(tmp_path / "linked", cache_dir=cache, **KW)
    assert info.hit and s == cw.scan(tmp_path / "linked", **KW)
    a.rename(tmp_path / "moved")
    s, info = cached_scan(tmp_path / "moved", cache_dir=cache, **KW)
    assert info.hit and s == cw.scan(tmp_path / "moved", **KW)
    # a byte copy (copy2: same names, sizes and modification times) has new change times:
    # nothing vouches for its bytes, so it is scanned once, then served from its own entry
    shutil.copytree(tmp_path / "moved", tmp_path / "copy")
    s, info = cached_scan(tmp_path / "copy", cache_dir=cache, **KW)
    assert not info.hit and s == cw.scan(tmp_path / "copy", **KW)
    assert cached_scan(tmp_path / "copy", cache_dir=cache, **KW)[1].hit


def test_folder_replaced_at_the_same_path(tmp_path, cache):
    """rm -rf data; extract another archive into data (same names, sizes, times)."""
    data = tmp_path / "data"
    first = _write(data, _masks(1), "tif")
    load_weights(data, "inverse_freq", cache_dir=cache, **KW)
    data.rename(tmp_path / "old")  # keeps the old inode busy, as a real replacement may not
    second = _write(data, _masks(2), "tif")
    _same_times([tmp_path / "old" / f.name for f in first], second)
    w = load_weights(data, "inverse_freq", cache_dir=cache, **KW)
    np.testing.assert_allclose(w, _weights(data), rtol=1e-6)
    assert cached_scan(data, cache_dir=cache, **KW)[0] == cw.scan(data, **KW)


def test_incremental_never_reuses_rows_of_a_replaced_folder(tmp_path, cache):
    data = tmp_path / "data"
    first = _write(data, _masks(1), "npy")
    cached_scan(data, cache_dir=cache, **KW)
    data.rename(tmp_path / "old")
    second = _write(data, _masks(2), "npy")
    _same_times([tmp_path / "old" / f.name for f in first], second)
    np.save(data / "zz_new.npy", np.zeros((8, 8), np.uint8))  # a new key, the same lineage
    s, info = cached_scan(data, cache_dir=cache, **KW)
    assert s == cw.scan(data, **KW) and info.incremental is None


# ---- 5: checksums on stored arrays -----------------------------------------------------------
def test_one_flipped_byte_in_a_cached_pth_is_recomputed(tmp_path, cache):
    data = tmp_path / "data"
    _write(data, _masks(1), "tif")
    w = load_weights(data, "inverse_freq", cache_dir=cache, dtype=torch.float64, **KW)
    pth = next(Path(cache).glob("*/weights/*.pth"))
    raw = bytearray(pth.read_bytes())
    at = bytes(raw).find(w.numpy().tobytes())
    assert at > 0
    raw[at + 7] ^= 0x40  # the top byte of the first float64: 0x3f.. -> 0x7f.. (~1e308)
    pth.write_bytes(bytes(raw))
    damaged = torch.load(pth, weights_only=True)["weights"]
    assert damaged[0] > 1e300  # torch.load itself does not notice
    with pytest.warns(CacheWarning, match="checksum"):
        again = load_weights(data, "inverse_freq", cache_dir=cache, dtype=torch.float64, **KW)
    assert torch.equal(again, w) and torch.isfinite(again).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # rewritten: warm and quiet again
        warm = load_weights(data, "inverse_freq", cache_dir=cache, dtype=torch.float64, **KW)
    assert torch.equal(warm, w)


def test_one_flipped_byte_in_the_stored_table_is_recomputed(tmp_path, cache):
    data = tmp_path / "data"
    _write(data, _masks(1), "tif")
    s, info = cached_scan(data, cache_dir=cache, **KW)
    table = Path(info.path) / "stats" / "image_total.npy"
    raw = bytearray(table.read_bytes())
    raw[-3] ^= 0x01  # inside the data, after the header
    table.write_bytes(bytes(raw))
    with pytest.warns(CacheWarning):
        s2, info2 = cached_scan(data, cache_dir=cache, **KW)
    assert not info2.hit and s2 == s == cw.scan(data, **KW)


# ---- 6: incremental unknown-value tallies ----------------------------------------------------
@pytest.mark.parametrize("edit", ["touch", "delete", "rewrite"])
def test_incremental_unknown_values_equal_a_full_rescan(tmp_path, cache, edit):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        m = np.full((4, 8), i % 5, np.uint8)
        m[0, : i + 1] = 7  # 1..4 pixels of the unknown label 7
        save_png(data / f"{i}.png", m)
    kw = KW | {"unknown": "ignore"}
    assert cached_scan(data, cache_dir=cache, **kw)[0].unknown_values == {"7": 10}
    f = data / "2.png"
    if edit == "touch":
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    elif edit == "delete":
        f.unlink()
    else:
        m = np.zeros((4, 8), np.uint8)
        m[1, :2] = 6
        save_png(f, m)
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    s, info = cached_scan(data, cache_dir=cache, **kw)
    assert info.incremental is not None
    full = cw.scan(data, **kw)
    assert s == full
    expected = {"touch": {"7": 10}, "delete": {"7": 7}, "rewrite": {"7": 7, "6": 2}}[edit]
    assert s.unknown_values == expected  # by hand: 1 + 2 + 3 + 4 pixels of 7; file 2 has 3


# ---- 7: a folder changing during a --verify scan ---------------------------------------------
def test_verify_does_not_cache_a_folder_changed_during_the_scan(tmp_path, cache):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(12):
        save_png(data / f"{i:02d}.png", np.full((4, 8), i % 5, np.uint8))

    def progress(done, total):
        if done == 4:
            save_png(data / "00.png", np.full((4, 8), 3, np.uint8))  # after it was read

    with pytest.warns(CacheWarning, match="changed while they were scanned"):
        _, info = cached_scan(
            data, cache_dir=cache, verify=True, workers=1, progress=progress, **KW
        )
    assert info.path is None
    s, info = cached_scan(data, cache_dir=cache, verify=True, **KW)
    assert not info.hit and s == cw.scan(data, **KW)


# ---- more of the same kind -------------------------------------------------------------------
def test_multilabel_class_names_are_in_the_key(tmp_path, cache):
    """Per-class files are assigned channels by name: reordered names are other counts."""
    data = tmp_path / "faces"
    data.mkdir()
    for i in range(3):
        m = np.zeros((4, 4), np.uint8)
        m[: i + 1] = 1
        save_png(data / f"{i}_hair.png", m)
    kw = {"multilabel": True}
    s1, _ = cached_scan(data, cache_dir=cache, classes=["hair", "skin"], **kw)
    s2, _ = cached_scan(data, cache_dir=cache, classes=["skin", "hair"], **kw)
    assert s1.pixels.tolist() == [24, 0]
    assert s2.pixels.tolist() == [0, 24] and s2 == cw.scan(data, classes=["skin", "hair"], **kw)


def test_entries_of_another_classweights_version_are_not_served(tmp_path, cache, monkeypatch):
    """A release that reads masks differently must not serve counts an older one cached."""
    data = tmp_path / "data"
    _write(data, _masks(1), "tif")
    _, i1 = cached_scan(data, cache_dir=cache, **KW)
    monkeypatch.setattr(cw, "__version__", "999.0")
    _, i2 = cached_scan(data, cache_dir=cache, **KW)
    assert i1.key != i2.key and not i2.hit


def test_unchecksummed_weight_record_is_recomputed(tmp_path, cache):
    data = tmp_path / "data"
    _write(data, _masks(1), "tif")
    w = load_weights(data, "inverse_freq", cache_dir=cache, dtype=torch.float64, **KW)
    pth = next(Path(cache).glob("*/weights/*.pth"))
    rec = torch.load(pth, weights_only=True)
    del rec["checksum"]
    rec["weights"] = torch.full_like(rec["weights"], 7.0)  # planted by hand or an old version
    torch.save(rec, pth)
    with pytest.warns(CacheWarning, match="checksum"):
        again = load_weights(data, "inverse_freq", cache_dir=cache, dtype=torch.float64, **KW)
    assert torch.equal(again, w)


def _fields_equal(a, b):
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y) and x.dtype == y.dtype, f.name
        else:
            assert x == y, (f.name, x, y)


@pytest.mark.parametrize(
    "pair",
    [
        (torch.tensor([1.23451, 2, 3, 4, 5]), torch.tensor([1.23449, 2, 3, 4, 5])),  # prints 1.2345
        (np.r_[np.ones(600), 1.5, np.ones(600)], np.r_[np.ones(600), 2.5, np.ones(600)]),  # "..."
    ],
)
def test_weight_options_are_told_apart_by_their_exact_values(tmp_path, cache, pair):
    """Two `manual` vectors that print alike must not share one cached weight file."""
    data = tmp_path / "data"
    data.mkdir()
    n = len(pair[0])
    for i in range(3):
        np.save(data / f"{i}.npy", np.arange(n * 2, dtype=np.int64).reshape(2, n) % n)
    kw = {"num_classes": n, "normalize": "none"}
    for manual in pair:
        w = load_weights(data, "manual", cache_dir=cache, dtype=torch.float64, manual=manual, **kw)
        np.testing.assert_allclose(w.numpy(), np.asarray(manual, np.float64), rtol=1e-7)


def test_remap_file_edited_in_place_is_a_new_key(tmp_path, cache):
    """The key holds the remap table's contents, not its path."""
    data = tmp_path / "data"
    _write(data, _masks(1), "tif")
    table = tmp_path / "remap.json"
    table.write_text('{"1": 0}')
    s1, i1 = cached_scan(data, cache_dir=cache, remap=table, **KW)
    table.write_text('{"1": 3}')
    s2, i2 = cached_scan(data, cache_dir=cache, remap=table, **KW)
    assert i2.key != i1.key and s2 == cw.scan(data, remap={"1": 3}, **KW) and s2 != s1


def test_explicit_indices_are_never_served_the_whole_dataset(tmp_path, cache):
    data = tmp_path / "data"
    _write(data, _masks(1, n=6), "tif")
    cached_scan(data, cache_dir=cache, **KW)
    s, info = cached_scan(data, cache_dir=cache, indices=[0, 1], **KW)
    assert not info.hit and s == cw.scan(data, indices=[0, 1], **KW) and s.num_images == 2


def test_a_remote_folder_changed_during_the_scan_is_not_cached(tmp_path, cache):
    """Same rule for fsspec URLs: listed again after the scan (here file://)."""
    data = tmp_path / "data"
    data.mkdir()
    for i in range(12):
        save_png(data / f"{i:02d}.png", np.full((4, 8), i % 5, np.uint8))
    f = data / "00.png"

    def progress(done, total):
        if done == 4:
            save_png(f, np.full((4, 8), 3, np.uint8))
            os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))

    with pytest.warns(CacheWarning, match="changed while they were scanned"):
        _, info = cached_scan(f"file://{data}", cache_dir=cache, workers=1, progress=progress, **KW)
    assert info.path is None
    s, info = cached_scan(f"file://{data}", cache_dir=cache, **KW)
    assert not info.hit and np.array_equal(s.counts, cw.scan(data, **KW).counts)


def test_a_hit_carries_this_calls_class_names_not_an_earlier_calls(tmp_path, cache):
    data = tmp_path / "data"
    _write(data, _masks(1, n=4), "tif")
    cached_scan(data, cache_dir=cache, classes=["a", "b", "c", "d", "e"], **KW)
    s, info = cached_scan(data, cache_dir=cache, **KW)
    assert info.hit and s.class_names is None and cw.scan(data, **KW).class_names is None
    s, info = cached_scan(data, cache_dir=cache, classes=["v", "w", "x", "y", "z"], **KW)
    assert info.hit and s.class_names == ["v", "w", "x", "y", "z"]


def test_palette_file_edited_in_place_is_a_new_key(tmp_path, cache):
    """The key holds the colour table's contents, not its path."""
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        m = np.zeros((4, 8, 3), np.uint8)
        m[: i + 1, :, 0] = 255  # red rows
        save_png(data / f"{i}.png", m)
    table = tmp_path / "palette.json"
    table.write_text('{"#000000": 0, "#ff0000": 1}')
    s1, i1 = cached_scan(data, cache_dir=cache, palette=table, **KW)
    table.write_text('{"#000000": 0, "#ff0000": 4}')
    s2, i2 = cached_scan(data, cache_dir=cache, palette=table, **KW)
    assert i2.key != i1.key and s1.pixels.tolist() == [48, 48, 0, 0, 0]
    assert s2.pixels.tolist() == [48, 0, 0, 0, 48]  # by hand: 6 red rows of 8 pixels
