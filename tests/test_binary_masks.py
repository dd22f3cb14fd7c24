"""Binary 0/v masks, inline remaps and mmseg's reduce_zero_label, first class (issue 30).

Binary vessel / lesion / building masks are the most common newcomer case: ``--binary`` reads
each file's 0 as background and its one other value as foreground; a third value is refused
naming its pixels; ``--remap 255:1`` is the same by hand; ``--reduce-zero-label`` sets the
ignore index 255 as mmsegmentation does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import classweights as cw


def _cli(*args, cache):
    env = dict(os.environ, CLASSWEIGHTS_CACHE=str(cache))
    return subprocess.run(
        [sys.executable, "-m", "classweights.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture
def vessels(tmp_path):
    """DRIVE-like: grey 0/255 vessel masks (PNG) of different foreground shares."""
    folder = tmp_path / "1st_manual"
    folder.mkdir()
    rng = np.random.default_rng(0)
    masks = []
    for i in range(4):
        m = np.where(rng.random((24, 32)) < 0.1 + 0.05 * i, 255, 0).astype(np.uint8)
        Image.fromarray(m).save(folder / f"{21 + i}_manual1.png")
        masks.append(m)
    return folder, masks


def test_binary_counts_background_and_foreground(vessels, tmp_path):
    folder, masks = vessels
    fg = sum(int((m == 255).sum()) for m in masks)
    total = sum(m.size for m in masks)
    s = cw.scan(folder, binary=True)
    assert s.num_classes == 2 and s.names == ["background", "foreground"]
    assert s.pixels.tolist() == [total - fg, fg]
    same = cw.scan(folder, remap="255:1", num_classes=2)  # by hand: the same numbers
    assert same.pixels.tolist() == [total - fg, fg]
    r = _cli("stats", folder, "--binary", "--format", "json", cache=tmp_path / "c")
    assert r.returncode == 0, r.stderr
    assert [c["pixels"] for c in json.loads(r.stdout)["classes"]] == [total - fg, fg]


def test_binary_leads_through_to_the_loss(vessels, tmp_path):
    folder, masks = vessels
    fg = sum(int((m == 255).sum()) for m in masks)
    bg = sum(m.size for m in masks) - fg
    r = _cli(
        "compute", folder, "--binary", "--method", "pos_weight", "--format", "json",
        cache=tmp_path / "c",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    w = [c["weight"] for c in json.loads(r.stdout)["classes"]]
    assert w == pytest.approx([fg / bg, bg / fg])  # negatives over positives, one-vs-rest
    ce = _cli("compute", folder, "--binary", "--export", "pytorch", cache=tmp_path / "c")
    assert ce.returncode == 0, ce.stderr
    assert "nn.CrossEntropyLoss(" in ce.stdout and "# foreground" in ce.stdout


def test_a_third_value_is_refused_naming_its_pixels(vessels, tmp_path):
    folder, _ = vessels
    edge = np.zeros((24, 32), np.uint8)
    edge[0, :5] = 128  # an anti-aliased edge
    edge[1, :7] = 255
    Image.fromarray(edge).save(folder / "99_manual1.png")
    r = _cli("stats", folder, "--binary", cache=tmp_path / "c")
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "99_manual1.png: not a binary mask" in line
    assert "128 (5 px)" in line and "255 (7 px)" in line and "--remap" in line


def test_binary_refuses_settings_it_cannot_mean():
    with pytest.raises(cw.ConfigError, match="binary=True means 2 classes"):
        cw.ScanSettings(binary=True, num_classes=3)
    with pytest.raises(cw.ConfigError, match="does not go with multilabel="):
        cw.ScanSettings(binary=True, multilabel=True)


def test_reduce_zero_label_ignores_as_255_like_mmseg(tmp_path):
    m = np.array([[0, 1, 2], [3, 3, 0]], np.uint8)
    Image.fromarray(m).save(tmp_path / "a.png")
    s = cw.scan(tmp_path, reduce_zero_label=True, num_classes=3)
    assert s.ignore_index == 255 and s.ignored_pixels == 2
    assert s.pixels.tolist() == [1, 1, 2]  # k -> k-1
    none = cw.scan(tmp_path, reduce_zero_label=True, num_classes=3, ignore_index=254)
    assert none.ignore_index == 254 and none.ignored_pixels == 2


def test_inline_remaps_are_checked():
    with pytest.raises(cw.ConfigError, match="ambiguous"):
        cw.ScanSettings(remap="1:0,01:2")
