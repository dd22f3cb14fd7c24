"""Several encodings of the same frames in one folder are refused, naming each family of file
names and the --glob that selects it; one dataset split over folders, sequences or splits is not
(issue 30). Trees are shaped like the real ones; counts are checked against tests/naive.py."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import save_png
from naive import naive_counts
from PIL import Image

import classweights as cw


def _refused(path, **kw):
    with pytest.raises(cw.DatasetError) as e:
        cw.scan(path, **kw)
    return str(e.value)


def _globs(msg):
    return re.findall(r"--glob '([^']+)'", msg)


def _frame(folder, stem, rng, shape=(16, 32)):
    """One Cityscapes frame in the three encodings the zips hold (labelIds mode L, instanceIds
    16-bit, color RGBA)."""
    folder.mkdir(parents=True, exist_ok=True)
    m = rng.choice([0, 7, 8, 11, 24, 26], size=shape).astype(np.uint8)
    save_png(folder / f"{stem}_gtFine_labelIds.png", m)
    inst = np.where(m >= 24, m.astype(np.uint16) * 1000 + 1, m)
    save_png(folder / f"{stem}_gtFine_instanceIds.png", inst.astype(np.uint16))
    rgba = np.dstack([m, m, m, np.full_like(m, 255)])
    save_png(folder / f"{stem}_gtFine_color.png", rgba)
    return m


@pytest.mark.parametrize("in_city_folder", [False, True])
def test_one_cityscapes_frame_in_three_encodings_is_refused(tmp_path, in_city_folder):
    """One file per kind slipped through the old two-per-suffix check (26,003 classes)."""
    root = tmp_path / "frame"
    where = root / "aachen" if in_city_folder else root
    m = _frame(where, "aachen_000000_000019", np.random.default_rng(0))
    msg = _refused(root)
    assert "encodings of the same frames" in msg and "000019" in msg
    assert "*_gtFine_color.png" in msg or "*_color.png" in msg  # every family is named
    assert "instance ids" in msg and "colour renderings" in msg
    (glob,) = _globs(msg)  # one --glob offered: the label masks, never colours or instances
    assert glob.endswith("_labelIds.png") and "--layout cityscapes" in msg
    s = cw.scan(root, glob=glob, num_classes=34)  # the glob it names is exact
    rows, _, _, _ = naive_counts([m], 34)
    np.testing.assert_array_equal(s.counts, rows)
    assert _refused(root, glob="**/*.png").startswith(str(root))  # a glob taking every kind too


def _drive(root, rng, ids, split):
    """DRIVE as it unzips: images/NN_<split>.tif (RGB photographs), 1st_manual/NN_manual1.gif
    (vessels), mask/NN_<split>_mask.gif (field of view)."""
    vessels = []
    for sub in ("images", "1st_manual", "mask"):
        (root / split / sub).mkdir(parents=True, exist_ok=True)
    for i in ids:
        v = (rng.random((12, 14)) < 0.2).astype(np.uint8) * 255
        fov = np.zeros((12, 14), np.uint8)
        fov[2:10, 2:12] = 255
        Image.fromarray(np.dstack([v, fov, v])).save(root / split / "images" / f"{i:02d}_{split}.tif")
        Image.fromarray(v).save(root / split / "1st_manual" / f"{i:02d}_manual1.gif")
        Image.fromarray(fov).save(root / split / "mask" / f"{i:02d}_{split}_mask.gif")
        vessels.append(v)
    return vessels


def test_drive_vessels_beside_fov_masks_are_refused_naming_a_glob_for_each(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "DRIVE"
    vessels = _drive(root, rng, range(21, 25), "training")
    msg = _refused(root / "training")
    assert "1st_manual/" in msg and "mask/" in msg and "images, not masks" in msg
    globs = _globs(msg)
    assert "1st_manual/*.gif" in globs and "mask/*.gif" in globs
    assert not any(g.startswith("images/") for g in globs)
    s = cw.scan(root / "training", glob="1st_manual/*.gif")  # exactly the 4 vessel masks
    assert s.num_images == 4 and all("manual1" in x for x in s.sources)
    decoded = [np.asarray(Image.open(f)) for f in sorted((root / "training" / "1st_manual").iterdir())]
    rows, _, _, _ = naive_counts(decoded, s.num_classes)  # Pillow's own decode: the reference
    np.testing.assert_array_equal(s.counts, rows)
    assert len(vessels) == 4
    _drive(root, rng, range(1, 5), "test")  # the whole download: both splits, still refused
    assert "1st_manual/*.gif" in _refused(root, glob="**/*.gif") or "manual1" in _refused(root)


def test_camvid_sequences_with_restarting_frame_numbers_are_one_dataset(tmp_path):
    """SegNet's trainannot: 0006R0_f00930 beside Seq05VD_f00930 are different frames."""
    rng = np.random.default_rng(2)
    names = ["0001TP_006690", "0001TP_006720", "0006R0_f00930", "0006R0_f00960",
             "0016E5_00390", "0016E5_00420", "Seq05VD_f00930", "Seq05VD_f00960"]  # fmt: skip
    masks = [rng.integers(0, 12, size=(6, 8)).astype(np.uint8) for _ in names]
    for n, m in zip(names, masks, strict=True):
        save_png(tmp_path / f"{n}.png", m)
    s = cw.scan(tmp_path, num_classes=11, ignore_index=11)
    rows, _, _, _ = naive_counts(masks, 11, ignore_index=11)
    np.testing.assert_array_equal(s.counts, rows)


