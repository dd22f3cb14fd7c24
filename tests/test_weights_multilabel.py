"""BCE pos_weight and focal alpha against hand-computed counts of small multi-label masks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from classweights.stats import ClassStats
from classweights.weights import ClassWeightsWarning, focal_alpha, pos_weight


def multilabel_stats(seed=0, n=5, c=3, hw=(6, 8)):
    """Random N x C x H x W binary masks, some pixels ignored in every channel."""
    rng = np.random.default_rng(seed)
    p = np.array([0.5, 0.1, 0.02])[:c]
    masks = rng.random((n, c, *hw)) < p[None, :, None, None]
    ignored = rng.random((n, *hw)) < 0.1
    counts = (masks & ~ignored[:, None]).sum(axis=(2, 3))
    stats = ClassStats.from_counts(
        counts,
        image_total=[hw[0] * hw[1]] * n,
        image_ignored=ignored.sum(axis=(1, 2)),
        multilabel=True,
    )
    return stats, masks, ignored


@pytest.mark.parametrize("seed", range(4))
def test_pos_weight_is_negatives_over_positives(seed):
    stats, masks, ignored = multilabel_stats(seed)
    valid = ~ignored[:, None]
    pos = (masks & valid).sum(axis=(0, 2, 3))
    neg = (~masks & valid).sum(axis=(0, 2, 3))
    assert np.all(pos > 0)
    np.testing.assert_allclose(pos_weight(stats), neg / pos)
    np.testing.assert_allclose(focal_alpha(stats), neg / (pos + neg))


def test_shape_ready_for_bce_with_logits_on_nchw():
    stats, *_ = multilabel_stats()
    pw = pos_weight(stats, spatial_dims=2)
    assert pw.shape == (3, 1, 1)
    logits = np.zeros((2, 3, 6, 8))
    assert np.broadcast_shapes(pw.shape, logits.shape) == logits.shape
    assert focal_alpha(stats, spatial_dims=2).shape == (3, 1, 1)


def test_single_label_stats_are_one_vs_rest():
    s = ClassStats.from_counts([[6, 3, 1]])
    np.testing.assert_allclose(pos_weight(s), [4 / 6, 7 / 3, 9 / 1])
    np.testing.assert_allclose(focal_alpha(s), [0.4, 0.7, 0.9])


@pytest.mark.parametrize(
    ("absent", "value"), [("one", 1.0), ("zero", 0.0), ("max", 9.0), ("mean", 5.25)]
)
def test_absent_positives_get_a_finite_documented_value(absent, value):
    s = ClassStats.from_counts([[10, 0, 40]], image_total=[100], multilabel=True)
    with pytest.warns(ClassWeightsWarning, match="no positives"):
        w = pos_weight(s, absent=absent)
    np.testing.assert_allclose(w, [9.0, value, 1.5])
    with pytest.warns(ClassWeightsWarning, match="0.5"):
        a = focal_alpha(s)
    np.testing.assert_allclose(a, [0.9, 0.5, 0.6])


def test_always_positive_channel_gets_one_not_zero():
    s = ClassStats.from_counts([[100, 10]], image_total=[100], multilabel=True)
    with pytest.warns(ClassWeightsWarning, match="every labelled"):
        w = pos_weight(s)
    np.testing.assert_allclose(w, [1.0, 9.0])


def test_empty_stats_stay_finite():
    for s in (
        ClassStats.from_counts(np.zeros((0, 2), np.int64), multilabel=True),
        ClassStats.from_counts([[0, 0]], image_total=[50], image_ignored=[50], multilabel=True),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ClassWeightsWarning)
            for absent in ("one", "zero", "max", "mean"):
                assert np.all(np.isfinite(pos_weight(s, absent=absent)))
            assert focal_alpha(s).tolist() == [0.5, 0.5]
