"""Image-level rebalancing against naive per-image loops, and the exposure summary by simulation."""

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import classweights as cw
from classweights import ClassStats, ConfigError
from classweights.rebalance import (
    SAMPLING_METHODS,
    class_repeat_factors,
    epoch_indices,
    exposure_summary,
    repeat_factors,
    sampling_weights,
    stochastic_repeats,
)
from classweights.weights import ClassWeightsWarning, compute_weights

# rows: images, columns: classes; row 4 has no class (every pixel ignored), class 3 is absent
TABLE = [
    [50, 10, 0, 0],
    [60, 0, 0, 0],
    [40, 0, 5, 0],
    [70, 0, 0, 0],
    [0, 0, 0, 0],
    [30, 20, 0, 0],
    [80, 0, 0, 0],
    [10, 0, 1, 0],
]
IGNORED = [0, 0, 0, 0, 64, 3, 0, 0]


def stats_of(table, ignored=None):
    return ClassStats.from_counts(
        table, image_ignored=ignored, sources=[f"m/{i:03d}.png" for i in range(len(table))]
    )


# ---- naive references: one image, one class at a time ---------------------------------------
def naive_repeat_factors(table, t, frequency="images"):
    n, c = len(table), len(table[0])
    labelled = sum(sum(row) for row in table)
    rc = []
    for k in range(c):
        if frequency == "images":
            f = sum(1 for row in table if row[k] > 0) / n
        else:
            f = sum(row[k] for row in table) / labelled if labelled else 0.0
        rc.append(max(1.0, math.sqrt(t / f)) if f > 0 else 1.0)
    out = []
    for row in table:
        present = [rc[k] for k in range(c) if row[k] > 0]
        out.append(max(present) if present else 1.0)  # detectron2: max(..., default=1.0)
    return out


def naive_class_presence(table, w, reduce="sum"):
    rows = []
    for row in table:
        present = [w[k] for k in range(len(row)) if row[k] > 0]
        if not present:
            rows.append(None)
        else:
            rows.append(sum(present) if reduce == "sum" else max(present))
    occurring = [w[k] for k in range(len(w)) if any(row[k] > 0 for row in table)]
    floor = min(occurring) if occurring else 1.0
    return [floor if v is None else v for v in rows]


def naive_exposure(table, w, draw="weighted", m=None):
    n = len(table)
    m = n if m is None else m
    total = sum(w)
    after = []
    for k in range(len(table[0])):
        s = sum(w[i] for i in range(n) if table[i][k] > 0)
        after.append(m * s / total if draw == "weighted" else s)
    return after


