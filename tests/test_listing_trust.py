"""Issue 28 (items 9 and 10): one version rule for every way a file is reached, and one mask
reached by two spellings is one mask. References: NumPy counts of the masks written."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import classweights as cw
from classweights import cached_scan
from classweights.errors import DuplicateWarning


def _png(path, a):
    from PIL import Image

    Image.fromarray(np.asarray(a, np.uint8)).save(path, format="PNG")
    return path


def _rewrite_keeping_size_and_mtime(path, a):
    st = path.stat()
    np.save(path, a)
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("verify", [False, True])
def test_a_file_url_rewrite_with_restored_mtime_is_not_served_stale(tmp_path, verify):
    pytest.importorskip("fsspec")
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "a.npy", np.zeros((8, 8), np.uint8))
    f = data / "b.npy"
    np.save(f, np.zeros((8, 8), np.uint8))
    url = f"file://{data}"
    kw = {"num_classes": 2, "cache_dir": tmp_path / "cache", "verify": verify}
    cached_scan(url, **kw)
    _, info = cached_scan(url, **kw)
    assert info.hit
    _rewrite_keeping_size_and_mtime(f, np.ones((8, 8), np.uint8))
    after, info = cached_scan(url, **kw)
    assert not info.hit
    assert after.pixels.tolist() == [64, 64]
    local, _ = cached_scan(data, **kw)  # the local path sees the same numbers
    assert local.pixels.tolist() == [64, 64]


def _masks(folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    masks = [np.full((4, 4), i % 2, np.uint8) for i in range(n)]
    for i, a in enumerate(masks):
        _png(folder / f"m{i}.png", a)
    return masks


def _scan(paths, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = cw.scan(paths, num_classes=2, **kw)
    return s, [w for w in caught if issubclass(w.category, DuplicateWarning)]


def test_one_file_by_two_spellings_is_counted_once(tmp_path, monkeypatch):
    _masks(tmp_path / "d" / "sub")
    monkeypatch.chdir(tmp_path)
    a = "d/sub/m0.png"
    spellings = [a, str(tmp_path / a), "d/sub/../sub/m0.png", "./d//sub/m0.png"]
    s, dup = _scan(spellings)
    assert s.num_images == 1 and s.pixels.tolist() == [16, 0]
    assert len(dup) == 1 and "3 mask(s) given more than once" in str(dup[0].message)
    pytest.importorskip("fsspec")
    s, dup = _scan([a, f"file://{tmp_path / a}"])
    assert s.num_images == 1 and len(dup) == 1


def test_a_folder_given_through_a_symlinked_parent_is_counted_once(tmp_path):
    masks = _masks(tmp_path / "real")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    s, dup = _scan([tmp_path / "real", tmp_path / "alias"])
    assert s.num_images == len(masks)
    assert len(dup) == 1


def test_a_symlink_to_a_listed_file_is_counted_once(tmp_path):
    masks = _masks(tmp_path / "d")
    (tmp_path / "d" / "z_link.png").symlink_to(tmp_path / "d" / "m1.png")
    (tmp_path / "d" / "a_link.png").symlink_to("m2.png")  # relative, listed before its target
    s, dup = _scan(tmp_path / "d")
    assert s.num_images == len(masks)
    assert s.pixels.tolist() == np.bincount(np.concatenate([m.ravel() for m in masks])).tolist()
    assert len(dup) == 1 and "2 mask(s)" in str(dup[0].message)


def test_symlinks_and_hard_links_to_unlisted_or_shared_bytes_stay_separate_masks(tmp_path):
    """Content-addressed caches (Hugging Face's blobs, DVC) link equal masks to one blob, and
    benchmarks build datasets from hard links: distinct folder entries are distinct masks."""
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    _png(blobs / "x", np.ones((4, 4)))
    d = tmp_path / "snapshot"
    d.mkdir()
    (d / "a.png").symlink_to(blobs / "x")
    (d / "b.png").symlink_to(blobs / "x")
    os.link(blobs / "x", d / "c.png")
    os.link(blobs / "x", d / "e.png")
    s, dup = _scan(d)
    assert s.num_images == 4 and s.pixels.tolist() == [0, 64]
    assert not dup


def test_the_cache_key_agrees_with_the_deduplicated_listing(tmp_path):
    masks = _masks(tmp_path / "d")
    (tmp_path / "d" / "z_link.png").symlink_to(tmp_path / "d" / "m1.png")
    kw = {"num_classes": 2, "cache_dir": tmp_path / "cache"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateWarning)
        first, _ = cached_scan(tmp_path / "d", **kw)
        again, info = cached_scan(tmp_path / "d", **kw)
        w = cw.load_weights(tmp_path / "d", "inverse_freq", normalize="none", **kw)
    assert info.hit and first.num_images == again.num_images == len(masks)
    from classweights.cache.fingerprint import fingerprint, quick_fingerprint
    from classweights.scan.settings import ScanSettings
    from classweights.sources import discover

    settings = ScanSettings.from_kwargs(None, num_classes=2).key()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateWarning)
        full = fingerprint([str(tmp_path / "d")], discover(tmp_path / "d"), settings)
    assert quick_fingerprint([str(tmp_path / "d")], settings).key == full.key
    n = np.bincount(np.concatenate([m.ravel() for m in masks]), minlength=2)
    assert np.allclose(w.numpy(), n.sum() / (2 * n))