def test_splits_cities_and_split_words_are_one_family(tmp_path):
    rng = np.random.default_rng(3)
    masks = []
    for split, cities in (("train", ("aachen", "bochum")), ("val", ("lindau",))):
        for city in cities:
            (tmp_path / "gtFine" / split / city).mkdir(parents=True)
            for k in range(2):  # frame numbers restart in each city, as in Cityscapes
                m = rng.integers(0, 19, size=(4, 6)).astype(np.uint8)
                save_png(tmp_path / "gtFine" / split / city / f"{city}_000000_{k:06d}_gtFine_labelTrainIds.png", m)  # fmt: skip
                masks.append(m)
    s = cw.scan(tmp_path / "gtFine", num_classes=19)
    assert s.num_images == 6
    for folder, name in (("training", "train"), ("validation", "val")):  # ADE's own names
        (tmp_path / "ade" / folder).mkdir(parents=True)
        for k in range(2):
            save_png(tmp_path / "ade" / folder / f"ADE_{name}_{k:08d}.png", masks[k])
    assert cw.scan(tmp_path / "ade", num_classes=19).num_images == 4
    for split in ("train", "val"):  # the same file names under train/ and val/
        (tmp_path / "plain" / split).mkdir(parents=True)
        for k in range(2):
            save_png(tmp_path / "plain" / split / f"{k:04d}.png", masks[k])
    assert cw.scan(tmp_path / "plain", num_classes=19).num_images == 4


def test_names_that_are_ids_themselves_are_not_families(tmp_path):
    rng = np.random.default_rng(4)
    for name in ("cat", "dog", "bird", "x1Ab_2kQ9z-Lm3Ff0OoPq7", "Zk3_9aQ1x-2bLm0Ff4ooPq"):
        save_png(tmp_path / f"{name}.png", rng.integers(0, 3, size=(4, 4)).astype(np.uint8))
    assert cw.scan(tmp_path, num_classes=3).num_images == 5


def test_prefix_encodings_and_nnunet_images_beside_labels(tmp_path):
    rng = np.random.default_rng(5)
    (tmp_path / "a").mkdir()
    for k in range(3):
        m = rng.integers(0, 3, size=(4, 4)).astype(np.uint8)
        save_png(tmp_path / "a" / f"label_{k:04d}.png", m)
        save_png(tmp_path / "a" / f"instance_{k:04d}.png", m.astype(np.uint16) * 1000)
    assert _globs(_refused(tmp_path / "a")) == ["label_*"]
    for sub in ("labelsTr", "imagesTr"):
        (tmp_path / "Dataset001" / sub).mkdir(parents=True)
    for k in range(3):
        m = rng.integers(0, 3, size=(4, 4)).astype(np.uint8)
        save_png(tmp_path / "Dataset001" / "labelsTr" / f"liver_{k:03d}.png", m)
        save_png(tmp_path / "Dataset001" / "imagesTr" / f"liver_{k:03d}_0000.png", m * 80)
    msg = _refused(tmp_path / "Dataset001")
    assert "labelsTr/*.png" in _globs(msg) and "imagesTr/" not in " ".join(_globs(msg))


