"""3-D label volumes: NIfTI / NRRD / N x D x H x W arrays, spacing, physical volume, cache."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import classweights as cw
from classweights import cached_scan, load_weights
from classweights.errors import MaskReadError
from classweights.stats import ClassStats

nib = pytest.importorskip("nibabel")
nrrd = pytest.importorskip("nrrd")

SPACINGS = [(1.0, 1.0, 2.5), (0.8, 0.8, 3.0), (1.2, 0.7, 1.0), (0.5, 0.5, 0.5)]
DTYPES = [np.uint8, np.float32, np.int16, np.uint16]


def _nnunet(tmp_path, num_classes=3):
    """A small nnU-Net v2 raw dataset: labelsTr/*.nii.gz with different spacings and dtypes."""
    root = tmp_path / "Dataset001_Toy"
    (root / "labelsTr").mkdir(parents=True)
    rng = np.random.default_rng(7)
    vols = []
    for i, (sp, dt) in enumerate(zip(SPACINGS, DTYPES, strict=True)):
        shape = (5 + i, 6, 4 + 2 * i)
        a = rng.integers(0, num_classes, shape).astype(dt)
        a[0, 0, 0] = 0
        path = root / "labelsTr" / f"case_{i:03d}.nii.gz"
        nib.save(nib.Nifti1Image(a, np.diag([*sp, 1.0])), path)
        vols.append(a)
    labels = {"background": 0, "liver": 1, "tumour": 2}
    (root / "dataset.json").write_text(json.dumps({"labels": labels, "file_ending": ".nii.gz"}))
    return root, vols


def _naive_rows(vols, num_classes):
    rows = np.zeros((len(vols), num_classes), np.int64)
    for i, v in enumerate(vols):
        for x in np.asarray(v).astype(np.int64).ravel().tolist():
            rows[i, x] += 1
    return rows


def test_nnunet_dataset_scans_exactly_with_spacing_and_volume(tmp_path):
    root, vols = _nnunet(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the float32 volume is read as integers, with a note
        s = cw.scan(root / "labelsTr", num_classes=3, workers=2)
    rows = _naive_rows(vols, 3)
    assert np.array_equal(s.counts, rows)
    assert s.image_total.tolist() == [v.size for v in vols]
    assert s.shape.tolist() == [list(v.shape) for v in vols]
    assert np.allclose(s.spacing, SPACINGS)
    expected = [sum(rows[i, c] * np.prod(SPACINGS[i]) for i in range(len(vols))) for c in range(3)]
    assert np.allclose(s.physical_volume, expected, rtol=1e-12)
    summary = s.spacing_summary()
    sp = np.array(SPACINGS)
    assert np.allclose(summary["median"], np.median(sp, axis=0))
    assert np.allclose(summary["min"], sp.min(axis=0))
    assert np.allclose(summary["max"], sp.max(axis=0))


def test_nnunet_dataset_caches_and_gives_weights(tmp_path):
    root, vols = _nnunet(tmp_path)
    kw = {"num_classes": 3, "cache_dir": tmp_path / "cache"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, info1 = cached_scan(root / "labelsTr", **kw)
        second, info2 = cached_scan(root / "labelsTr", **kw)
        t = load_weights(root / "labelsTr", "inverse_freq", normalize="none", **kw)
    assert not info1.hit
    assert info2.hit
    assert second == first
    assert np.array_equal(second.spacing, first.spacing)
    assert np.allclose(second.physical_volume, first.physical_volume)
    pixels = _naive_rows(vols, 3).sum(0)
    expected = pixels.sum() / (3 * pixels)  # inverse frequency, N / (C * n_c)
    assert np.allclose(t.numpy(), expected, rtol=1e-6)
    assert np.allclose(cw.compute_weights(first, "inverse_freq", normalize="none"), expected)


def test_fractional_float_volume_names_the_file(tmp_path):
    a = np.zeros((4, 4, 4), np.float32)
    a[1, 1, 1] = 0.5
    f = tmp_path / "bad.nii.gz"
    nib.save(nib.Nifti1Image(a, np.eye(4)), f)
    with pytest.raises(MaskReadError, match=r"bad\.nii\.gz.*fractional"):
        cw.scan(f, num_classes=2)


def test_voxel_limit_checked_from_the_header(tmp_path):
    f = tmp_path / "big.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((10, 10, 10), np.uint8), np.eye(4)), f)
    with pytest.raises(MaskReadError, match=r"big\.nii\.gz: declares 10 x 10 x 10 = 1,000 voxels"):
        cw.scan(f, num_classes=2, max_pixels=999)


def test_nrrd_volume_and_its_spacing(tmp_path):
    a = np.random.default_rng(1).integers(0, 4, (5, 6, 7)).astype(np.int16)
    f = tmp_path / "seg.nrrd"
    header = {"space": "left-posterior-superior", "space directions": np.diag([0.5, 0.6, 2.0])}
    nrrd.write(str(f), a, header, index_order="F")
    s = cw.scan(f, num_classes=4)
    assert np.array_equal(s.counts[0], np.bincount(a.ravel(), minlength=4))
    assert s.shape.tolist() == [[5, 6, 7]]
    assert np.allclose(s.spacing, [[0.5, 0.6, 2.0]])


def test_nd_array_stacks_are_volumes_without_spacing(tmp_path):
    rng = np.random.default_rng(3)
    stack = rng.integers(0, 3, (3, 4, 5, 6)).astype(np.uint8)  # N x D x H x W
    np.save(tmp_path / "vols.npy", stack)
    s = cw.scan(tmp_path / "vols.npy", num_classes=3)
    assert np.array_equal(s.counts, _naive_rows(stack, 3))
    assert s.shape.tolist() == [[4, 5, 6]] * 3
    assert np.isnan(s.spacing).all()
    assert s.physical_volume is None
    with pytest.raises(MaskReadError, match=r"vols\.npy.*120 (voxels|values), above"):
        cw.scan(tmp_path / "vols.npy", num_classes=3, max_pixels=119)  # per volume, not per file
    assert cw.scan(tmp_path / "vols.npy", num_classes=3, max_pixels=120).num_images == 3
    import zarr

    z = zarr.create_array(str(tmp_path / "vols.zarr"), shape=stack.shape, dtype="uint8",
                          chunks=(1, 4, 5, 6))  # fmt: skip
    z[...] = stack
    sz = cw.scan(tmp_path / "vols.zarr", num_classes=3)
    assert np.array_equal(sz.counts, s.counts)
    assert sz.shape.tolist() == s.shape.tolist()


def test_a_3d_npy_stays_a_stack_of_2d_masks(tmp_path):
    stack = np.zeros((3, 4, 5), np.uint8)
    np.save(tmp_path / "masks.npy", stack)
    s = cw.scan(tmp_path / "masks.npy", num_classes=2)
    assert s.num_images == 3
    assert s.shape is None
    assert s.spacing is None


def test_volume_rows_survive_merge_subset_save_load(tmp_path):
    vol = ClassStats.from_counts([[2, 1], [0, 4]], shape=[[1, 1, 3], [2, 2, 1]],
                                 spacing=[[1, 1, 2.5], [0.5, 0.5, 1]])  # fmt: skip
    flat = ClassStats.from_counts([[3, 0]])
    both = vol + flat
    assert both.shape.tolist() == [[1, 1, 3], [2, 2, 1], [0, 0, 0]]
    assert np.isnan(both.spacing[2]).all()
    assert both.physical_volume.tolist() == [2 * 2.5, 2.5 + 4 * 0.25]  # the 2-D row has no mm³
    sub = both.subset([1, 1])
    assert sub.spacing.tolist() == [[0.5, 0.5, 1]] * 2
    back = ClassStats.load(both.save(tmp_path / "s.npz"))
    assert back == both
    assert np.array_equal(back.spacing, both.spacing, equal_nan=True)
    assert flat.physical_volume is None
    assert flat.spacing_summary() is None
    with pytest.raises(cw.ClassWeightsError, match="shape"):
        ClassStats.from_counts([[1, 1]], spacing=[[1, 1, 1]])


def test_missing_nibabel_names_the_extra(tmp_path, monkeypatch):
    f = tmp_path / "a.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4)), f)
    monkeypatch.setitem(__import__("sys").modules, "nibabel", None)  # import raises ImportError
    with pytest.raises(cw.ClassWeightsError, match=r"pip install 'classweights\[medical\]'"):
        cw.scan(f, num_classes=2, workers=1)


def test_cli_stats_json_and_table_show_volumes_and_objects(tmp_path):
    from click.testing import CliRunner

    from classweights.cli import cli

    root, vols = _nnunet(tmp_path)
    args = ["stats", str(root / "labelsTr"), "--num-classes", "3", "--objects",
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    r = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    rows = _naive_rows(vols, 3)
    vol = [float(sum(rows[i, c] * np.prod(SPACINGS[i]) for i in range(4))) for c in range(3)]
    assert [c["pixels"] for c in data["classes"]] == rows.sum(0).tolist()  # old fields kept
    assert np.allclose([c["volume_mm3"] for c in data["classes"]], vol)
    assert np.allclose(data["dataset"]["volumes"]["spacing"]["median"],
                       np.median(SPACINGS, axis=0))  # fmt: skip
    ref = [sum(ndimage_count(v, c) for v in vols) for c in range(3)]
    assert [c["objects"] for c in data["classes"]] == ref
    table = CliRunner().invoke(cli, args)
    assert table.exit_code == 0, table.output
    assert "volume mm³" in table.output
    assert "object median" in table.output
    assert "spacing" in table.output
    cmp = CliRunner().invoke(cli, ["compare", *args[1:], "--format", "json"])
    assert cmp.exit_code == 0, cmp.output
    assert "inv_object_size" in json.loads(cmp.stdout)["methods"]


def ndimage_count(v, c):
    from scipy import ndimage

    return ndimage.label(np.asarray(v) == c, structure=np.ones((3, 3, 3)))[1]


def test_label_shares_match_monai_label_stats(tmp_path):
    """MONAI Auto3DSeg's LabelStats (do_ccp=False) on the same volumes: foreground_percentage."""
    pytest.importorskip("monai")
    import torch
    from monai.auto3dseg.analyzer import LabelStats
    from monai.data import MetaTensor

    root, vols = _nnunet(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = cw.scan(root / "labelsTr", num_classes=3)
    analyzer = LabelStats(image_key="image", label_key="label", do_ccp=False)
    for i, v in enumerate(vols):
        lab = MetaTensor(torch.as_tensor(np.asarray(v).astype(np.int64)))
        img = MetaTensor(torch.zeros((1, *v.shape)))
        st = analyzer({"image": img, "label": lab})["label_stats"]
        assert st["labels"] == [0, 1, 2]
        theirs = [x["foreground_percentage"] for x in st["label"]]
        assert np.allclose(s.counts[i] / s.image_total[i], theirs, rtol=1e-6)


def test_layout_nnunet_reads_nifti_volumes_names_and_caches(tmp_path):
    """Issues 20 and 22: `--layout nnunet` on a real labelsTr/*.nii.gz tree with dataset.json."""
    from classweights import cached_scan

    root, vols = _nnunet(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the float32 volume is read as integers, with a note
        s = cw.scan(root, layout="nnunet", workers=1)
        first, info = cached_scan(root, layout="nnunet", cache_dir=tmp_path / "c")
        again, info2 = cached_scan(root, layout="nnunet", cache_dir=tmp_path / "c")
        w = cw.load_weights(root, layout="nnunet", method="inverse_freq", normalize="none",
                            cache_dir=tmp_path / "c")  # fmt: skip
    rows = _naive_rows(vols, 3)
    assert s.class_names == ["background", "liver", "tumour"]
    assert np.array_equal(s.counts, rows)
    assert np.allclose(s.spacing, SPACINGS)
    assert np.array_equal(first.counts, rows) and np.array_equal(again.counts, rows)
    assert info.hit is False and info2.hit is True
    n = rows.sum(0)
    assert np.allclose(w.numpy(), n.sum() / (3 * n))  # sklearn's "balanced" formula