# ---- repeat_factor --------------------------------------------------------------------------
@pytest.mark.parametrize("t", [0.0, 0.1, 0.3, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("frequency", ["images", "pixels"])
def test_repeat_factor_matches_naive(t, frequency):
    s = stats_of(TABLE, IGNORED)
    got = sampling_weights(s, "repeat_factor", threshold=t, frequency=frequency)
    assert got.dtype == np.float64
    assert got.shape == (len(TABLE),)
    np.testing.assert_allclose(got, naive_repeat_factors(TABLE, t, frequency), rtol=1e-12)
    np.testing.assert_array_equal(got, repeat_factors(s, t, frequency))


def test_repeat_factor_hand_computed():
    # class 1 in 2 of 8 images: f = 1/4, r = sqrt(0.5 / 0.25) = sqrt(2); class 2 likewise
    s = stats_of(TABLE, IGNORED)
    rc = class_repeat_factors(s, threshold=0.5)
    np.testing.assert_allclose(rc, [1.0, math.sqrt(2), math.sqrt(2), 1.0])
    r = repeat_factors(s, threshold=0.5)
    np.testing.assert_allclose(
        r, [math.sqrt(2), 1, math.sqrt(2), 1, 1, math.sqrt(2), 1, math.sqrt(2)]
    )


def test_image_without_any_class_gets_factor_one_and_absent_classes_stay_finite():
    s = stats_of(TABLE, IGNORED)
    for t in (0.1, 10.0, 1e6):
        for frequency in ("images", "pixels"):
            rc = class_repeat_factors(s, t, frequency)
            assert np.all(np.isfinite(rc))
            assert rc[3] == 1.0
            assert repeat_factors(s, t, frequency)[4] == 1.0  # image 4: all ignored
    empty = stats_of([[0, 0], [0, 0]], [5, 5])
    assert repeat_factors(empty, 0.5).tolist() == [1.0, 1.0]
    assert class_repeat_factors(empty, 0.5).tolist() == [1.0, 1.0]
    none = ClassStats.from_counts(np.zeros((0, 3), np.int64))
    assert repeat_factors(none).shape == (0,)


def test_threshold_zero_turns_repeat_factor_sampling_off():
    assert repeat_factors(stats_of(TABLE, IGNORED), 0.0).tolist() == [1.0] * len(TABLE)


# ---- class_presence ---------------------------------------------------------------------------
@pytest.mark.parametrize("reduce", ["sum", "max"])
def test_class_presence_inverse_freq_hand_computed(reduce):
    s = stats_of(TABLE, IGNORED)
    labelled = sum(map(sum, TABLE))
    pixels = [sum(row[k] for row in TABLE) for k in range(4)]
    w = [labelled / (4 * p) if p else 0.0 for p in pixels]  # N / (C n_c), absent -> 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        got = sampling_weights(
            s, "class_presence", reduce=reduce, weight_method="inverse_freq", normalize="none"
        )
    np.testing.assert_allclose(got, naive_class_presence(TABLE, w, reduce), rtol=1e-12)
    # image 4 has no class: the smallest weight of a class that occurs (class 0's)
    assert got[4] == pytest.approx(w[0])
    assert np.all(np.isfinite(got))


@pytest.mark.parametrize(
    "method", ["sqrt_inv_freq", "median_freq", "effective_num", "enet", "uniform"]
)
@pytest.mark.parametrize("absent", ["zero", "max"])
def test_class_presence_any_weight_method_matches_naive(method, absent):
    s = stats_of(TABLE, IGNORED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        w = compute_weights(s, method, absent=absent, normalize="max")
        got = sampling_weights(
            s, "class_presence", weight_method=method, absent=absent, normalize="max"
        )
    np.testing.assert_allclose(got, naive_class_presence(TABLE, w.tolist()), rtol=1e-12)


def test_class_presence_with_no_class_anywhere_is_uniform():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        got = sampling_weights(stats_of([[0, 0], [0, 0]], [4, 4]), "class_presence")
    assert got.tolist() == [1.0, 1.0]


table_strategy = st.integers(1, 9).flatmap(
    lambda n: st.integers(1, 5).flatmap(
        lambda c: st.lists(
            st.lists(st.sampled_from([0, 0, 0, 1, 2, 7, 100]), min_size=c, max_size=c),
            min_size=n,
            max_size=n,
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(
    table=table_strategy,
    t=st.sampled_from([0.0, 0.05, 0.3, 1.0, 4.0]),
    reduce=st.sampled_from(["sum", "max"]),
)
def test_random_tables_match_naive_and_stay_finite(table, t, reduce):
    s = stats_of(table)
    for frequency in ("images", "pixels"):
        got = sampling_weights(s, "repeat_factor", threshold=t, frequency=frequency)
        np.testing.assert_allclose(got, naive_repeat_factors(table, t, frequency), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        w = compute_weights(s, "sqrt_inv_freq")
        got = sampling_weights(s, "class_presence", reduce=reduce)
    np.testing.assert_allclose(got, naive_class_presence(table, w.tolist(), reduce), rtol=1e-12)
    assert np.all(np.isfinite(got))
    assert got.sum() > 0
    e = exposure_summary(s, got)
    assert all(math.isfinite(c["after"]) and math.isfinite(c["after_share"]) for c in e["classes"])


def test_permuting_images_permutes_the_weights():
    rng = np.random.default_rng(1)
    perm = rng.permutation(len(TABLE))
    s = stats_of(TABLE, IGNORED)
    for method in SAMPLING_METHODS:
        a = sampling_weights(s, method)
        b = sampling_weights(s.subset(perm), method)
        np.testing.assert_allclose(b, a[perm], rtol=1e-12)


# ---- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"method": "lvis"}, "repeat_factor, class_presence"),
        ({"frequency": "masks"}, "images, pixels"),
        ({"method": "class_presence", "reduce": "mean"}, "sum, max"),
        ({"threshold": -0.1}, ">= 0"),
        ({"threshold": float("nan")}, ">= 0"),
        ({"threshold": "high"}, ">= 0"),
        ({"normalize": "max"}, "class_presence"),
        ({"method": "class_presence", "weight_method": "focal"}, "inverse_freq"),
        (
            {"method": "class_presence", "weight_method": "manual", "manual": [0, 0, 0, 0]},
            "weight 0",
        ),
    ],
)
def test_bad_options_raise_config_error_naming_valid_values(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        sampling_weights(stats_of(TABLE, IGNORED), **kwargs)


def test_bad_factors_seeds_and_weights_raise():
    with pytest.raises(ConfigError, match="finite and >= 0"):
        stochastic_repeats([1.0, -1.0])
    with pytest.raises(ConfigError, match="finite and >= 0"):
        epoch_indices([1.0, np.inf])
    with pytest.raises(ConfigError, match="1-D"):
        stochastic_repeats([[1.0]])
    with pytest.raises(ConfigError, match="seed"):
        stochastic_repeats([1.0], seed=-1)
    with pytest.raises(ConfigError, match="epoch"):
        stochastic_repeats([1.0], epoch=1.5)
    s = stats_of(TABLE, IGNORED)
    with pytest.raises(ConfigError, match="8 images"):
        exposure_summary(s, [1.0, 2.0])
    with pytest.raises(ConfigError, match="weighted, repeat"):
        exposure_summary(s, np.ones(8), draw="uniform")
    with pytest.raises(ConfigError, match="sum to 0"):
        exposure_summary(s, np.zeros(8))
    with pytest.raises(ConfigError, match="draw='weighted' only"):
        exposure_summary(s, np.ones(8), draw="repeat", num_samples=3)


# ---- stochastic rounding ------------------------------------------------------------------------
def test_stochastic_repeats_round_to_floor_or_ceil_with_mean_r():
    r = np.array([0.0, 0.3, 1.0, 1.25, 2.5, 3.9, 7.0])
    draws = np.stack([stochastic_repeats(r, seed=0, epoch=e) for e in range(4000)])
    assert draws.dtype == np.int64
    assert np.all((draws == np.floor(r)) | (draws == np.ceil(r)))
    # Bernoulli(frac) mean over 4000 epochs: standard error <= 0.5 / sqrt(4000) = 0.008
    np.testing.assert_allclose(draws.mean(axis=0), r, atol=0.03)
    exact = r == np.floor(r)
    assert np.all(draws[:, exact] == r[exact])


def test_stochastic_repeats_are_seeded_by_seed_and_epoch():
    r = np.full(200, 1.5)
    a = stochastic_repeats(r, seed=3, epoch=5)
    np.testing.assert_array_equal(a, stochastic_repeats(r, seed=3, epoch=5))
    assert not np.array_equal(a, stochastic_repeats(r, seed=3, epoch=6))
    assert not np.array_equal(a, stochastic_repeats(r, seed=4, epoch=5))


def test_epoch_indices_repeat_each_image_as_stochastic_repeats():
    r = repeat_factors(stats_of(TABLE, IGNORED), threshold=2.0)
    for epoch in range(5):
        reps = stochastic_repeats(r, seed=7, epoch=epoch)
        idx = epoch_indices(r, seed=7, epoch=epoch)
        np.testing.assert_array_equal(np.bincount(idx, minlength=len(r)), reps)
        np.testing.assert_array_equal(
            epoch_indices(r, seed=7, epoch=epoch, shuffle=False), np.repeat(np.arange(len(r)), reps)
        )


# ---- exposure summary, checked by simulation ---------------------------------------------------
SIM_EPOCHS = 4000


def _weights_for(s):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        return {
            "repeat_factor": sampling_weights(s, "repeat_factor", threshold=0.6),
            "class_presence": sampling_weights(
                s, "class_presence", reduce="max", weight_method="inverse_freq"
            ),
        }


@pytest.mark.parametrize("method", SAMPLING_METHODS)
@pytest.mark.parametrize("m", [None, 20])
def test_weighted_exposure_matches_simulated_weighted_sampling(method, m):
    s = stats_of(TABLE, IGNORED)
    w = _weights_for(s)[method]
    e = exposure_summary(s, w, num_samples=m)
    n = len(TABLE)
    draws_per_epoch = n if m is None else m
    np.testing.assert_allclose(
        [c["after"] for c in e["classes"]], naive_exposure(TABLE, w, m=m), rtol=1e-12
    )
    contains = np.asarray(TABLE) > 0
    rng = np.random.default_rng(0)
    seen = np.zeros(contains.shape[1])
    distinct = 0
    for _ in range(SIM_EPOCHS):
        draws = rng.choice(n, draws_per_epoch, p=w / w.sum())
        seen += contains[draws].sum(axis=0)
        distinct += len(np.unique(draws))
    np.testing.assert_allclose([c["after"] for c in e["classes"]], seen / SIM_EPOCHS, atol=0.1)
    assert e["distinct_images"] == pytest.approx(distinct / SIM_EPOCHS, abs=0.1)
    assert e["epoch_length"] == draws_per_epoch
    assert e["images"] == n
    assert [c["before"] for c in e["classes"]] == contains.sum(axis=0).tolist()
    assert e["classes"][3]["after"] == 0.0
    assert e["classes"][3]["after_share"] == 0.0


def test_repeat_exposure_matches_simulated_repeat_epochs():
    s = stats_of(TABLE, IGNORED)
    r = repeat_factors(s, threshold=0.6)
    e = exposure_summary(s, r, draw="repeat")
    np.testing.assert_allclose(
        [c["after"] for c in e["classes"]], naive_exposure(TABLE, r, "repeat"), rtol=1e-12
    )
    contains = (np.asarray(TABLE) > 0).astype(np.int64)
    reps = np.stack([stochastic_repeats(r, seed=0, epoch=k) for k in range(SIM_EPOCHS)])
    np.testing.assert_allclose(
        [c["after"] for c in e["classes"]], (reps @ contains).mean(axis=0), atol=0.05
    )
    assert e["epoch_length"] == pytest.approx(reps.sum(axis=1).mean(), abs=0.05)
    assert e["distinct_images"] == pytest.approx((reps > 0).sum(axis=1).mean(), abs=0.05)
    shares = [c["after_share"] for c in e["classes"]]
    np.testing.assert_allclose(
        shares, np.asarray([c["after"] for c in e["classes"]]) / e["epoch_length"]
    )


def test_exposure_through_torch_weighted_random_sampler():
    torch = pytest.importorskip("torch")
    from torch.utils.data import WeightedRandomSampler

    s = stats_of(TABLE, IGNORED)
    sw = sampling_weights(s, "repeat_factor", threshold=0.6)
    e = exposure_summary(s, sw)
    sampler = WeightedRandomSampler(torch.as_tensor(sw), num_samples=len(sw), replacement=True,
                                    generator=torch.Generator().manual_seed(0))  # fmt: skip
    contains = np.asarray(TABLE) > 0
    seen = sum(contains[list(sampler)].sum(axis=0) for _ in range(2000)) / 2000
    np.testing.assert_allclose([c["after"] for c in e["classes"]], seen, atol=0.12)


def test_uniform_weights_reproduce_the_plain_epoch():
    s = stats_of(TABLE, IGNORED)
    e = exposure_summary(s, np.ones(len(TABLE)))
    assert [c["after"] for c in e["classes"]] == pytest.approx([c["before"] for c in e["classes"]])
    assert [c["after_share"] for c in e["classes"]] == pytest.approx(
        [c["before_share"] for c in e["classes"]]
    )


def test_exposure_of_an_empty_scan_is_zero_not_nan():
    s = ClassStats.from_counts(np.zeros((0, 2), np.int64))
    e = exposure_summary(s, sampling_weights(s))
    assert e["epoch_length"] == 0
    assert e["distinct_images"] == 0.0
    assert all(c["after"] == 0 and c["after_share"] == 0 for c in e["classes"])


# ---- package surface --------------------------------------------------------------------------
def test_top_level_export_when_registered():
    if not hasattr(cw, "sampling_weights"):
        pytest.skip("classweights.sampling_weights is added to _LAZY by the lead")
    s = stats_of(TABLE, IGNORED)
    np.testing.assert_array_equal(
        cw.sampling_weights(s, threshold=0.3), sampling_weights(s, threshold=0.3)
    )


def test_rebalance_imports_neither_torch_nor_rich():
    code = "import sys, classweights.rebalance; assert not {'torch', 'rich'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