def test_images_beside_labels_with_the_same_names_are_refused(tmp_path):
    """The Medical Segmentation Decathlon's TaskXX folder (imagesTr/ and labelsTr/ hold the same
    case names: intensities would be counted as thousands of classes), Mapillary's labels/
    beside instances/; train/ and val/ of one kind may share names."""
    rng = np.random.default_rng(6)
    task = tmp_path / "Task04_Hippocampus"
    labels = []
    for sub in ("imagesTr", "labelsTr", "imagesTs"):
        (task / sub).mkdir(parents=True)
    for k in (1, 3, 4):
        m = rng.integers(0, 3, size=(6, 5)).astype(np.uint8)
        save_png(task / "labelsTr" / f"hippocampus_{k:03d}.png", m)
        save_png(task / "imagesTr" / f"hippocampus_{k:03d}.png", m.astype(np.uint16) * 900 + 7)
        save_png(task / "imagesTs" / f"hippocampus_{k + 100:03d}.png", m.astype(np.uint16) * 900)
        labels.append(m)
    msg = _refused(task)
    assert "imagesTr/ (images, not masks)" in msg and "hippocampus_001.png" in msg
    assert _globs(msg) == ["labelsTr/*.png"] and "--layout nnunet" in msg
    s = cw.scan(task, glob="labelsTr/*.png", num_classes=3)
    np.testing.assert_array_equal(s.counts, naive_counts(labels, 3)[0])
    vistas = tmp_path / "training"
    for sub in ("labels", "instances"):
        (vistas / sub).mkdir(parents=True)
        for k in range(2):
            save_png(vistas / sub / f"Ab3_x9kQ2mZp0Lr7TuV1wY{k}.png", np.full((3, 3), k, np.uint8))
    msg = _refused(vistas)
    assert "instances/ (instance ids)" in msg and _globs(msg) == ["labels/*.png"]


def test_kitti_style_sibling_folders_name_each_kind(tmp_path):
    rng = np.random.default_rng(7)
    root = tmp_path / "training"
    semantic = []
    for sub in ("image_2", "instance", "semantic", "semantic_rgb"):
        (root / sub).mkdir(parents=True)
    for k in range(3):
        m = rng.integers(0, 34, size=(5, 7)).astype(np.uint8)
        save_png(root / "semantic" / f"{k:06d}_10.png", m)
        save_png(root / "instance" / f"{k:06d}_10.png", m.astype(np.uint16) * 256 + 1)
        save_png(root / "semantic_rgb" / f"{k:06d}_10.png", np.dstack([m, m, m]))
        save_png(root / "image_2" / f"{k:06d}_10.png", np.dstack([m, m, m]) + 1)
        semantic.append(m)
    msg = _refused(root)
    assert _globs(msg) == ["semantic/*.png"]
    for folder in ("image_2/", "instance/", "semantic_rgb/"):
        assert folder in msg
    s = cw.scan(root, glob="semantic/*.png", num_classes=34)
    np.testing.assert_array_equal(s.counts, naive_counts(semantic, 34)[0])


def test_a_letter_added_to_a_name_is_another_mask_not_an_encoding(tmp_path):
    rng = np.random.default_rng(8)
    masks = [rng.integers(0, 3, size=(4, 4)).astype(np.uint8) for _ in range(4)]
    for name, m in zip(("m0", "m1", "m2", "m1b"), masks, strict=True):
        save_png(tmp_path / f"{name}.png", m)
    s = cw.scan(tmp_path, num_classes=3)
    order = [0, 1, 3, 2]  # m0, m1, m1b, m2
    np.testing.assert_array_equal(s.counts, naive_counts([masks[i] for i in order], 3)[0])
