"""Binary masks stored as 0 and v (0/255 vessels, lesions, buildings): the hints name --binary,
never --ignore-index 255, which would drop the foreground and give it weight 0 (issue 30)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import save_png

import classweights as cw
from classweights.hints import binary_fix
from classweights.scan import BinaryMaskWarning, VoidLabelWarning


def _vessels(folder, rng, n=3, v=255):
    folder.mkdir(parents=True, exist_ok=True)
    masks = []
    for i in range(n):
        m = (rng.random((10, 12)) < 0.15).astype(np.uint8) * v
        save_png(folder / f"{i:02d}_manual1.png", m)
        masks.append(m)
    return masks


def test_binary_fix_detects_zero_and_one_other_value():
    assert "--binary (255 -> class 1" in binary_fix([255, 0])
    assert "--binary (128 -> class 1" in binary_fix(np.array([0, 128]))
    assert binary_fix([0, 1]) is None and binary_fix([0, 5, 255]) is None
    assert binary_fix([255]) is None and binary_fix([0]) is None


def test_0_255_masks_with_two_classes_hint_binary_not_ignore_index(tmp_path):
    _vessels(tmp_path, np.random.default_rng(0))
    with pytest.raises(cw.UnknownLabelError) as e:
        cw.scan(tmp_path, num_classes=2)
    msg = str(e.value)
    assert "binary masks (255 = foreground, not void); pass --binary" in msg
    assert "--ignore-index 255" not in msg
    # 255 beside other classes is still the usual void
    save_png(tmp_path / "0.png", np.array([[0, 1, 255]], np.uint8))  # read first
    with pytest.raises(cw.UnknownLabelError, match="pass --ignore-index 255"):
        cw.scan(tmp_path, num_classes=2)


def test_inferred_classes_of_0_255_masks_warn_binary_not_void(tmp_path):
    masks = _vessels(tmp_path, np.random.default_rng(1))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        s = cw.scan(tmp_path)
    mine = [w for w in rec if issubclass(w.category, (BinaryMaskWarning, VoidLabelWarning))]
    assert len(mine) == 1 and mine[0].category is BinaryMaskWarning
    msg = str(mine[0].message)
    assert "inferred as 256 (254 of them empty)" in msg and "pass --binary" in msg
    assert "not --ignore-index 255" in msg
    assert s.pixels[255] == sum(int((m == 255).sum()) for m in masks)  # counted as it is


def test_other_binary_values_and_an_ignored_foreground_are_named(tmp_path):
    _vessels(tmp_path / "a", np.random.default_rng(2), v=128)
    with pytest.warns(BinaryMaskWarning, match=r"inferred as 129 .*only 0 and 128.*--binary"):
        cw.scan(tmp_path / "a")
    _vessels(tmp_path / "b", np.random.default_rng(3))
    with pytest.warns(BinaryMaskWarning, match=r"only 0 and the ignore index 255.*--binary"):
        s = cw.scan(tmp_path / "b", ignore_index=255)  # the old hint, followed
    assert s.num_classes == 1 and s.ignored_pixels > 0
    _vessels(tmp_path / "c", np.random.default_rng(4), v=1)
    with warnings.catch_warnings():  # 0/1 masks are binary already: no hint
        warnings.simplefilter("error", BinaryMaskWarning)
        cw.scan(tmp_path / "c")
