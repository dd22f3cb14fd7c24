"""Hypothesis invariants: scale invariance of normalised weights, permutation of images."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from classweights.stats import ClassStats
from classweights.weights import NORMALIZE_MODES, ClassWeightsWarning, compute_weights

# methods whose normalised weights depend only on ratios of counts
SCALE_FREE = [
    ("inverse_freq", {}),
    ("sqrt_inv_freq", {}),
    ("power", {"power": 0.7}),
    ("median_freq", {}),
    ("median_freq", {"median_over": "all", "median_denominator": "labelled"}),
    ("enet", {}),
    ("enet", {"enet_share": "all"}),
    ("effective_num", {"count": "images"}),  # image counts do not scale with pixels
    ("uniform", {}),
]

tables = st.integers(1, 6).flatmap(
    lambda c: st.tuples(
        arrays(np.int64, st.tuples(st.integers(1, 8), st.just(c)), elements=st.integers(0, 10**6)),
        st.integers(0, 3),
    )
)


def make(counts, ignored_seed, k=1):
    rng = np.random.default_rng(ignored_seed)
    ign = rng.integers(0, 50, counts.shape[0]) * (ignored_seed > 0)
    return ClassStats.from_counts(counts * k, image_ignored=ign * k)


def weights(stats, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        return compute_weights(stats, method, **kw)


@settings(max_examples=60, deadline=None)
@given(
    tables,
    st.integers(2, 1000),
    st.sampled_from(["mean", "sum", "max"]),
    st.sampled_from(SCALE_FREE),
)
def test_normalised_weights_are_scale_invariant(table, k, normalize, method_kw):
    counts, seed = table
    method, kw = method_kw
    if method == "enet":
        normalize = "none"  # ENet's share is scale-free even unnormalised
    a = weights(make(counts, seed), method, normalize=normalize, **kw)
    b = weights(make(counts, seed, k), method, normalize=normalize, **kw)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    tables,
    st.integers(0, 2**32 - 1),
    st.sampled_from(NORMALIZE_MODES),
    st.sampled_from([*SCALE_FREE, ("effective_num", {}), ("effective_num", {"beta": 0.99})]),
)
def test_permuting_images_does_not_change_weights(table, perm_seed, normalize, method_kw):
    counts, seed = table
    method, kw = method_kw
    s = make(counts, seed)
    perm = np.random.default_rng(perm_seed).permutation(s.num_images)
    np.testing.assert_allclose(
        weights(s, method, normalize=normalize, **kw),
        weights(s.subset(perm), method, normalize=normalize, **kw),
        rtol=1e-12,
        atol=0,
    )


@settings(max_examples=40, deadline=None)
@given(tables, st.sampled_from(["zero", "max", "mean"]))
def test_weights_are_finite_nonnegative_and_normalised(table, absent):
    counts, seed = table
    s = make(counts, seed)
    present = s.pixels > 0
    for method, kw in SCALE_FREE:
        w = weights(s, method, absent=absent, **kw)
        assert np.all(np.isfinite(w))
        assert np.all(w >= 0)
        if present.any():
            assert w[present].mean() == pytest.approx(1.0)
