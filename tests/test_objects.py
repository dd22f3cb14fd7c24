"""Connected components per class (--objects) against independent counts."""

from __future__ import annotations

import numpy as np
import pytest

import classweights as cw
from classweights import cached_scan
from classweights.errors import ConfigError
from classweights.objects import component_table, object_summary
from classweights.stats import ClassStats

ndimage = pytest.importorskip("scipy.ndimage")


def _reference(masks, num_classes, full=True):
    """Per image and class: sorted component sizes, by scipy on each class's binary mask."""
    out = []
    for m in masks:
        m = np.asarray(m)
        st = ndimage.generate_binary_structure(m.ndim, m.ndim if full else 1)
        per = []
        for c in range(num_classes):
            lab, n = ndimage.label(m == c, structure=st)
            per.append(sorted(np.bincount(lab.ravel())[1:].tolist()) if n else [])
        out.append(per)
    return out


def _ours(stats):
    image, cls, size = component_table(stats)
    return [
        [sorted(size[(image == i) & (cls == c)].tolist()) for c in range(stats.num_classes)]
        for i in range(stats.num_images)
    ]


@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("shape", [(17, 23), (6, 7, 9)])
def test_components_match_scipy_per_class(shape, full):
    rng = np.random.default_rng(len(shape) + full)
    masks = [rng.integers(0, 4, shape).astype(np.uint8) for _ in range(5)]
    masks[1][:] = 2  # one class fills the image (touches every border)
    items = [cw.Volume(m) if m.ndim == 3 else m for m in masks]  # in memory, 3-D is explicit
    s = cw.scan(items, num_classes=5, objects="full" if full else "face", workers=2)
    ref = _reference(masks, 5, full)
    assert _ours(s) == ref
    assert s.object_counts.tolist() == [[len(x) for x in per] for per in ref]
    assert s.object_counts[:, 4].sum() == 0  # an empty class has no objects


def test_diagonal_only_connections_hand_counted():
    eye = np.eye(5, dtype=np.uint8)  # class 1 on the diagonal, touching two corners
    full = cw.scan([eye], num_classes=2, objects=True)
    face = cw.scan([eye], num_classes=2, objects="face")
    # 8-conn: the two background triangles touch across the diagonal; 4-conn: they do not
    assert full.object_counts.tolist() == [[1, 1]]
    assert face.object_counts.tolist() == [[2, 5]]
    cube = np.zeros((3, 3, 3), np.uint8)
    cube[0, 0, 0] = cube[1, 1, 1] = cube[2, 2, 2] = 1  # corner-only contacts in 3-D
    s26 = cw.scan(_save(cube[None]), num_classes=2, objects=True)
    s6 = cw.scan(_save(cube[None]), num_classes=2, objects="face")
    assert s26.object_counts[0, 1] == 1
    assert s6.object_counts[0, 1] == 3
    assert s26.object_sizes.tolist() == [24, 3]
    assert s6.object_sizes.tolist() == [24, 1, 1, 1]


def _save(a):
    import tempfile

    p = f"{tempfile.mkdtemp()}/v.npy"  # a 1 x D x H x W array: one volume
    np.save(p, a)
    return p


def test_objects_are_of_mapped_classes_and_ignored_pixels_are_none():
    m = np.array([[7, 1, 255], [0, 0, 255]], np.uint8)  # 7 -> class 1, beside a raw 1
    s = cw.scan([m], num_classes=2, ignore_index=255, remap={7: 1}, objects=True)
    assert s.object_counts.tolist() == [[1, 1]]
    assert s.object_sizes.tolist() == [2, 2]


def test_summary_against_numpy_and_subsets_without_rereading():
    rng = np.random.default_rng(5)
    masks = [(rng.random((20, 20)) < 0.1).astype(np.uint8) for _ in range(4)]
    s = cw.scan(masks, num_classes=2, objects=True)
    ref = _reference(masks, 2)
    sizes1 = np.array([x for per in ref for x in per[1]], np.float64)
    row = object_summary(s, small=2)[1]
    assert row["objects"] == sizes1.size
    assert row["min"] == sizes1.min()
    assert row["max"] == sizes1.max()
    assert row["median"] == np.median(sizes1)
    assert row["p90"] == np.percentile(sizes1, 90)
    assert row["images_with_small"] == sum(any(x < 2 for x in per[1]) for per in ref)
    boot = s.subset([3, 0, 3])
    again = cw.scan([masks[3], masks[0], masks[3]], num_classes=2, objects=True)
    assert np.array_equal(boot.object_counts, again.object_counts)
    assert np.array_equal(boot.object_sizes, again.object_sizes)
    merged = s.subset([0, 1]) + s.subset([2, 3])
    assert merged == s


def test_volumes_report_object_sizes_in_mm3(tmp_path):
    nib = pytest.importorskip("nibabel")
    a = np.zeros((4, 4, 4), np.uint8)
    a[0, 0, 0] = 1
    a[2:4, 2:4, 2:4] = 1
    nib.save(nib.Nifti1Image(a, np.diag([0.5, 0.5, 2.0, 1.0])), tmp_path / "c.nii.gz")
    s = cw.scan(tmp_path / "c.nii.gz", num_classes=2, objects=True)
    row = object_summary(s, small=2)[1]
    assert (row["min"], row["max"], row["min_mm3"], row["max_mm3"]) == (1, 8, 0.5, 4.0)
    assert row["images_with_small"] == 1


