"""Palette masks (PNG mode P, GIF) with a palette per file: read by colour with --palette, a
warning naming --palette without it; shared palettes (VOC, Mapillary) and palettes an optimiser
trimmed stay quiet (issue 30). References: Pillow's own convert("RGB") and NumPy."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import save_png
from PIL import Image

import classweights as cw
from classweights.errors import PaletteWarning
from classweights.labels import voc_colors

# aerial colour masks: impervious, building, low vegetation, tree, car, clutter (ISPRS colours)
COLOURS = [(255, 255, 255), (0, 0, 255), (0, 255, 255), (0, 255, 0), (255, 255, 0), (255, 0, 0)]
TABLE = {f"#{r:02x}{g:02x}{b:02x}": k for k, (r, g, b) in enumerate(COLOURS)}


def _per_file_palettes(folder, rng, n=4, shape=(10, 12), ext="png"):
    """Masks whose palette lists only the colours the file uses, in the order they appear (as
    Pillow's and most editors' optimisers write them): the same colour has other indices in
    other files."""
    folder.mkdir(parents=True, exist_ok=True)
    classes = []
    for i in range(n):
        used = rng.choice(len(COLOURS), size=rng.integers(2, 5), replace=False)
        cls = used[rng.integers(0, len(used), size=shape)]
        order = list(dict.fromkeys(cls.ravel().tolist()))  # first appearance
        idx = np.vectorize(order.index)(cls).astype(np.uint8)
        pal = [v for c in order for v in COLOURS[c]]
        im = Image.frombuffer("P", shape[::-1], idx.tobytes(), "raw", "P", 0, 1)
        im.putpalette(pal)
        im.save(folder / f"tile_{i:03d}.{ext}")
        classes.append(cls)
    return classes


def _reference(folder, ext="png"):
    """Pillow's colours of each file, mapped to classes by NumPy: the independent count."""
    rows = []
    for f in sorted(folder.glob(f"*.{ext}")):
        rgb = np.asarray(Image.open(f).convert("RGB")).reshape(-1, 3)
        cls = [COLOURS.index(tuple(p)) for p in rgb.tolist()]
        rows.append(np.bincount(cls, minlength=len(COLOURS)))
    return np.array(rows)


@pytest.mark.parametrize("ext", ["png", "gif"])
def test_per_file_palettes_are_read_by_colour_with_palette(tmp_path, ext):
    classes = _per_file_palettes(tmp_path / "m", np.random.default_rng(0), ext=ext)
    s = cw.scan(tmp_path / "m", palette=TABLE, num_classes=len(COLOURS))
    np.testing.assert_array_equal(s.counts, _reference(tmp_path / "m", ext))
    expected = np.array([np.bincount(c.ravel(), minlength=len(COLOURS)) for c in classes])
    np.testing.assert_array_equal(s.counts, expected)


@pytest.mark.parametrize("ext", ["png", "gif"])
def test_per_file_palettes_without_palette_warn_naming_it(tmp_path, ext):
    _per_file_palettes(tmp_path / "m", np.random.default_rng(1), ext=ext)
    with pytest.warns(PaletteWarning, match=r"different palettes: index \d+ is #.*--palette"):
        cw.scan(tmp_path / "m")


def _quiet_scan(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", PaletteWarning)
        return cw.scan(path, **kw)


def test_a_shared_palette_index_is_class_stays_quiet(tmp_path):
    """VOC and Mapillary: one palette in every file, index = class; the counts are indices."""
    rng = np.random.default_rng(2)
    pal = [v for c in voc_colors(256) for v in c]
    masks = [rng.choice([0, 1, 5, 15, 255], size=(8, 9)).astype(np.uint8) for _ in range(3)]
    for i, m in enumerate(masks):
        save_png(tmp_path / f"2007_{i:06d}.png", m, mode="P", palette=pal)
    s = _quiet_scan(tmp_path, num_classes=21, ignore_index=255)
    assert s.counts.sum(0).tolist() == np.bincount(
        np.concatenate([m[m != 255] for m in masks]), minlength=21
    ).tolist()
    # read by colour instead, through the VOC colour preset: the same numbers
    v = cw.scan(tmp_path, palette="pascal-voc", num_classes=21, ignore_index=255)
    np.testing.assert_array_equal(v.counts, s.counts)


def test_trimmed_palettes_are_not_a_difference(tmp_path):
    """An optimiser drops unused entries at the end: the used indices keep their colours."""
    rng = np.random.default_rng(3)
    full = [v for c in COLOURS for v in c]
    for i, top in enumerate((2, 4, 6)):
        m = rng.integers(0, top, size=(6, 6)).astype(np.uint8)
        save_png(tmp_path / f"t{i}.png", m, mode="P", palette=full[: 3 * top])
    _quiet_scan(tmp_path, num_classes=6)


def test_a_grey_mask_with_a_colour_table_no_longer_says_drop_palette(tmp_path):
    save_png(tmp_path / "g.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(cw.MaskReadError) as e:
        cw.scan(tmp_path / "g.png", palette=TABLE, num_classes=6)
    msg = str(e.value)
    assert "g.png: is a grey mask" in msg and "drop --palette" not in msg


def test_cli_prints_one_warning_line_naming_palette(tmp_path):
    _per_file_palettes(tmp_path / "m", np.random.default_rng(4))
    r = subprocess.run(
        [sys.executable, "-m", "classweights.cli", "stats", str(tmp_path / "m"), "--no-cache",
         "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "different palettes" in ln]
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "--palette" in lines[0]
