"""Valid-region masks (issue 30): DRIVE's field-of-view masks, no-data regions of aerial tiles.

Each mask is paired with a second mask by a template; the pixels where it is 0 are counted as
ignored (and said so); a missing pair names the first mask without one; the valid masks are in
the cache key, so changing one is a new key; samples and Dask units carry them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

import classweights as cw


def _drive(tmp_path, n=4):
    """A DRIVE-like tree: training/1st_manual/NN_manual1.gif (0/255 vessels) beside
    training/mask/NN_training_mask.gif (the field of view: a disc)."""
    root = tmp_path / "training"
    (root / "1st_manual").mkdir(parents=True)
    (root / "mask").mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:30, :40]
    fov = ((yy - 15) ** 2 + (xx - 20) ** 2 < 14**2).astype(np.uint8) * 255
    vessels, fovs = [], []
    for i in range(n):
        v = np.where(rng.random((30, 40)) < 0.15, 255, 0).astype(np.uint8)
        f = np.roll(fov, i, axis=1)
        Image.fromarray(v).save(root / "1st_manual" / f"{21 + i}_manual1.gif")
        Image.fromarray(f).save(root / "mask" / f"{21 + i}_training_mask.gif")
        vessels.append(np.asarray(Image.open(root / "1st_manual" / f"{21 + i}_manual1.gif")))
        fovs.append(f > 0)
    return root, vessels, fovs


TEMPLATE = "../mask/{id}_training_mask.gif"


def _expected(vessels, fovs):
    inside = [v[f] for v, f in zip(vessels, fovs, strict=True)]
    fg = sum(int((x != 0).sum()) for x in inside)
    bg = sum(x.size for x in inside) - fg
    outside = sum(int((~f).sum()) for f in fovs)
    return bg, fg, outside


def test_pixels_outside_the_field_of_view_are_ignored(tmp_path):
    root, vessels, fovs = _drive(tmp_path)
    bg, fg, outside = _expected(vessels, fovs)
    with pytest.warns(UserWarning, match=f"{outside:,} pixels outside the valid regions"):
        s = cw.scan(root / "1st_manual", binary=True, valid_mask=TEMPLATE)
    assert s.pixels.tolist() == [bg, fg]
    assert s.ignored_pixels == outside
    assert s.total_pixels == sum(v.size for v in vessels)


def test_the_cli_counts_inside_and_names_a_missing_pair(tmp_path):
    root, vessels, fovs = _drive(tmp_path)
    bg, fg, outside = _expected(vessels, fovs)
    env = dict(os.environ, CLASSWEIGHTS_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "classweights.cli", "stats", str(root / "1st_manual"),
           "--binary", "--valid-mask", TEMPLATE, "--format", "json"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [c["pixels"] for c in data["classes"]] == [bg, fg]
    assert data["dataset"]["ignored_pixels"] == outside
    assert "outside the valid regions" in r.stderr
    os.remove(root / "mask" / "22_training_mask.gif")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 2
    assert "22_manual1.gif: its valid mask" in r.stderr and "does not exist" in r.stderr


def test_a_changed_valid_mask_is_a_new_cache_key(tmp_path):
    root, vessels, fovs = _drive(tmp_path)
    cache = tmp_path / "cache"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, info = cw.cached_scan(root / "1st_manual", binary=True, valid_mask=TEMPLATE,
                                 cache_dir=cache)  # fmt: skip
        full = np.full((30, 40), 255, np.uint8)  # the whole image valid now
        Image.fromarray(full).save(root / "mask" / "21_training_mask.gif")
        b, again = cw.cached_scan(root / "1st_manual", binary=True, valid_mask=TEMPLATE,
                                  cache_dir=cache)  # fmt: skip
    assert again.key != info.key and not again.hit
    fovs[0] = full > 0
    bg, fg, outside = _expected(vessels, fovs)
    assert b.pixels.tolist() == [bg, fg] and b.ignored_pixels == outside


def test_a_sample_reads_the_pairs_of_the_images_it_takes(tmp_path):
    root, vessels, fovs = _drive(tmp_path, n=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = cw.scan(root / "1st_manual", binary=True, valid_mask=TEMPLATE, indices=[1, 4])
    bg, fg, outside = _expected([vessels[1], vessels[4]], [fovs[1], fovs[4]])
    assert s.pixels.tolist() == [bg, fg] and s.ignored_pixels == outside


def test_templates_and_shapes_are_checked(tmp_path):
    root, _, _ = _drive(tmp_path)
    with pytest.raises(cw.ConfigError, match="names no {stem}, {id} or {name}"):
        cw.ScanSettings(valid_mask="fov.gif")
    with pytest.raises(cw.ConfigError, match="does not go with objects="):
        cw.ScanSettings(valid_mask=TEMPLATE, objects=True)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "mask" / "23_training_mask.gif")
    with pytest.raises(cw.MaskReadError, match="must cover the same pixels"):
        cw.scan(root / "1st_manual", binary=True, valid_mask=TEMPLATE)


def test_on_a_dask_cluster_the_pairs_travel_with_the_units(tmp_path, inproc_client):
    pytest.importorskip("distributed")
    root, vessels, fovs = _drive(tmp_path)
    bg, fg, outside = _expected(vessels, fovs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = cw.scan(root / "1st_manual", binary=True, valid_mask=TEMPLATE, client=inproc_client)
    assert s.pixels.tolist() == [bg, fg] and s.ignored_pixels == outside


def test_a_palette_valid_mask_is_read_by_its_colours(tmp_path):
    """Index 0 of a palette valid mask may be white: black pixels are outside, not index 0."""
    (tmp_path / "m").mkdir()
    (tmp_path / "v").mkdir()
    labels = np.array([[1, 2, 2], [2, 1, 1]], np.uint8)
    Image.fromarray(labels).save(tmp_path / "m" / "a_label.png")
    index = np.array([[0, 0, 1], [0, 1, 0]], np.uint8)  # 0 = white (valid), 1 = black
    im = Image.fromarray(index, mode="P")
    im.putpalette([255, 255, 255, 0, 0, 0])
    im.save(tmp_path / "v" / "a_valid.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = cw.scan(tmp_path / "m", num_classes=3, valid_mask="../v/{id}_valid.png")
    inside = labels[index == 0]
    assert s.pixels.tolist() == np.bincount(inside, minlength=3).tolist()
    assert s.ignored_pixels == int((index == 1).sum())
