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
def test_a_scan_counts_exactly_what_the_library_decoders_count(
    folder, workers, monkeypatch, caplog
):
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
        assert [p.rsplit("/", 1)[-1] for p, _ in fused.skipped] == [
            "bad_adler.png",
            "bad_filter.png",
        ]
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


def _unit_outcomes(unit, opts):
    from classweights.counting import count_unit
    from classweights.sources import Scratch

    out = []
    for it in count_unit(unit, opts, Scratch()):
        if hasattr(it, "values"):
            out.append((it.source, it.values.tolist(), it.counts.tolist(), it.total, it.decoder))
        else:
            out.append((it.source, it.message))
    return out


@pytest.mark.parametrize("together", [True, False], ids=["one kernel call", "mask by mask"])
def test_a_unit_of_mixed_and_damaged_files_counts_as_the_library_path(
    tmp_path, together, monkeypatch
):
    """Grey and palette PNGs of 1-8 bits go through one kernel call per unit (libdeflate called
    from the kernel), or mask by mask where that libdeflate is not found; damaged ones fall back
    to the library decoders in their place: the results, in order, are the library path's."""
    import zlib

    from classweights.counting import CountOptions
    from classweights.sources import Entry, ReadOptions

    if not together:
        import classweights.sources.png as png_module

        monkeypatch.setattr(png_module, "_ZLIB", [None])
    rng = np.random.default_rng(11)
    files = []

    def add(name, payload):
        (tmp_path / name).write_bytes(payload)
        files.append(str(tmp_path / name))

    for i, (ctype, depth) in enumerate([(0, 8), (3, 4), (0, 1), (3, 8), (0, 2), (0, 16), (4, 8)]):
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 90))
        shape = (h, w, 2) if ctype == 4 else (h, w)
        a = rng.integers(0, 1 << min(depth, 4), shape)
        a[: h // 2] = a[0]
        a = a.astype(np.uint16 if depth == 16 else np.uint8)
        add(f"{i}.png", encode(a, depth, ctype, rng.integers(0, 5, h).tolist()))
    m = street_scene(30, 50, rng)
    rows = b"".join(b"\x00" + r.tobytes() for r in m)
    z = zlib.compress(rows)
    add("bad_adler.png", encode(m, 8, 0, stream=z[:-1] + bytes([z[-1] ^ 1])))
    add("bad_filter.png", encode(m, 8, 3, raw=rows[:51] + b"\x09" + rows[52:]))
    add("longer.png", encode(m, 8, 0, stream=zlib.compress(rows + rows[:51])))
    add("short.png", encode(m, 8, 0, stream=zlib.compress(rows[:-51])))
    add("no_adler.png", encode(m, 8, 3, stream=z[:-4]))
    add("empty.png", b"")
    add("after.png", encode(m, 8, 0, 4))
    unit = [(Entry("image", f), [0]) for f in files]
    opts = CountOptions(ReadOptions(), 19, 256)
    fused = _unit_outcomes(unit, opts)
    library = _unit_outcomes(unit, CountOptions(ReadOptions(png_decoder="library"), 19, 256))
    assert [f[:-1] if len(f) == 5 else f for f in fused] == [
        f[:-1] if len(f) == 5 else f for f in library
    ]
    decoders = [f[-1] if len(f) == 5 else "error" for f in fused]
    names = [f.rsplit("/", 1)[-1] for f in files]
    expected = {f"{i}.png": "fused" for i in range(7)} | {"after.png": "fused"}
    expected |= dict.fromkeys(
        ["bad_adler.png", "bad_filter.png", "short.png", "empty.png"], "error"
    )
    expected |= dict.fromkeys(["longer.png", "no_adler.png"])  # read by the library decoders
    assert dict(zip(names, decoders, strict=True)) == expected