def test_objects_are_part_of_the_cache_key(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    masks = [rng.integers(0, 3, (12, 10)).astype(np.uint8) for _ in range(3)]
    for i, m in enumerate(masks):
        Image.fromarray(m).save(tmp_path / f"m{i}.png")
    kw = {"num_classes": 3, "cache_dir": tmp_path / "cache"}
    plain, i1 = cached_scan(str(tmp_path), glob="*.png", **kw)
    objs, i2 = cached_scan(str(tmp_path), glob="*.png", objects=True, **kw)
    again, i3 = cached_scan(str(tmp_path), glob="*.png", objects=True, **kw)
    assert i1.key != i2.key
    assert not i2.hit
    assert i3.hit
    assert plain.object_counts is None
    assert again == objs
    assert _ours(again) == _reference(masks, 3)
    extra = rng.integers(0, 3, (12, 10)).astype(np.uint8)  # an incremental rescan keeps objects
    Image.fromarray(extra).save(tmp_path / "m1b.png")
    inc, i4 = cached_scan(str(tmp_path), glob="*.png", objects=True, **kw)
    assert i4.incremental is not None
    assert i4.incremental["reused_images"] == 3
    assert _ours(inc) == _reference([masks[0], masks[1], extra, masks[2]], 3)


def test_objects_refused_for_multilabel():
    with pytest.raises(ConfigError, match="objects"):
        cw.scan([np.zeros((2, 4, 4), np.uint8)], multilabel=True, objects=True)
    with pytest.raises(ConfigError, match="objects='diag'"):
        cw.scan([np.zeros((4, 4), np.uint8)], objects="diag")


def test_object_rows_save_and_load(tmp_path):
    s = ClassStats.from_counts([[3, 1], [0, 4]], object_counts=[[1, 1], [0, 2]],
                               object_sizes=[3, 1, 3, 1])  # fmt: skip
    back = ClassStats.load(s.save(tmp_path / "o.npz"))
    assert back == s
    assert back.object_sizes.tolist() == [3, 1, 3, 1]
    with pytest.raises(cw.ClassWeightsError, match="object sizes"):
        ClassStats.from_counts([[1, 1]], object_counts=[[1, 1]], object_sizes=[1])


def test_inv_object_size_weights_hand_computed():
    # class 1: two objects of 1 px (mean size 1); class 0: one region of 14 px
    m = np.zeros((4, 4), np.uint8)
    m[0, 0] = m[3, 3] = 1
    s = cw.scan([m], num_classes=2, objects=True)
    w = cw.compute_weights(s, "inv_object_size", normalize="none")
    assert w.tolist() == [1 / 14, 2 / 2]
    with pytest.raises(ConfigError, match="objects=True"):
        cw.compute_weights(cw.scan([m], num_classes=2), "inv_object_size")
    boot = s.subset([0, 0])  # bootstraps recompute from the stored counts
    assert cw.compute_weights(boot, "inv_object_size", normalize="none").tolist() == w.tolist()


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.uint8, st.tuples(*[st.integers(1, 6)] * 3), elements=st.integers(0, 3)),
    st.booleans(),
    st.booleans(),
)
def test_kernel_matches_scipy_on_drawn_masks(a, full, flat):
    """Run-length union-find vs scipy.ndimage.label, class by class (3 ignored)."""
    from classweights.objects import components

    if flat:
        a = a[0]
    lut = np.array([0, 1, 2, -1])
    cls, size = components(a, lut, "full" if full else "face")
    ours = [sorted(size[cls == c].tolist()) for c in range(3)]
    assert ours == [x for x in _reference([a], 3, full)[0]]


def test_wide_and_signed_labels_take_the_generic_path():
    m = np.array([[-5, 70000, -5], [70000, 0, -5]], np.int64)
    # raw 70000 (above the 16-bit fast path) reaches class 3 through the remap
    s = cw.scan([m], num_classes=4, ignore_index=-5, remap={0: 0, 70000: 3, -5: -5}, objects=True)
    assert s.object_counts.tolist() == [[1, 0, 0, 1]]
    assert s.object_sizes.tolist() == [1, 2]
    b = cw.scan([np.eye(3, dtype=bool)], num_classes=2, objects="face")
    assert b.object_counts.tolist() == [[2, 3]]


def test_csv_and_markdown_with_an_object_free_class(tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from classweights.cli import cli

    Image.fromarray(np.array([[1, 1], [1, 2]], np.uint8)).save(tmp_path / "a.png")  # no class 0
    for fmt in ("csv", "markdown", "json", "table"):
        r = CliRunner().invoke(cli, ["stats", str(tmp_path), "--num-classes", "3", "--objects",
                                     "--no-cache", "--format", fmt])  # fmt: skip
        assert r.exit_code == 0, (fmt, r.output)
        assert "objects" in r.output
    row0 = object_summary(cw.scan([np.array([[1, 1], [1, 2]], np.uint8)], num_classes=3,
                                  objects=True))[0]  # fmt: skip
    assert row0["objects"] == 0
    assert row0["median"] is None


def test_load_weights_with_the_object_method(tmp_path):
    """The object-aware method is validated up front like the others and served by the loader."""
    torch = pytest.importorskip("torch")
    m = np.zeros((4, 4), np.uint8)
    m[0, 0] = m[3, 3] = 1
    np.save(tmp_path / "m.npy", m[None])
    w = cw.load_weights(tmp_path / "m.npy", method="inv_object_size", normalize="none",
                        num_classes=2, objects=True, cache_dir=tmp_path / "c",
                        dtype=torch.float64)  # fmt: skip
    assert w.tolist() == [1 / 14, 2 / 2]  # class 0: one region of 14 px; class 1: two of 1 px
