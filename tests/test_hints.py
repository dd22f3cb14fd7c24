"""Hints computed from the data: each names the fix the values point to, and only that one."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import save_png
from test_layouts import _cityscapes_tree

import classweights as cw


def _error(tmp_path, masks, **kw):
    for i, m in enumerate(masks):
        save_png(tmp_path / f"{i}.png", np.asarray(m, np.uint8))
    with pytest.raises(cw.UnknownLabelError) as e:
        cw.scan(tmp_path, **kw)
    return str(e.value)


def test_255_without_ignore_index_suggests_ignore_index(tmp_path):
    msg = _error(tmp_path, [[[0, 20, 255]]], num_classes=21)
    assert msg.endswith("pass --ignore-index 255 (255 is the usual void label)")
    assert "--remap" not in msg and "--reduce-zero-label" not in msg


def test_labels_1_to_k_with_zero_suggest_reduce_zero_label(tmp_path):
    msg = _error(tmp_path, [[[0, 1, 75, 150]]], num_classes=150, ignore_index=255)
    assert "pass --reduce-zero-label" in msg and "--remap" not in msg
    (tmp_path / "b").mkdir()
    msg = _error(tmp_path / "b", [[[0, 1, 150, 255]]], num_classes=150)
    assert "--reduce-zero-label --ignore-index 255" in msg


def test_cityscapes_label_ids_suggest_remap_cityscapes_only_then(tmp_path):
    msg = _error(tmp_path, [[[7, 8, 26, 33, 0]]], num_classes=19, ignore_index=255)
    assert "--remap cityscapes" in msg and "--reduce-zero-label" not in msg
    (tmp_path / "b").mkdir()
    msg = _error(tmp_path / "b", [[[0, 1, 9]]], num_classes=5, ignore_index=255)
    assert "--remap cityscapes" not in msg and "--num-classes 10 (the largest label is 9)" in msg


def test_mixed_cityscapes_folder_suggests_label_files_never_colour(tmp_path):
    root, _ = _cityscapes_tree(tmp_path, np.random.default_rng(0))
    with pytest.raises(cw.DatasetError) as e:
        cw.scan(root / "gtFine" / "train")
    msg = str(e.value)
    assert "--glob '**/*_labelIds.png'" in msg and "--layout cityscapes" in msg
    assert "--glob '**/*_color.png'" not in msg
    (tmp_path / "t").mkdir()
    root, _ = _cityscapes_tree(tmp_path / "t", np.random.default_rng(0), train_ids=True)
    with pytest.raises(cw.DatasetError) as e:
        cw.scan(root / "gtFine" / "train")
    assert "--glob '**/*_labelTrainIds.png' or --glob '**/*_labelIds.png'" in str(e.value)


def test_glob_without_double_star_that_matches_only_deeper(tmp_path):
    root, _ = _cityscapes_tree(tmp_path, np.random.default_rng(1))
    with pytest.raises(cw.DatasetError) as e:
        cw.scan(root / "gtFine" / "train", glob="*_labelIds.png", num_classes=34)
    msg = str(e.value)
    assert "matched nothing directly under" in msg and "4 file(s) deeper" in msg
    assert msg.endswith("pass --glob '**/*_labelIds.png'")
    with pytest.raises(cw.DatasetError, match="matched no mask files"):  # nowhere: plain error
        cw.scan(root / "gtFine" / "train", glob="*_nothing.png", num_classes=34)


def test_multilabel_per_class_pngs_without_classes(tmp_path):
    for img in range(2):
        for part in ("skin", "hair", "nose"):
            save_png(tmp_path / f"{img:05d}_{part}.png", np.full((4, 4), 255, np.uint8))
    with pytest.raises(cw.DatasetError, match=r"but --classes is missing.*--classes FILE\|PRESET"):
        cw.scan(tmp_path, multilabel=True)
    with pytest.raises(cw.DatasetError, match="--layout celebamask-hq"):
        cw.scan(tmp_path)  # without --multilabel: the existing refusal names the layout


def test_instance_ids_are_named_as_such(tmp_path):
    m = np.array([[0, 26001, 26002, 24000]], np.uint16)
    save_png(tmp_path / "x_instanceIds.png", m)
    with pytest.raises(cw.UnknownLabelError) as e:
        cw.scan(tmp_path, num_classes=19, ignore_index=255)
    assert "look like instance ids" in str(e.value) and "--num-classes" not in str(e.value)


def test_a_negative_label_suggests_it_as_ignore_index_not_a_class_count(tmp_path):
    """-1 is the usual void of label arrays; "--num-classes 0" (its max + 1) was suggested."""
    np.save(tmp_path / "a.npy", np.array([[0, 1, 2, -1]], np.int16))
    with pytest.raises(cw.UnknownLabelError) as e:
        cw.scan(tmp_path, num_classes=3)
    msg = str(e.value)
    assert "pass --ignore-index -1 (a negative label is usually void)" in msg
    assert "--num-classes" not in msg
    np.save(tmp_path / "a.npy", np.array([[0, 1, 5, -1]], np.int16))
    with pytest.raises(cw.UnknownLabelError) as e:
        cw.scan(tmp_path, num_classes=3)
    assert "--ignore-index -1 (a negative label is usually void) and --num-classes 6" in str(e.value)
    s = cw.scan(tmp_path, num_classes=6, ignore_index=-1)  # the fix works as printed
    assert s.pixels.tolist() == [1, 1, 0, 0, 0, 1]
