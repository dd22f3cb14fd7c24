"""Dataset layouts (--layout NAME): each preset on a small generated tree of its documented shape,
counts checked against a NumPy count written here (tests/naive.py), never the library."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from conftest import save_png
from naive import naive_counts

import classweights as cw
from classweights.labels import CELEBAMASK_HQ as names
from classweights.labels import CITYSCAPES_TRAIN_IDS, voc_colors


def _masks(rng, n, values, shape=(12, 16)):
    return [rng.choice(values, size=shape).astype(np.uint8) for _ in range(n)]


def _check(stats, masks, num_classes, **space):
    rows, ignored, unknown, totals = naive_counts(masks, num_classes, **space)
    np.testing.assert_array_equal(stats.counts, rows)
    np.testing.assert_array_equal(stats.image_ignored, ignored)
    assert stats.num_classes == num_classes and not unknown.any()


# ---- voc ------------------------------------------------------------------------------------
def _voc_tree(tmp_path, rng):
    root = tmp_path / "VOCdevkit" / "VOC2012"
    (root / "SegmentationClass").mkdir(parents=True)
    (root / "SegmentationObject").mkdir()
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    pal = [v for c in voc_colors(256) for v in c]
    ids = [f"2007_{i:06d}" for i in range(5)]
    masks = _masks(rng, 5, [0, 1, 5, 15, 20, 255])
    for i, m in zip(ids, masks):
        save_png(root / "SegmentationClass" / f"{i}.png", m, mode="P", palette=pal)
        save_png(root / "SegmentationObject" / f"{i}.png", m // 50, mode="P", palette=pal)
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(ids[:3]) + "\n")
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(ids[3:]) + "\n")
    return root, masks


def test_voc_split_reads_the_ids_of_the_split_file(tmp_path):
    root, masks = _voc_tree(tmp_path, np.random.default_rng(0))
    s = cw.scan(root, layout="voc", split="train")
    _check(s, masks[:3], 21, ignore_index=255)
    assert s.class_names[15] == "person" and s.ignore_index == 255
    v = cw.scan(tmp_path / "VOCdevkit", layout="voc", split="val")  # the devkit folder works too
    _check(v, masks[3:], 21, ignore_index=255)


def test_voc_without_split_counts_segmentationclass_only(tmp_path):
    root, masks = _voc_tree(tmp_path, np.random.default_rng(1))
    with pytest.raises(cw.DatasetError, match="Pascal VOC folder"):  # the trap without a layout
        cw.scan(root)
    _check(cw.scan(root, layout="voc"), masks, 21, ignore_index=255)


def test_voc_split_with_a_missing_mask_names_it(tmp_path):
    root, _ = _voc_tree(tmp_path, np.random.default_rng(2))
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("2007_000000\n2099_000001\n")
    with pytest.raises(cw.DatasetError, match=r"1 id\(s\) without a mask .* first: 2099_000001"):
        cw.scan(root, layout="voc", split="train")


def test_voc_aug_and_trainaug_read_sbd_as_mmseg_lays_it_out(tmp_path):
    """SBD masks (mode L, no void border) in SegmentationClassAug/, aug.txt = SBD ids outside VOC
    train/val; trainaug = VOC train (VOC's own masks) + aug, with or without trainaug.txt."""
    rng = np.random.default_rng(4)
    root, masks = _voc_tree(tmp_path, rng)
    sets = root / "ImageSets" / "Segmentation"
    with pytest.raises(cw.DatasetError, match="no SegmentationClassAug/ .*voc_aug.py"):
        cw.scan(root, layout="voc", split="trainaug")
    aug_dir = root / "SegmentationClassAug"
    aug_dir.mkdir()
    sbd_ids = ["2008_000100", "2008_000101", "2008_000102"]
    sbd = _masks(rng, 3, [0, 2, 7, 20])
    for i, m in zip(sbd_ids, sbd, strict=True):
        save_png(aug_dir / f"{i}.png", m)
    # SBD also annotates a VOC train image, differently: VOC's mask must win for it
    save_png(aug_dir / "2007_000001.png", np.full_like(masks[1], 9))
    (sets / "aug.txt").write_text("\n".join(sbd_ids) + "\n")
    _check(cw.scan(root, layout="voc", split="aug"), sbd, 21, ignore_index=255)
    both = cw.scan(root, layout="voc", split="trainaug")  # train.txt + aug.txt
    _check(both, masks[:3] + sbd, 21, ignore_index=255)
    (sets / "trainaug.txt").write_text("\n".join(["2007_000000", "2007_000001", "2007_000002",
                                                   *sbd_ids]) + "\n")  # fmt: skip
    listed = cw.scan(root, layout="voc", split="trainaug")
    _check(listed, masks[:3] + sbd, 21, ignore_index=255)
    assert listed.sources[1].endswith("SegmentationClass/2007_000001.png")
    assert listed.sources[3].endswith("SegmentationClassAug/2008_000100.png")


# ---- cityscapes -----------------------------------------------------------------------------
def _cityscapes_tree(tmp_path, rng, train_ids=False):
    masks = {}
    for split, cities in (("train", ("aachen", "bochum")), ("val", ("lindau",))):
        for city in cities:
            folder = tmp_path / "cityscapes" / "gtFine" / split / city
            folder.mkdir(parents=True)
            for k in range(2):
                stem = f"{city}_000000_{k:06d}_gtFine"
                m = rng.choice([0, 1, 7, 8, 11, 24, 26, 33], size=(10, 20)).astype(np.uint8)
                save_png(folder / f"{stem}_labelIds.png", m)
                save_png(folder / f"{stem}_instanceIds.png", m.astype(np.uint16) * 1000)
                save_png(folder / f"{stem}_color.png", np.dstack([m, m, m]))
                if train_ids:
                    t = np.vectorize(lambda v: CITYSCAPES_TRAIN_IDS.get(int(v), 255))(m)
                    save_png(folder / f"{stem}_labelTrainIds.png", t.astype(np.uint8))
                masks.setdefault(split, []).append(m)
    return tmp_path / "cityscapes", masks


@pytest.mark.parametrize("train_ids", [False, True])
def test_cityscapes_split_label_ids_or_train_ids(tmp_path, train_ids):
    root, masks = _cityscapes_tree(tmp_path, np.random.default_rng(3), train_ids)
    remap = {i: CITYSCAPES_TRAIN_IDS.get(i, 255) for i in range(34)}
    for split in ("train", "val"):
        s = cw.scan(root, layout="cityscapes", split=split)
        _check(s, masks[split], 19, ignore_index=255, remap=remap)
        want = "*_labelTrainIds.png" if train_ids else "*_labelIds.png"
        assert s.settings["glob"] == f"**/{want}"
        assert all(src.endswith(want[1:]) for src in s.sources)
        assert (s.settings["remap"] is None) == train_ids


def test_cityscapes_split_folder_itself_and_one_log_line(tmp_path, caplog):
    root, masks = _cityscapes_tree(tmp_path, np.random.default_rng(4))
    remap = {i: CITYSCAPES_TRAIN_IDS.get(i, 255) for i in range(34)}
    with caplog.at_level(logging.INFO, logger="classweights.layouts"):
        s = cw.scan(root / "gtFine" / "train", layout="cityscapes")
    _check(s, masks["train"], 19, ignore_index=255, remap=remap)
    lines = [r.getMessage() for r in caplog.records if r.name == "classweights.layouts"]
    assert len(lines) == 1 and lines[0].startswith("layout cityscapes:")
    assert "remap=cityscapes" in lines[0] and "ignore_index=255" in lines[0]


def test_cityscapes_root_without_split_counts_gtfine_only(tmp_path):
    root, masks = _cityscapes_tree(tmp_path, np.random.default_rng(9))
    coarse = root / "gtCoarse" / "train_extra" / "x"
    coarse.mkdir(parents=True)
    save_png(coarse / "x_000000_000000_gtCoarse_labelIds.png", np.full((4, 4), 7, np.uint8))
    s = cw.scan(root, layout="cityscapes")
    remap = {i: CITYSCAPES_TRAIN_IDS.get(i, 255) for i in range(34)}
    _check(s, masks["train"] + masks["val"], 19, ignore_index=255, remap=remap)


def test_explicit_settings_override_the_preset(tmp_path):
    root, masks = _cityscapes_tree(tmp_path, np.random.default_rng(5))
    raw = cw.scan(root, layout="cityscapes", split="train", remap={}, num_classes=34)
    _check(raw, masks["train"], 34, ignore_index=255)  # remap={} turns the preset's remap off
    assert raw.class_names is None  # 19 preset names do not fit 34 classes: not applied
    own = {i: i % 19 for i in range(34)}  # a many-to-one remap given explicitly wins
    s = cw.scan(root, layout="cityscapes", split="train", remap=own)
    _check(s, masks["train"], 19, ignore_index=255, remap=own)
    root2, masks2 = _cityscapes_tree(tmp_path / "b", np.random.default_rng(5), train_ids=True)
    s = cw.scan(root2, layout="cityscapes", split="train", glob="**/*_labelIds.png")
    remap = {i: CITYSCAPES_TRAIN_IDS.get(i, 255) for i in range(34)}
    _check(s, masks2["train"], 19, ignore_index=255, remap=remap)  # explicit glob: labelIds


def test_layout_errors_are_one_line(tmp_path):
    root, _ = _cityscapes_tree(tmp_path, np.random.default_rng(6))
    with pytest.raises(cw.ConfigError, match="no split 'dev'.*train, val, test"):
        cw.scan(root, layout="cityscapes", split="dev")
    with pytest.raises(cw.ConfigError, match="layout='kitti' is not valid: expected one of 'voc'"):
        cw.scan(root, layout="kitti")
    with pytest.raises(cw.ConfigError, match="--split needs --layout"):
        cw.scan(root, split="train")
    with pytest.raises(cw.DatasetError, match="no SegmentationClass folder"):
        cw.scan(root, layout="voc")


# ---- ade20k, camvid, coco-stuff, mapillary --------------------------------------------------
def test_ade20k_reduce_zero_label(tmp_path):
    rng = np.random.default_rng(7)
    masks = {}
    for split, folder in (("train", "training"), ("val", "validation")):
        d = tmp_path / "ADEChallengeData2016" / "annotations" / folder
        d.mkdir(parents=True)
        masks[split] = _masks(rng, 3, [0, 1, 2, 75, 150])
        for i, m in enumerate(masks[split]):
            save_png(d / f"ADE_{folder}_{i:08d}.png", m)
    for split in ("train", "val"):
        s = cw.scan(tmp_path / "ADEChallengeData2016", layout="ade20k", split=split)
        _check(s, masks[split], 150, ignore_index=255, reduce_zero_label=True)
        assert s.class_names[0] == "wall"


def test_camvid_11_class_masks(tmp_path):
    rng = np.random.default_rng(8)
    masks = _masks(rng, 3, [0, 3, 8, 10, 11])
    (tmp_path / "CamVid" / "trainannot").mkdir(parents=True)
    (tmp_path / "CamVid" / "valannot").mkdir(parents=True)
    for i, m in enumerate(masks):
        save_png(tmp_path / "CamVid" / "trainannot" / f"0001TP_{i:06d}.png", m)
    save_png(tmp_path / "CamVid" / "valannot" / "x.png", masks[0])
    s = cw.scan(tmp_path / "CamVid", layout="camvid", split="train")
    _check(s, masks, 11, ignore_index=11)


def test_camvid_32_colours_merged_to_11_as_segnet(tmp_path):
    from classweights.layouts import CAMVID32_TO_11

    colours = [*CAMVID32_TO_11, (0, 0, 0)]
    assert len(colours) == 32 and sorted(set(CAMVID32_TO_11.values())) == list(range(11))
    rng = np.random.default_rng(9)
    d = tmp_path / "CamVid" / "LabeledApproved_full"
    d.mkdir(parents=True)
    expected = np.zeros((3, 11), np.int64)
    void = []
    for i in range(3):
        idx = rng.integers(0, 32, size=(8, 12))
        rgb = np.array(colours, np.uint8)[idx]
        save_png(d / f"0001TP_{i:06d}_L.png", rgb)
        for c in idx.ravel().tolist():  # one pixel at a time: the obvious loop
            if c < 31:
                expected[i, CAMVID32_TO_11[colours[c]]] += 1
        void.append(int((idx == 31).sum()))
    s = cw.scan(tmp_path / "CamVid", layout="camvid")
    np.testing.assert_array_equal(s.counts, expected)
    assert s.image_ignored.tolist() == void and s.num_classes == 11


def test_coco_stuff_182_ids_to_171_classes(tmp_path):
    rng = np.random.default_rng(10)
    unused = {11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90}
    used = [k for k in range(182) if k not in unused]
    assert len(used) == 171
    d = tmp_path / "stuffthingmaps_trainval2017" / "train2017"
    d.mkdir(parents=True)
    masks = _masks(rng, 3, [0, 10, 12, 90, 91, 181, 255, 26])
    for i, m in enumerate(masks):
        save_png(d / f"{i:012d}.png", m)
    s = cw.scan(tmp_path / "stuffthingmaps_trainval2017", layout="coco-stuff", split="train")
    remap = {k: used.index(k) for k in used} | dict.fromkeys(unused, 255)  # unused id 90: void
    _check(s, masks, 171, ignore_index=255, remap=remap)


def test_mapillary_v12_palette_indices_and_config(tmp_path):
    rng = np.random.default_rng(11)
    d = tmp_path / "mapillary" / "training" / "labels"
    d.mkdir(parents=True)
    masks = _masks(rng, 3, [0, 13, 27, 64, 65])
    pal = [v for c in voc_colors(256) for v in c]
    for i, m in enumerate(masks):
        save_png(d / f"img{i}.png", m, mode="P", palette=pal)
    s = cw.scan(tmp_path / "mapillary", layout="mapillary", split="train")
    _check(s, masks, 65, ignore_index=65)
    assert s.class_names[13] == "Road" and s.class_names[-1] == "Ego Vehicle"
    labels = [{"readable": f"c{i}", "color": [i, i, i]} for i in range(66)]
    (tmp_path / "mapillary" / "config.json").write_text(json.dumps({"labels": labels}))
    s = cw.scan(tmp_path / "mapillary", layout="mapillary", split="train")
    assert s.class_names[13] == "c13" and len(s.class_names) == 65


# ---- celebamask-hq, nnunet ------------------------------------------------------------------
def test_celebamask_hq_multilabel(tmp_path):
    rng = np.random.default_rng(12)
    anno = tmp_path / "CelebAMask-HQ" / "CelebAMask-HQ-mask-anno"

    expected = np.zeros((4, len(names)), np.int64)
    for img in range(4):
        folder = anno / str(img // 2)
        folder.mkdir(parents=True, exist_ok=True)
        for c in (1, 2, 13):  # skin, nose, hair
            if img == 3 and c == 2:
                continue  # no file where the class is absent
            m = (rng.random((16, 16)) < 0.4).astype(np.uint8) * 255
            save_png(folder / f"{img:05d}_{names[c]}.png", m)
            expected[img, c] = np.count_nonzero(m)
    s = cw.scan(tmp_path / "CelebAMask-HQ", layout="celebamask-hq")
    assert s.multilabel
    np.testing.assert_array_equal(s.counts, expected)


@pytest.mark.parametrize("flavour", ["v2", "msd", "v2-ignore"])
def test_nnunet_dataset_json(tmp_path, flavour):
    rng = np.random.default_rng(13)
    root = tmp_path / "Dataset001_Liver"
    (root / "labelsTr").mkdir(parents=True)
    (root / "imagesTr").mkdir()
    if flavour == "msd":
        labels = {"0": "background", "1": "liver", "2": "tumour"}
    else:
        labels = {"background": 0, "liver": 1, "tumour": 2}
    if flavour == "v2-ignore":
        labels["ignore"] = 3
    info = {"labels": labels, "file_ending": ".png", "numTraining": 3}
    (root / "dataset.json").write_text(json.dumps(info))
    masks = _masks(rng, 3, [0, 1, 2, 3] if flavour == "v2-ignore" else [0, 1, 2])
    for i, m in enumerate(masks):
        save_png(root / "labelsTr" / f"liver_{i:03d}.png", m)
        save_png(root / "imagesTr" / f"liver_{i:03d}_0000.png", m * 7)
    s = cw.scan(root, layout="nnunet")
    _check(s, masks, 3, ignore_index=3 if flavour == "v2-ignore" else None)
    assert s.class_names == ["background", "liver", "tumour"]
    assert s.settings["glob"] == "labelsTr/*.png"


def test_nnunet_regions_count_raw_labels(tmp_path):
    root = tmp_path / "Dataset002_Brats"
    (root / "labelsTr").mkdir(parents=True)
    info = {"labels": {"background": 0, "whole": [1, 2, 3], "core": [2, 3], "enh": 3},
            "file_ending": ".png"}  # fmt: skip
    (root / "dataset.json").write_text(json.dumps(info))
    masks = _masks(np.random.default_rng(14), 2, [0, 1, 2, 3])
    for i, m in enumerate(masks):
        save_png(root / "labelsTr" / f"b_{i}.png", m)
    s = cw.scan(root, layout="nnunet")
    _check(s, masks, 4)


# ---- split files ----------------------------------------------------------------------------
def test_split_file_of_ids_with_root_and_suffix(tmp_path):
    rng = np.random.default_rng(15)
    ann = tmp_path / "ann"
    ann.mkdir()
    masks = _masks(rng, 4, [0, 1, 2])
    for i, m in enumerate(masks):
        save_png(ann / f"img{i}_mask.png", m)
    split = tmp_path / "train.txt"
    split.write_text("img2\nimg0\n\n")
    s = cw.scan(tmp_path / "ignored-when-root-given", split_file=split, root=ann,
                suffix="_mask.png", num_classes=3)  # fmt: skip
    _check(s, [masks[2], masks[0]], 3)
    s = cw.scan(ann, split_file=split, suffix="_mask.png", num_classes=3)  # root = the path
    _check(s, [masks[2], masks[0]], 3)
    with pytest.raises(cw.ConfigError, match="--root and --suffix go with --split-file"):
        cw.scan(ann, suffix=".png", num_classes=3)


def test_layout_through_the_cache_and_load_weights(tmp_path):
    root, masks = _cityscapes_tree(tmp_path, np.random.default_rng(16))
    from classweights import cached_scan

    cache = tmp_path / "cache"
    a, info = cached_scan(root, layout="cityscapes", split="train", cache_dir=cache)
    b, hit = cached_scan(root, layout="cityscapes", split="train", cache_dir=cache)
    assert not info.hit and hit.hit and a.counts.tolist() == b.counts.tolist()
    c, other = cached_scan(root, layout="cityscapes", split="val", cache_dir=cache)
    assert other.key != info.key and c.num_images == 2
    w = cw.load_weights(root, layout="cityscapes", split="train", cache_dir=cache,
                        method="inverse_freq")  # fmt: skip
    spelled = cw.load_weights(root / "gtFine" / "train", glob="**/*_labelIds.png",
                              remap="cityscapes", classes="cityscapes", ignore_index=255,
                              method="inverse_freq", cache_dir=tmp_path / "other")  # fmt: skip
    np.testing.assert_array_equal(w.numpy(), spelled.numpy())


# ---- merges and void colours ----------------------------------------------------------------
def test_many_to_one_remap_merges_labels(tmp_path):
    masks = _masks(np.random.default_rng(17), 3, [1, 2, 3, 4, 255])
    for i, m in enumerate(masks):
        save_png(tmp_path / f"{i}.png", m)
    remap = {1: 0, 2: 0, 3: 1, 4: 255}  # the example plus a label sent to void
    s = cw.scan(tmp_path, remap={str(k): v for k, v in remap.items()}, num_classes=2,
                ignore_index=255)  # fmt: skip
    _check(s, masks, 2, ignore_index=255, remap=remap)


@pytest.mark.parametrize(
    ("preset", "void"), [("camvid", (0, 0, 0)), ("pascal-voc", (224, 224, 192))]
)
def test_palette_presets_ignore_their_void_colour(tmp_path, preset, void):
    from classweights.labels import PALETTE_PRESETS

    colours = [*PALETTE_PRESETS[preset][:5], void]
    idx = np.random.default_rng(18).integers(0, 6, size=(2, 8, 8))
    for i in range(2):
        save_png(tmp_path / f"{i}.png", np.array(colours, np.uint8)[idx[i]])
    s = cw.scan(tmp_path, palette=preset, num_classes=len(PALETTE_PRESETS[preset]),
                ignore_index=255)  # fmt: skip
    for i in range(2):
        assert s.counts[i, :5].tolist() == [int((idx[i] == c).sum()) for c in range(5)]
    assert s.image_ignored.tolist() == [int((idx[i] == 5).sum()) for i in range(2)]
    bare = cw.scan(tmp_path, palette=preset, num_classes=len(PALETTE_PRESETS[preset]))
    assert bare.ignore_index == 255 and bare.ignored_pixels == int((idx == 5).sum())


def test_user_colour_table_extends_a_preset(tmp_path):
    table = tmp_path / "extra.json"
    table.write_text(json.dumps({"extends": "camvid", "#ff00ff": 3, "#808080": 1}))
    img = np.array([[[255, 0, 255], [128, 128, 128]], [[0, 0, 0], [128, 0, 0]]], np.uint8)
    d = tmp_path / "m"
    d.mkdir()
    save_png(d / "a.png", np.tile(img, (4, 4, 1)))
    s = cw.scan(d, palette=table, num_classes=11, ignore_index=255)
    # magenta -> 3 (added), grey -> 1 (sky's colour overridden), black void, (128,0,0) building
    assert s.counts[0].tolist()[:4] == [0, 32, 0, 16] and s.ignored_pixels == 16
