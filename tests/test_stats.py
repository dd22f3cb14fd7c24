"""ClassStats: merging, subsets and lossless save/load."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import classweights as cw
from classweights.stats import ClassStats

rows = st.lists(st.lists(st.integers(0, 2**40), min_size=3, max_size=3), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(a=rows, b=rows)
def test_merge_is_addition_of_counts(a, b):
    sa, sb = ClassStats.from_counts(a), ClassStats.from_counts(b)
    m = sa + sb
    np.testing.assert_array_equal(
        m.pixels, np.array(a, np.int64).sum(0) + np.array(b, np.int64).sum(0)
    )
    np.testing.assert_array_equal(m.images, sa.images + sb.images)
    np.testing.assert_array_equal(m.image_pixels, sa.image_pixels + sb.image_pixels)
    assert m.num_images == len(a) + len(b)


@settings(max_examples=30, deadline=None)
@given(a=rows, seed=st.integers(0, 100))
def test_permutation_invariance(a, seed):
    s = ClassStats.from_counts(a)
    perm = np.random.default_rng(seed).permutation(len(a))
    p = s.subset(perm)
    for attr in ("pixels", "images", "image_pixels", "image_labelled_pixels"):
        np.testing.assert_array_equal(getattr(s, attr), getattr(p, attr))


def test_hand_built_quantities():
    s = ClassStats.from_counts([[10, 0, 5], [0, 0, 7]], image_ignored=[5, 3], ignore_index=255)
    assert s.pixels.tolist() == [10, 0, 12]
    assert s.images.tolist() == [1, 0, 2]
    assert s.image_pixels.tolist() == [20, 0, 30]  # ignored pixels included
    assert s.image_labelled_pixels.tolist() == [15, 0, 22]
    assert s.labelled_pixels == 22 and s.ignored_pixels == 8 and s.total_pixels == 30
    np.testing.assert_allclose(s.share, [10 / 22, 0, 12 / 22])


def test_save_load_roundtrip(tmp_path, scenes):
    s = cw.scan(scenes, num_classes=19, ignore_index=255, classes="cityscapes", sample=4, seed=2)
    s.unknown_values = {"40": 3}
    s.skipped = [("x.png", "x.png: broken")]
    p = s.save(tmp_path / "stats.npz")
    t = ClassStats.load(p)
    assert t == s and t.class_names == s.class_names and t.sample == s.sample
    assert t.counts.dtype == s.counts.dtype and t.skipped == s.skipped and t.settings == s.settings
    assert not list(tmp_path.glob("*.tmp"))


def test_compact_dtype_and_incompatible_merge():
    s = ClassStats.from_counts([[1, 2]])
    assert s.counts.dtype == np.uint16
    assert ClassStats.from_counts([[2**33, 0]]).counts.dtype == np.uint64
    with pytest.raises(cw.ClassWeightsError, match="num_classes"):
        s + ClassStats.from_counts([[1, 2, 3]])
