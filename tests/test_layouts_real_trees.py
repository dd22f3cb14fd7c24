"""Layouts on trees as the datasets really come (issue 28 items 3-6 and 26): several years side by
side, half-converted trees, zips extracted one level deeper, no --split. Counts are checked
against the NumPy count of tests/naive.py, never the library."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import save_png
from test_layouts import _check, _masks

import classweights as cw
from classweights.labels import CITYSCAPES_TRAIN_IDS, voc_colors

CITY_REMAP = {i: CITYSCAPES_TRAIN_IDS.get(i, 255) for i in range(34)}


# ---- voc: VOC2012 is the dataset, VOC2007 only when the path points at it ----------------------
def _voc_year(devkit, year, rng, n=3):
    root = devkit / f"VOC{year}"
    (root / "SegmentationClass").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    pal = [v for c in voc_colors(256) for v in c]
    masks = _masks(rng, n, [0, 3, 15, 20, 255] if year == 2012 else [0, 1, 7, 255])
    ids = [f"{year}_{i:06d}" for i in range(n)]
    for i, m in zip(ids, masks, strict=True):
        save_png(root / "SegmentationClass" / f"{i}.png", m, mode="P", palette=pal)
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(ids) + "\n")
    return masks


def test_voc_devkit_with_2007_and_2012_counts_2012(tmp_path):
    rng = np.random.default_rng(0)
    devkit = tmp_path / "VOCdevkit"
    old = _voc_year(devkit, 2007, rng, 2)
    new = _voc_year(devkit, 2012, rng, 3)
    _check(cw.scan(devkit, layout="voc"), new, 21, ignore_index=255)
    _check(cw.scan(devkit, layout="voc", split="train"), new, 21, ignore_index=255)
    _check(cw.scan(devkit / "VOC2007", layout="voc"), old, 21, ignore_index=255)
    _check(cw.scan(devkit / "VOC2007", layout="voc", split="train"), old, 21, ignore_index=255)


def test_voc_devkit_without_2012_names_the_year_to_pass(tmp_path):
    devkit = tmp_path / "VOCdevkit"
    _voc_year(devkit, 2007, np.random.default_rng(1), 2)
    with pytest.raises(cw.DatasetError, match=r"VOC2007 but no VOC2012: --layout voc means VOC"):
        cw.scan(devkit, layout="voc")


# ---- cityscapes: mixed conversion refused; gtFine is the dataset -------------------------------
def _city(gt, split, city, rng, frames=2, train_ids=0, shape=(8, 16)):
    folder = gt / split / city
    folder.mkdir(parents=True)
    masks = []
    for k in range(frames):
        stem = f"{city}_000000_{k:06d}_{gt.name}"
        m = rng.choice([0, 7, 8, 11, 21, 26], size=shape).astype(np.uint8)
        save_png(folder / f"{stem}_labelIds.png", m)
        save_png(folder / f"{stem}_color.png", np.dstack([m, m, m]))
        if k < train_ids:
            t = np.vectorize(CITY_REMAP.get)(m).astype(np.uint8)
            save_png(folder / f"{stem}_labelTrainIds.png", t)
        masks.append(m)
    return masks


def test_cityscapes_half_converted_is_refused_naming_the_counts(tmp_path):
    rng = np.random.default_rng(2)
    gt = tmp_path / "cityscapes" / "gtFine"
    masks = _city(gt, "train", "aachen", rng, 4, train_ids=2)
    masks += _city(gt, "train", "bochum", rng, 4)
    with pytest.raises(cw.DatasetError, match=r"half converted: 2 of 8 frames .*--glob '\*\*/\*_"):
        cw.scan(tmp_path / "cityscapes", layout="cityscapes", split="train")
    # the glob the message names is exact for every frame (labelIds, remapped to trainIds)
    s = cw.scan(tmp_path / "cityscapes", layout="cityscapes", split="train",
                glob="**/*_labelIds.png")  # fmt: skip
    _check(s, masks, 19, ignore_index=255, remap=CITY_REMAP)


def test_cityscapes_fully_converted_counts_train_ids_not_remapped(tmp_path):
    rng = np.random.default_rng(3)
    gt = tmp_path / "cityscapes" / "gtFine"
    masks = _city(gt, "val", "lindau", rng, 3, train_ids=3)
    s = cw.scan(tmp_path / "cityscapes", layout="cityscapes", split="val")
    assert all(src.endswith("_labelTrainIds.png") for src in s.sources) and len(s.sources) == 3
    _check(s, masks, 19, ignore_index=255, remap=CITY_REMAP)


def test_cityscapes_gtfine_one_level_deeper_beats_gtcoarse(tmp_path):
    """As the zips extract: gtFine_trainvaltest/gtFine/... beside gtCoarse/... ."""
    rng = np.random.default_rng(4)
    root = tmp_path / "cityscapes"
    fine = root / "gtFine_trainvaltest" / "gtFine"
    train = _city(fine, "train", "aachen", rng, 2)
    val = _city(fine, "val", "lindau", rng, 1)
    coarse = _city(root / "gtCoarse", "train", "aachen", rng, 3)
    _city(root / "gtCoarse", "train_extra", "bad", rng, 2)
    s = cw.scan(root, layout="cityscapes", split="train")
    _check(s, train, 19, ignore_index=255, remap=CITY_REMAP)
    _check(cw.scan(root, layout="cityscapes"), train + val, 19, ignore_index=255, remap=CITY_REMAP)
    c = cw.scan(root / "gtCoarse", layout="cityscapes", split="train")  # only when pointed at
    _check(c, coarse, 19, ignore_index=255, remap=CITY_REMAP)


def test_cityscapes_tree_with_only_gtcoarse_names_it(tmp_path):
    root = tmp_path / "cityscapes"
    _city(root / "gtCoarse", "train", "aachen", np.random.default_rng(5), 1)
    with pytest.raises(cw.DatasetError, match=r"no gtFine/ folder .* only gtCoarse/: .*pass "):
        cw.scan(root, layout="cityscapes")


# ---- coco-stuff: mmsegmentation's converted masks beside the raw ones ---------------------------
def _coco(tmp_path, rng, n=3, converted=3):
    unused = {11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90}
    used = [k for k in range(182) if k not in unused]
    table = {k: used.index(k) for k in used} | dict.fromkeys(unused, 255) | {255: 255}
    d = tmp_path / "stuffthingmaps_trainval2017" / "train2017"
    d.mkdir(parents=True)
    raw = _masks(rng, n, [0, 10, 12, 90, 91, 181, 255])
    conv = []
    for i, m in enumerate(raw):
        save_png(d / f"{i:012d}.png", m)
        t = np.vectorize(table.get)(m).astype(np.uint8)  # what mmseg's converter writes
        conv.append(t)
        if i < converted:
            save_png(d / f"{i:012d}_labelTrainIds.png", t)
    return tmp_path / "stuffthingmaps_trainval2017", raw, conv, table


def test_coco_stuff_converted_by_mmseg_counts_converted_files_once(tmp_path):
    root, raw, conv, table = _coco(tmp_path, np.random.default_rng(6))
    s = cw.scan(root, layout="coco-stuff", split="train")
    assert s.num_images == 3 and all(x.endswith("_labelTrainIds.png") for x in s.sources)
    _check(s, conv, 171, ignore_index=255)  # converted ids are not remapped again
    _check(s, raw, 171, ignore_index=255, remap=table)  # the same numbers as the raw masks


def test_coco_stuff_partly_converted_is_refused_naming_the_counts(tmp_path):
    root, raw, _, table = _coco(tmp_path, np.random.default_rng(7), converted=1)
    with pytest.raises(cw.DatasetError, match=r"partly converted: 1 of 3 masks"):
        cw.scan(root, layout="coco-stuff", split="train")
    s = cw.scan(root, layout="coco-stuff", split="train", glob="*[0-9].png")  # as it suggests
    _check(s, raw, 171, ignore_index=255, remap=table)


# ---- no --split: every split, and no --glob the user never gave -------------------------------
def test_ade20k_and_camvid_without_split_count_every_split(tmp_path):
    rng = np.random.default_rng(8)
    ade = []
    for folder in ("training", "validation"):
        d = tmp_path / "ADEChallengeData2016" / "annotations" / folder
        d.mkdir(parents=True)
        for i, m in enumerate(_masks(rng, 2, [0, 1, 2, 75, 150])):
            name = {"training": "train", "validation": "val"}[folder]
            save_png(d / f"ADE_{name}_{i:08d}.png", m)
            ade.append(m)
    s = cw.scan(tmp_path / "ADEChallengeData2016", layout="ade20k")
    _check(s, ade, 150, ignore_index=255, reduce_zero_label=True)
    camvid = []
    for split in ("train", "val", "test"):
        (tmp_path / "CamVid" / f"{split}annot").mkdir(parents=True)
        (tmp_path / "CamVid" / split).mkdir()
        for i, m in enumerate(_masks(rng, 2, [0, 3, 8, 10, 11])):
            save_png(tmp_path / "CamVid" / f"{split}annot" / f"0001TP_{i:06d}.png", m)
            rgb = np.dstack([m, m, m])  # the photographs, same names: never counted
            save_png(tmp_path / "CamVid" / split / f"0001TP_{i:06d}.png", rgb)
            camvid.append(m)
    s = cw.scan(tmp_path / "CamVid", layout="camvid")
    order = [4, 5, 0, 1, 2, 3]  # testannot, trainannot, valannot in path order
    _check(s, [camvid[i] for i in order], 11, ignore_index=11)


def test_coco_stuff_and_mapillary_without_split_count_both_splits(tmp_path):
    rng = np.random.default_rng(9)
    coco = []
    for split in ("train2017", "val2017"):
        d = tmp_path / "stuffthingmaps_trainval2017" / split
        d.mkdir(parents=True)
        for i, m in enumerate(_masks(rng, 2, [0, 5, 100, 255])):
            save_png(d / f"{i:012d}.png", m)
            coco.append(m)
    s = cw.scan(tmp_path / "stuffthingmaps_trainval2017", layout="coco-stuff")
    unused = {11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90}
    table = {k: k - sum(u < k for u in unused) for k in range(182) if k not in unused}
    _check(s, coco, 171, ignore_index=255, remap=table)
    vistas = []
    pal = [v for c in voc_colors(256) for v in c]
    for split in ("training", "validation"):
        d = tmp_path / "vistas" / split / "labels"
        d.mkdir(parents=True)
        for i, m in enumerate(_masks(rng, 2, [0, 13, 64, 65])):
            save_png(d / f"{split}{i}.png", m, mode="P", palette=pal)
            vistas.append(m)
    (tmp_path / "vistas" / "config.json").write_text(
        json.dumps({"labels": [{"readable": f"c{i}"} for i in range(66)]})
    )
    s = cw.scan(tmp_path / "vistas", layout="mapillary")
    _check(s, vistas, 65, ignore_index=65)


def test_a_layout_that_finds_nothing_names_the_layout_not_a_glob(tmp_path):
    (tmp_path / "ADEChallengeData2016" / "annotations" / "training").mkdir(parents=True)
    with pytest.raises(cw.DatasetError) as e:
        cw.scan(tmp_path / "ADEChallengeData2016", layout="ade20k")
    assert "--layout ade20k found no masks" in str(e.value) and "--glob" not in str(e.value)


def test_two_candidate_folders_are_refused_not_the_first_sorted(tmp_path):
    for year in ("2016", "2017"):
        d = tmp_path / "ADE" / year / "annotations" / "training"
        d.mkdir(parents=True)
        save_png(d / "ADE_train_00000001.png", np.ones((4, 4), np.uint8))
    with pytest.raises(cw.DatasetError, match=r"2 annotations/ folders .*2016/annotations"):
        cw.scan(tmp_path / "ADE", layout="ade20k", split="train")


def test_a_split_folder_given_with_another_split_is_refused(tmp_path):
    d = tmp_path / "ADEChallengeData2016" / "annotations" / "training"
    d.mkdir(parents=True)
    save_png(d / "ADE_train_00000001.png", np.ones((4, 4), np.uint8))
    with pytest.raises(cw.DatasetError, match=r"training folder, not validation"):
        cw.scan(d, layout="ade20k", split="val")
