"""Masks decoded into one reused buffer per thread (`classweights.sources.Scratch`).

Reuse must never show in the numbers: every kind of PNG, mixed sizes and bit depths in one
scan, on one thread, on a pool and on Dask, counts exactly what NumPy counts on the arrays
that were written.
"""

from __future__ import annotations

import io
from itertools import pairwise

import numpy as np
import pytest
from conftest import save_png
from PIL import Image

import classweights as cw
from classweights.sources import ReadOptions, Scratch, read_entry, read_image
from classweights.sources import readers as readers_mod
from classweights.sources import scratch as scratch_mod
from classweights.sources.entries import Entry


def _masks(rng):
    """(name, array, how to save) for PNG kinds the imagecodecs path decodes, mixed sizes."""
    grey = [rng.integers(0, 6, (h, w), dtype=np.uint8) for h, w in [(40, 64), (17, 33), (64, 90)]]
    deep = rng.integers(0, 3000, (31, 47), dtype=np.uint16)
    return [
        ("a_grey.png", grey[0], None),
        ("b_deep.png", deep, None),  # 16-bit grey: a different dtype in the same buffer
        ("c_small.png", grey[1], None),
        ("d_trns.png", grey[2], "trns"),  # grey with tRNS decodes to two channels
        ("e_grey.png", grey[0][::-1].copy(), None),
    ]


def _write(folder, rng):
    expected = {}
    for name, arr, how in _masks(rng):
        path = folder / name
        if how == "trns":
            Image.fromarray(arr).save(path, transparency=3)
        else:
            save_png(path, arr)
        expected[name] = arr
    return expected


def _check_per_image(stats, expected):
    """Every image's row of the scan against a loop over the array that was written."""
    assert len(stats.sources) == len(expected)
    for source, row, total in zip(stats.sources, stats.counts, stats.image_total, strict=True):
        arr = expected[source.rsplit("/", 1)[-1]]
        naive = [int((arr == c).sum()) for c in range(stats.num_classes)]
        assert row.tolist() == naive, source
        assert int(total) == arr.size


@pytest.fixture
def folder(tmp_path):
    return tmp_path, _write(tmp_path, np.random.default_rng(7))


def test_each_mask_reads_exactly_and_the_buffer_is_reused(folder):
    root, expected = folder
    scratch = Scratch()
    opts = ReadOptions()
    seen = []
    for name, arr in expected.items():
        ((_, mask),) = read_entry(Entry("image", str(root / name)), [0], opts, scratch)
        np.testing.assert_array_equal(mask, arr)  # compared before the next read
        seen.append(mask)
    # c_small reuses the buffer grown for b_deep; e_grey is in the buffer as it is now; the
    # grey+tRNS mask, which libpng widens to two channels, got an array of its own
    assert np.shares_memory(seen[1], seen[2])
    now = scratch.array((1,), np.uint8)
    assert np.shares_memory(seen[4], now)
    assert not np.shares_memory(seen[3], now)
    # without a scratch every mask is its own array, and equal to what was written
    fresh = [read_image(str(root / n), opts) for n in expected]
    assert not any(np.shares_memory(a, b) for a, b in pairwise(fresh))
    for a, (name, arr) in zip(fresh, expected.items(), strict=True):
        np.testing.assert_array_equal(a, arr, err_msg=name)


def test_a_mask_above_the_limit_gets_a_fresh_array(folder, monkeypatch):
    root, expected = folder
    monkeypatch.setattr(scratch_mod, "SCRATCH_LIMIT", 40 * 64 - 1)  # a_grey.png is 40 x 64
    scratch = Scratch()
    small = read_image(str(root / "c_small.png"), ReadOptions(), scratch)
    big = read_image(str(root / "a_grey.png"), ReadOptions(), scratch)
    assert not np.shares_memory(small, big)
    np.testing.assert_array_equal(big, expected["a_grey.png"])


def test_a_decoder_refusing_the_buffer_falls_back_to_a_fresh_array(folder, monkeypatch):
    """grey + tRNS: the header says one channel, libpng gives two; the read is still exact."""
    root, expected = folder
    calls = []
    real = readers_mod._imagecodecs_png

    def spy(data, out=None):
        calls.append(out is not None)
        return real(data, out)

    monkeypatch.setattr(readers_mod, "_imagecodecs_png", spy)
    got = read_image(str(root / "d_trns.png"), ReadOptions(), Scratch())
    assert calls == [True]
    np.testing.assert_array_equal(got, expected["d_trns.png"])


@pytest.mark.parametrize("workers", [1, 2])
def test_scans_with_reused_buffers_count_exactly(folder, workers):
    root, expected = folder
    _check_per_image(cw.scan(root, num_classes=3000, workers=workers), expected)


def test_the_dask_scan_with_reused_buffers_counts_exactly(folder, inproc_client):
    pytest.importorskip("distributed")
    root, expected = folder
    _check_per_image(cw.scan(root, num_classes=3000, client=inproc_client), expected)


def test_a_damaged_png_is_still_named_with_a_scratch(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(buf, format="PNG")
    bad = tmp_path / "bad.png"
    bad.write_bytes(buf.getvalue()[:-20])
    with pytest.raises(cw.MaskReadError, match=r"bad\.png"):
        read_image(str(bad), ReadOptions(), Scratch())
