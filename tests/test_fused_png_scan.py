"""The fused PNG path wired into the scan: on by default where it applies, `ClassStats` equal to
the library decoders' for any worker count, errors and skips unchanged, a switch back
(``CLASSWEIGHTS_PNG_DECODER=library``) that is not part of the cache key, and a line at ``-v``
saying which decoder counted the masks."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from naive import naive_counts
from png_writer import encode

import classweights as cw
from classweights.scan import ScanSettings
from classweights.synthetic import street_scene

KW = {"num_classes": 19, "ignore_index": 255}


@pytest.fixture
def numba(monkeypatch):
    """The fused path runs with the Numba back end, which small scans skip unless forced."""
    monkeypatch.setenv("CLASSWEIGHTS_JIT", "1")
    monkeypatch.delenv("CLASSWEIGHTS_PNG_DECODER", raising=False)


@pytest.fixture
def folder(tmp_path):
    """Masks in every label format the fused path reads, plus files it leaves to the library
    decoders (interlace flag forged, a TIFF), all holding labels 0..18 and 255."""
    from PIL import Image

    rng = np.random.default_rng(7)
    masks = {}
    for i in range(14):
        m = street_scene(int(rng.integers(20, 70)), int(rng.integers(20, 130)), rng)
        masks[f"m{i:02d}"] = m
    d = tmp_path / "masks"
    d.mkdir()
    filters = [0, 1, 2, 3, 4]
    for i, (name, m) in enumerate(masks.items()):
        f = [filters[(r + i) % 5] for r in range(m.shape[0])]
        if i % 7 == 0:
            Image.fromarray(m).save(d / f"{name}.png")  # Pillow, adaptive filters
        elif i % 7 == 1:
            Image.fromarray(m).convert("P").save(d / f"{name}.png")
        elif i % 7 == 2:
            (d / f"{name}.png").write_bytes(encode(m.astype(np.uint16), 16, 0, f))
        elif i % 7 == 3:
            alpha = np.dstack([m, rng.integers(0, 256, m.shape, dtype=np.uint8)])
            (d / f"{name}.png").write_bytes(encode(alpha, 8, 4, f, split=[5, 5, 9]))
        elif i % 7 == 4:
            (d / f"{name}.png").write_bytes(encode(m, 8, 3, f, plte=bytes(768)))
        elif i % 7 == 5:
            Image.fromarray(m).save(d / f"{name}.tif")
        else:
            (d / f"{name}.png").write_bytes(encode(m, 8, 0, f, level=1))
    return d, [masks[k] for k in sorted(masks)]


@pytest.mark.usefixtures("numba")
@pytest.mark.parametrize("workers", [1, 2])
def test_a_scan_counts_exactly_what_the_library_decoders_count(folder, workers, monkeypatch, caplog):
    d, masks = folder
    with caplog.at_level(logging.INFO, logger="classweights"):
        fused = cw.scan(d, workers=workers, **KW)
    assert "PNG decoder: fused" in caplog.text and "for 12 of 14 masks" in caplog.text
    monkeypatch.setenv("CLASSWEIGHTS_PNG_DECODER", "library")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="classweights"):
        library = cw.scan(d, workers=workers, **KW)
    assert "PNG decoder: libpng / Pillow (png_decoder='library'" in caplog.text
    assert fused == library
    rows, ignored, _, totals = naive_counts(masks, 19, 255)
    np.testing.assert_array_equal(fused.counts, rows)
    np.testing.assert_array_equal(fused.image_ignored, ignored)
    np.testing.assert_array_equal(fused.image_total, totals)


@pytest.mark.usefixtures("numba")
@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_damaged_files_fail_or_are_skipped_as_before(folder, on_error, monkeypatch):
    d, masks = folder
    rows = b"".join(b"\x00" + r.tobytes() for r in masks[0])
    import zlib

    z = zlib.compress(rows)
    (d / "bad_adler.png").write_bytes(encode(masks[0], 8, 0, stream=z[:-1] + b"\x00"))
    (d / "bad_filter.png").write_bytes(encode(masks[0], 8, 0, raw=b"\x07" + rows[1:]))
    (d / "long.png").write_bytes(encode(masks[0], 8, 0, stream=zlib.compress(rows + rows)))

    def outcome():
        try:
            s = cw.scan(d, on_error=on_error, workers=2, **KW)
        except cw.ClassWeightsError as e:
            return str(e)
        return s

    fused = outcome()
    monkeypatch.setenv("CLASSWEIGHTS_PNG_DECODER", "library")
    library = outcome()
    assert fused == library
    if on_error == "skip":
        assert [p.rsplit("/", 1)[-1] for p, _ in fused.skipped] == ["bad_adler.png", "bad_filter.png"]
        assert fused.num_images == 15  # long.png: the declared rows, as the library reads them
    else:
        assert "bad_adler.png: the PNG is damaged" in fused


def test_the_switch_is_checked_up_front_and_is_not_part_of_the_cache_key(monkeypatch):
    auto = ScanSettings(**KW)
    assert auto.read_options.png_decoder == "auto"
    monkeypatch.setenv("CLASSWEIGHTS_PNG_DECODER", "library")
    forced = ScanSettings(**KW)
    assert forced.read_options.png_decoder == "library"
    assert forced.key() == auto.key()
    monkeypatch.setenv("CLASSWEIGHTS_PNG_DECODER", "fastest")
    with pytest.raises(cw.ConfigError, match="CLASSWEIGHTS_PNG_DECODER=fastest is not one of"):
        ScanSettings(**KW)


@pytest.mark.usefixtures("numba")
def test_scans_that_need_the_decoded_image_decode_it(folder, caplog):
    d, _ = folder
    with caplog.at_level(logging.INFO, logger="classweights"):
        with_objects = cw.scan(d, objects=True, workers=1, **KW)
    assert "PNG decoder: libpng / Pillow (the scan needs the decoded masks" in caplog.text
    assert with_objects.num_images == 14


def test_small_jobs_without_numba_use_the_library_decoders(folder, monkeypatch, caplog):
    monkeypatch.setenv("CLASSWEIGHTS_JIT", "0")
    monkeypatch.delenv("CLASSWEIGHTS_PNG_DECODER", raising=False)
    d, _ = folder
    with caplog.at_level(logging.INFO, logger="classweights"):
        cw.scan(d, workers=1, **KW)
    assert "counted with NumPy, not Numba" in caplog.text


@pytest.mark.usefixtures("numba")
def test_a_dask_scan_uses_the_fused_path_too(folder, inproc_client, monkeypatch, caplog):
    pytest.importorskip("distributed")
    d, _ = folder
    with caplog.at_level(logging.INFO, logger="classweights"):
        on_dask = cw.scan(d, client=inproc_client, **KW)
    assert "for 12 of 14 masks" in caplog.text
    monkeypatch.setenv("CLASSWEIGHTS_PNG_DECODER", "library")
    assert on_dask == cw.scan(d, workers=1, **KW)
