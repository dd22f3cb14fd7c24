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


def _never_empty_or_contradicting(msg: str) -> None:
    assert "pass ," not in msg and "pass  " not in msg and " and ," not in msg


def test_255_with_another_ignore_index_names_the_fix(tmp_path):
    """255 found while --ignore-index is 250: the fix read "pass , or --remap ..."."""
    np.save(tmp_path / "a.npy", np.array([[0, 1, 250, 255]], np.uint8))
    with pytest.raises(cw.UnknownLabelError) as e:
        cw.scan(tmp_path, num_classes=3, ignore_index=250)
    msg = str(e.value)
    _never_empty_or_contradicting(msg)
    assert "pass --ignore-index 255 (255 is the usual void label; the ignore index is now 250)" in msg
    s = cw.scan(tmp_path, num_classes=3, ignore_index=255, remap={250: 255})  # as printed
    assert s.pixels.tolist() == [1, 1, 0] and s.ignored_pixels == 2


def test_several_void_values_suggest_one_remap_never_an_empty_pass(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[0, 1, -1, -100]], np.int16))
    with pytest.raises(cw.UnknownLabelError) as e:
        cw.scan(tmp_path, num_classes=3)
    msg = str(e.value)
    _never_empty_or_contradicting(msg)
    assert "pass --remap TABLE sending -100, -1 to one value with --ignore-index set to it" in msg
    s = cw.scan(tmp_path, num_classes=3, ignore_index=-1, remap={-100: -1})  # the fix works
    assert s.pixels.tolist() == [1, 1, 0] and s.ignored_pixels == 2
    np.save(tmp_path / "a.npy", np.array([[0, 1, -1, 255]], np.int16))
    with pytest.raises(cw.UnknownLabelError) as e:
        cw.scan(tmp_path, num_classes=3, ignore_index=254)
    msg = str(e.value)
    _never_empty_or_contradicting(msg)
    assert "pass --remap TABLE sending -1, 255 to the ignore index 254" in msg


@pytest.mark.parametrize(("num_classes", "example"), [(19, 255), (300, 65535), (65536, -1)])
def test_ignore_index_inside_the_classes_suggests_a_value_outside_them(num_classes, example):
    """"ignore_index=255 lies inside 0..299 ... use a value outside it (e.g. 255)"."""
    inside = min(255, num_classes - 1)
    with pytest.raises(cw.ConfigError) as e:
        cw.scan([np.zeros((2, 2), np.uint8)], num_classes=num_classes, ignore_index=inside)
    msg = str(e.value)
    assert f"(e.g. {example})" in msg
    assert not 0 <= example < num_classes  # the suggestion really lies outside the classes
    s = cw.scan([np.zeros((2, 2), np.uint8)], num_classes=num_classes, ignore_index=example)
    assert s.pixels[0] == 4  # and is accepted
    reduced = cw.scan([np.zeros((2, 2), np.uint8)], num_classes=num_classes, reduce_zero_label=True)
    assert reduced.ignore_index == example  # mmseg's 255, or a value outside the classes
