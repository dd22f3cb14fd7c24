"""A preset on data that only looks like its dataset (a VOC-format set of custom classes, an
ADE20K subset relabelled to 5 values) warns plainly, withholds its class names and says what to
pass; a genuine small subset is not a look-alike (issue 30). Counts against tests/naive.py."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import save_png
from naive import naive_counts

import classweights as cw
from classweights.errors import LayoutWarning
from classweights.labels import voc_colors

VOC_PALETTE = [v for c in voc_colors(256) for v in c]


def _bridge_set(tmp_path, rng, n=6, shape=(64, 80)):
    """A VOC-format bridge-inspection set: VOC folder names, custom classes 0..3 with VOC's
    palette and 255 borders, its own file names and image size."""
    root = tmp_path / "VOCdevkit" / "VOC2012"
    (root / "SegmentationClass").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    masks = []
    for i in range(n):
        m = rng.choice([0, 0, 1, 2, 3, 255], size=shape).astype(np.uint8)
        save_png(root / "SegmentationClass" / f"bridge_{i:04d}.png", m, mode="P",
                 palette=VOC_PALETTE)  # fmt: skip
        masks.append(m)
    ids = "\n".join(f"bridge_{i:04d}" for i in range(n))
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text(ids + "\n")
    return tmp_path / "VOCdevkit", masks


def test_voc_format_set_of_custom_classes_gets_no_voc_names(tmp_path):
    root, masks = _bridge_set(tmp_path, np.random.default_rng(0))
    for split in (None, "train"):
        with pytest.warns(LayoutWarning) as rec:
            s = cw.scan(root, layout="voc", split=split)
        msg = str(rec[0].message)
        assert "do not look like Pascal VOC" in msg and "bridge_0000.png" in msg
        assert "--classes FILE" in msg and "--num-classes K (e.g. 4:" in msg
        assert s.class_names is None and s.num_classes == 4  # from the data, not VOC's 21
        rows, ignored, _, _ = naive_counts(masks, 4, ignore_index=255)
        np.testing.assert_array_equal(s.counts, rows)
        np.testing.assert_array_equal(s.image_ignored, ignored)


def _ade(tmp_path, masks, names="ADE_train_{:08d}.png"):
    d = tmp_path / "ADEChallengeData2016" / "annotations" / "training"
    d.mkdir(parents=True)
    for i, m in enumerate(masks):
        save_png(d / names.format(i), m)
    return tmp_path / "ADEChallengeData2016"


def test_ade20k_relabelled_to_five_values_warns_even_with_ade_file_names(tmp_path):
    rng = np.random.default_rng(1)
    masks = [rng.choice(5, size=(20, 24), p=[0.46, 0.2, 0.14, 0.1, 0.1]).astype(np.uint8)
             for _ in range(8)]  # fmt: skip
    root = _ade(tmp_path, masks)
    with pytest.warns(LayoutWarning) as rec:
        s = cw.scan(root, layout="ade20k", split="train")
    msg = str(rec[0].message)
    assert "do not look like ADE20K" in msg and "classes up to 3 of its 150" in msg
    assert "ignores label 0" in msg and "--num-classes K (e.g. 5: the largest label in the masks checked is 4)" in msg
    assert s.class_names is None
    rows, _, _, _ = naive_counts(masks, 4, ignore_index=255, reduce_zero_label=True)
    np.testing.assert_array_equal(s.counts, rows)  # still exact for the settings it names
    plain = cw.scan(root / "annotations" / "training", num_classes=5)  # what it suggests
    np.testing.assert_array_equal(plain.counts, naive_counts(masks, 5)[0])


def test_a_genuine_small_ade20k_subset_is_not_a_lookalike(tmp_path):
    rng = np.random.default_rng(2)
    # real ADE20K images: ~8 classes each, frequent ones have small ids, some rare ones large
    classes = np.arange(1, 151)
    p = 1.0 / classes
    masks = []
    for _ in range(12):
        present = rng.choice(classes, size=8, replace=False, p=p / p.sum())
        masks.append(rng.choice(np.append(present, 0), size=(16, 16)).astype(np.uint8))
    root = _ade(tmp_path, masks)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)
        s = cw.scan(root, layout="ade20k", split="train")
        assert s.class_names[0] == "wall" and s.num_classes == 150
        few = [np.array([[0, 1, 3, 4]], np.uint8), np.array([[1, 6, 6, 2]], np.uint8)]
        small = _ade(tmp_path / "two", few)  # two images of walls and floors: still ADE20K
        assert cw.scan(small, layout="ade20k", split="train").class_names[3] == "floor"


def test_values_outside_the_preset_are_a_lookalike_and_explicit_classes_skip_it(tmp_path):
    rng = np.random.default_rng(3)
    (tmp_path / "CamVid" / "trainannot").mkdir(parents=True)
    masks = [rng.integers(0, 31, size=(6, 8)).astype(np.uint8) for _ in range(3)]
    for i, m in enumerate(masks):
        save_png(tmp_path / "CamVid" / "trainannot" / f"0001TP_{i:06d}.png", m)
    with pytest.warns(
        LayoutWarning, match=r"do not look like CamVid .*values 1[2-9].*outside.*ignore index 11"
    ):
        s = cw.scan(tmp_path / "CamVid", layout="camvid", split="train")
    assert s.class_names is None and s.ignore_index is None
    np.testing.assert_array_equal(s.counts, naive_counts(masks, 31)[0])
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"c{i}" for i in range(31)) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)
        s = cw.scan(tmp_path / "CamVid", layout="camvid", split="train", classes=names,
                    ignore_index=255)  # fmt: skip
    assert s.class_names[30] == "c30"
    np.testing.assert_array_equal(s.counts, naive_counts(masks, 31)[0])


def test_cityscapes_names_and_shapes_unlike(tmp_path):
    rng = np.random.default_rng(4)
    d = tmp_path / "mine" / "gtFine" / "train" / "site"
    d.mkdir(parents=True)
    for i in range(3):
        save_png(
            d / f"frame{i}_labelIds.png", rng.choice([0, 7, 8, 26], size=(30, 40)).astype(np.uint8)
        )
    with pytest.warns(
        LayoutWarning, match=r"file names like 'frame0_labelIds.png'.*30 x 40 pixels"
    ):
        s = cw.scan(tmp_path / "mine", layout="cityscapes", split="train")
    assert s.class_names is None and s.num_classes == 19  # the classes its remap maps to


def test_cli_says_it_once_and_json_has_no_preset_names(tmp_path):
    root, masks = _bridge_set(tmp_path, np.random.default_rng(5))
    r = subprocess.run(
        [sys.executable, "-m", "classweights.cli", "stats", str(root), "--layout", "voc",
         "--no-cache", "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "do not look like Pascal VOC" in ln]
    assert len(lines) == 1 and lines[0].startswith("warning: --layout voc")
    data = json.loads(r.stdout)
    assert [c["name"] for c in data["classes"]] == ["0", "1", "2", "3"]
