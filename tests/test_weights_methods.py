"""Every weight method against an independent reference (sklearn, naive loops, paper formulas)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from classweights.errors import ConfigError
from classweights.stats import ClassStats
from classweights.weights import (
    ABSENT_POLICIES,
    NORMALIZE_MODES,
    WEIGHT_METHODS,
    ClassWeightsWarning,
    compute_weights,
    suggest_beta,
)

IGNORE = 255


def random_masks(seed: int, n: int = 6, c: int = 4, shape=(7, 9), p_ignore=0.1):
    """Small label arrays with skewed class frequencies, some ignored pixels, varied sizes."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(c, 0.7))
    masks = []
    for i in range(n):
        h, w = shape[0] + i % 3, shape[1] + i % 2
        m = rng.choice(c, size=(h, w), p=p).astype(np.int64)
        m[rng.random((h, w)) < p_ignore] = IGNORE
        masks.append(m)
    return masks


def stats_of(masks, c: int) -> ClassStats:
    """Count the masks naively (np.bincount per image), independent of the scan engine."""
    counts = [np.bincount(m[m != IGNORE].ravel(), minlength=c) for m in masks]
    ignored = [int((m == IGNORE).sum()) for m in masks]
    total = [m.size for m in masks]
    return ClassStats.from_counts(
        counts, image_total=total, image_ignored=ignored, ignore_index=IGNORE
    )


def quiet(stats, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        return compute_weights(stats, method, **kw)


# ---- inverse frequency vs scikit-learn -----------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_inverse_freq_equals_sklearn_balanced(seed):
    masks = random_masks(seed)
    flat = np.concatenate([m[m != IGNORE] for m in masks])
    classes = np.unique(flat)
    assert len(classes) == 4, "every class present for the sklearn comparison"
    ref = compute_class_weight("balanced", classes=classes, y=flat)
    w = compute_weights(stats_of(masks, 4), "inverse_freq", normalize="none")
    np.testing.assert_allclose(w, ref, rtol=1e-12)
    wm = compute_weights(stats_of(masks, 4), "inverse_freq")
    np.testing.assert_allclose(wm, ref / ref.mean(), rtol=1e-12)


def test_hand_computed_small_case():
    s = ClassStats.from_counts([[60, 30, 10]])
    # freq = [.6, .3, .1]
    np.testing.assert_allclose(
        compute_weights(s, "inverse_freq", normalize="none"), [100 / 180, 100 / 90, 100 / 30]
    )
    np.testing.assert_allclose(
        compute_weights(s, "sqrt_inv_freq", normalize="none"), [0.6**-0.5, 0.3**-0.5, 0.1**-0.5]
    )
    np.testing.assert_allclose(
        compute_weights(s, "power", power=2.0, normalize="none"), [1 / 0.36, 1 / 0.09, 1 / 0.01]
    )
    np.testing.assert_allclose(
        compute_weights(s, "enet", normalize="none"),
        [1 / math.log(1.02 + 0.6), 1 / math.log(1.02 + 0.3), 1 / math.log(1.02 + 0.1)],
    )
    # one image holds every class: freq = share, median = 0.3
    np.testing.assert_allclose(compute_weights(s, "median_freq", normalize="none"), [0.5, 1.0, 3.0])
    assert compute_weights(s, "uniform").tolist() == [1.0, 1.0, 1.0]


# ---- sqrt / power ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
def test_power_family(seed):
    s = stats_of(random_masks(seed), 4)
    freq = np.concatenate([s.counts]).sum(0) / s.counts.sum()
    np.testing.assert_allclose(compute_weights(s, "sqrt_inv_freq", normalize="none"), freq**-0.5)
    np.testing.assert_allclose(
        compute_weights(s, "power", power=0.5), compute_weights(s, "sqrt_inv_freq")
    )
    inv = compute_weights(s, "inverse_freq", normalize="max")
    np.testing.assert_allclose(compute_weights(s, "power", power=1.0, normalize="max"), inv)
    np.testing.assert_allclose(compute_weights(s, "power", power=0.0), np.ones(4))
    np.testing.assert_allclose(
        compute_weights(s, "power", power=0.3, normalize="none"), freq**-0.3, rtol=1e-12
    )


# ---- median frequency vs a naive loop (PyTorch-ENet's median_freq_balancing) --------------
def naive_median_freq(masks, c, *, void_as_class=False, labelled_only=False):
    """Eigen & Fergus: freq_c = pixels_c / pixels of the images containing c; median / freq."""
    k = c + 1 if void_as_class else c
    class_count = np.zeros(k)
    total = np.zeros(k)
    for m in masks:
        flat = m.ravel().copy()
        flat[flat == IGNORE] = c  # the void label as class c (dropped below unless void_as_class)
        bincount = np.bincount(flat, minlength=c + 1)[:k]
        if labelled_only:
            size = (flat != c).sum() if not void_as_class else flat.size
            per_class = np.full(k, size)
            if void_as_class:  # the void's own pixels count as labelled for the void
                per_class[:c] = (flat != c).sum()
        else:
            per_class = np.full(k, flat.size)
        total += (bincount > 0) * per_class
        class_count += bincount
    freq = class_count / total
    return (np.median(freq) / freq)[:c]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("void_as_class", [False, True])
@pytest.mark.parametrize("labelled_only", [False, True])
def test_median_freq_matches_naive_loop(seed, void_as_class, labelled_only):
    masks = random_masks(seed, n=8, c=5)
    # make classes miss some images, so P_c differs between classes
    masks[0][masks[0] == 1] = 0
    masks[1][masks[1] == 2] = IGNORE
    ref = naive_median_freq(masks, 5, void_as_class=void_as_class, labelled_only=labelled_only)
    w = compute_weights(
        stats_of(masks, 5),
        "median_freq",
        normalize="none",
        median_over="all" if void_as_class else "classes",
        median_denominator="labelled" if labelled_only else "all",
    )
    np.testing.assert_allclose(w, ref, rtol=1e-12)


def test_median_freq_segnet_convention_hand_computed():
    # image 0: 8 px, classes {0: 6, 1: 2}; image 1: 8 px, {0: 4, 2: 1}, 3 ignored
    s = ClassStats.from_counts([[6, 2, 0], [4, 0, 1]], image_total=[8, 8], image_ignored=[0, 3])
    freq = np.array([10 / 16, 2 / 8, 1 / 8])
    np.testing.assert_allclose(
        compute_weights(s, "median_freq", normalize="none"), np.median(freq) / freq
    )
    void = 3 / 8
    np.testing.assert_allclose(
        compute_weights(s, "median_freq", normalize="none", median_over="all"),
        np.median([*freq, void]) / freq,
    )
    lab = np.array([10 / 13, 2 / 8, 1 / 5])
    np.testing.assert_allclose(
        compute_weights(s, "median_freq", normalize="none", median_denominator="labelled"),
        np.median(lab) / lab,
    )


def test_median_over_all_without_ignored_pixels_equals_classes():
    s = ClassStats.from_counts([[6, 2, 0], [4, 0, 1]])
    np.testing.assert_allclose(
        compute_weights(s, "median_freq", median_over="all"),
        compute_weights(s, "median_freq", median_over="classes"),
    )


# ---- ENet -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
def test_enet_matches_reference_code(seed):
    masks = random_masks(seed)
    s = stats_of(masks, 4)
    # PyTorch-ENet enet_weighing: bincount over *all* pixels (void as a class), / flat.size
    class_count, total = np.zeros(5), 0
    for m in masks:
        flat = np.where(m == IGNORE, 4, m).ravel()
        class_count += np.bincount(flat, minlength=5)
        total += flat.size
    ref_all = 1 / np.log(1.02 + class_count / total)
    np.testing.assert_allclose(
        compute_weights(s, "enet", normalize="none", enet_share="all"), ref_all[:4]
    )
    p = class_count[:4] / class_count[:4].sum()
    np.testing.assert_allclose(compute_weights(s, "enet", normalize="none"), 1 / np.log(1.02 + p))
    np.testing.assert_allclose(
        compute_weights(s, "enet", normalize="none", enet_c=1.10), 1 / np.log(1.10 + p)
    )


def test_enet_bounds():
    s = ClassStats.from_counts([[10**9, 1]])
    w = compute_weights(s, "enet", normalize="none")
    assert 1 / math.log(2.02) <= w.min()
    assert w.max() <= 1 / math.log(1.02)


# ---- effective number (Cui et al. 2019) ----------------------------------------------------
def cui_reference(samples_per_cls, beta):
    """vandit15/Class-balanced-loss-pytorch, written out."""
    effective_num = 1.0 - np.power(beta, samples_per_cls)
    weights = (1.0 - beta) / np.array(effective_num)
    return weights / np.sum(weights) * len(samples_per_cls)


@pytest.mark.parametrize("beta", [0.0, 0.9, 0.99, 0.999, 0.9999])
def test_effective_num_matches_paper(beta):
    counts = np.array([5000, 700, 30, 2])
    s = ClassStats.from_counts([counts])
    np.testing.assert_allclose(
        compute_weights(s, "effective_num", beta=beta, normalize="sum"),
        cui_reference(counts, beta),
        rtol=1e-10,
    )
    # the paper's sum-to-C equals mean-1 when every class is present
    np.testing.assert_allclose(
        compute_weights(s, "effective_num", beta=beta),
        cui_reference(counts, beta),
        rtol=1e-10,
    )
    raw = (1 - beta) / (1 - np.power(beta, counts.astype(float)))
    np.testing.assert_allclose(
        compute_weights(s, "effective_num", beta=beta, normalize="none"), raw, rtol=1e-10
    )


def test_effective_num_image_counts():
    # images containing each class: [4, 2, 1]
    s = ClassStats.from_counts([[100, 5, 0], [100, 0, 0], [100, 7, 0], [100, 0, 9]])
    beta = 0.5
    np.testing.assert_allclose(
        compute_weights(s, "effective_num", count="images", beta=beta),
        cui_reference(np.array([4, 2, 1]), beta),
    )


def test_effective_num_pixel_counts_flat_warning_names_a_beta():
    s = ClassStats.from_counts([[10**7, 10**8, 3 * 10**6]])
    with pytest.warns(ClassWeightsWarning, match=r"flat.*beta=0\.99999999") as rec:
        w = compute_weights(s, "effective_num", beta=0.9999)  # the paper's value: degenerate
    np.testing.assert_allclose(w, 1.0, atol=1e-6)
    beta = suggest_beta(s.pixels)
    assert f"beta={beta!r}" in str(rec[0].message)
    spread = compute_weights(s, "effective_num", beta=beta)
    assert spread.max() / spread.min() > 10
    # the suggested beta moves rare classes towards inverse frequency: ordering as inverse
    assert np.argsort(spread).tolist() == np.argsort(1 / s.pixels).tolist()


def test_effective_num_default_beta_is_auto_and_not_degenerate():
    """Issue 20: `compare` showed a column of 1s. The default is 1 - 1/max n_c."""
    counts = np.array([10**7, 10**8, 3 * 10**6])
    s = ClassStats.from_counts([counts])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = compute_weights(s, "effective_num", normalize="sum")
    np.testing.assert_allclose(w, cui_reference(counts, 1 - 1 / 10**8), rtol=1e-9)
    assert w.max() / w.min() > 10
    images = compute_weights(s, "effective_num", count="images", normalize="sum")
    np.testing.assert_allclose(images, 1.0)  # one image each: equal counts, equal weights


def test_effective_num_no_warning_when_counts_equal():
    s = ClassStats.from_counts([[10**7, 10**7]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_weights(s, "effective_num")


def test_effective_num_log_space_stays_accurate_near_one():
    # beta**n with beta = 1 - 1e-12 and n = 1: naive 1 - beta**n loses digits
    s = ClassStats.from_counts([[1, 2]])
    w = compute_weights(s, "effective_num", beta=1 - 1e-12, normalize="none")
    np.testing.assert_allclose(w, [1.0, 0.5], rtol=1e-9)


# ---- uniform / manual -----------------------------------------------------------------------
def test_manual_mapping_sequence_and_names():
    s = ClassStats.from_counts([[5, 5, 5]], class_names=["road", "car", "sky"])
    assert compute_weights(s, "manual", manual={1: 3.0}, normalize="none").tolist() == [1, 3, 1]
    assert compute_weights(s, "manual", manual={"sky": 2}, normalize="max").tolist() == [
        0.5,
        0.5,
        1,
    ]
    assert compute_weights(s, "manual", manual=[1, 2, 3], normalize="sum").tolist() == [0.5, 1, 1.5]
    with pytest.raises(ConfigError, match="road, car, sky"):
        compute_weights(s, "manual", manual={"bus": 1})
    with pytest.raises(ConfigError, match="num_classes=3"):
        compute_weights(s, "manual", manual=[1, 2])
    with pytest.raises(ConfigError, match=">= 0"):
        compute_weights(s, "manual", manual=[1, -2, 1])
    with pytest.raises(ConfigError, match="manual="):
        compute_weights(s, "manual")


# ---- normalisation, clipping, absent classes ----------------------------------------------
def test_normalize_modes():
    s = ClassStats.from_counts([[50, 30, 15, 5]])
    raw = compute_weights(s, "inverse_freq", normalize="none")
    np.testing.assert_allclose(compute_weights(s, "inverse_freq"), raw / raw.mean())
    np.testing.assert_allclose(
        compute_weights(s, "inverse_freq", normalize="sum"), 4 * raw / raw.sum()
    )
    np.testing.assert_allclose(compute_weights(s, "inverse_freq", normalize="max"), raw / raw.max())


def test_clip_then_optional_renormalize():
    s = ClassStats.from_counts([[50, 30, 15, 5]])
    mean1 = compute_weights(s, "inverse_freq")
    w = compute_weights(s, "inverse_freq", clip=(0.5, 2.0))
    np.testing.assert_allclose(w, np.clip(mean1, 0.5, 2.0))
    w2 = compute_weights(s, "inverse_freq", clip=(0.5, 2.0), renormalize=True)
    np.testing.assert_allclose(w2, w / w.mean())
    w3 = compute_weights(s, "inverse_freq", clip=(None, 1.0))
    np.testing.assert_allclose(w3, np.minimum(mean1, 1.0))


@pytest.mark.parametrize(("absent", "expected"), [("zero", 0.0), ("max", "max"), ("mean", "mean")])
def test_absent_policy(absent, expected):
    s = ClassStats.from_counts([[60, 0, 30, 10]], class_names=["a", "b", "c", "d"])
    with pytest.warns(ClassWeightsWarning, match=r"1 \(b\)"):
        w = compute_weights(s, "inverse_freq", absent=absent)
    present = np.array([0, 2, 3])
    ref = 1 / np.array([0.6, 0.3, 0.1])
    np.testing.assert_allclose(w[present], ref / ref.mean())  # normalised over present only
    val = {"zero": 0.0, "max": w[present].max(), "mean": w[present].mean()}[absent]
    assert w[1] == pytest.approx(val)


def test_absent_classes_excluded_from_median():
    s = ClassStats.from_counts([[60, 0, 30, 10]])
    w = quiet(s, "median_freq", normalize="none")
    freq = np.array([0.6, 0.3, 0.1])
    np.testing.assert_allclose(w[[0, 2, 3]], np.median(freq) / freq)


def test_sum_normalisation_targets_num_classes_with_absent_classes():
    s = ClassStats.from_counts([[60, 0, 30, 10]])
    w = quiet(s, "sqrt_inv_freq", normalize="sum")
    assert w.sum() == pytest.approx(4.0)


# ---- bad options ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "listed"),
    [
        ({"method": "balanced"}, "inverse_freq, sqrt_inv_freq"),
        ({"normalize": "l1"}, "mean, sum, max, none"),
        ({"absent": "error"}, "zero, one, max, mean"),
        ({"count": "voxels"}, "pixels, images"),
        ({"median_over": "void"}, "classes, all"),
        ({"median_denominator": "valid"}, "all, labelled"),
        ({"enet_share": "total"}, "labelled, all"),
        ({"beta": 1.0}, "0 <= beta < 1"),
        ({"enet_c": 1.0}, "c > 1"),
        ({"clip": (2, 1)}, "swap"),
        ({"clip": 3}, "pair"),
        ({"power": float("inf")}, "finite"),
    ],
)
def test_bad_options_raise_config_error(kwargs, listed):
    s = ClassStats.from_counts([[1, 2]])
    kw = {"method": "sqrt_inv_freq", **kwargs}
    with pytest.raises(ConfigError, match=listed):
        compute_weights(s, **kw)


def test_overflow_without_normalisation_is_an_error_not_inf():
    s = ClassStats.from_counts([[2**60, 1]])
    with pytest.raises(ConfigError, match="normalize='max'"):
        compute_weights(s, "power", power=40.0, normalize="none")
    w = compute_weights(s, "power", power=40.0, normalize="max")
    assert np.all(np.isfinite(w))
    assert w.max() == 1.0


# ---- the no-NaN sweep -----------------------------------------------------------------------
def _sweep_datasets():
    big = np.array(
        [[2**62, 2**61, 1], [2**62 - 7, 3, 2**61]], dtype=np.int64
    )  # column sums > 2**63
    return {
        "zero_counts": ClassStats.from_counts(np.zeros((3, 4), np.int64), image_ignored=[5, 0, 1]),
        "no_images": ClassStats.from_counts(np.zeros((0, 3), np.int64)),
        "one_class": ClassStats.from_counts([[7], [3]]),
        "one_of_three": ClassStats.from_counts([[0, 9, 0], [0, 4, 0]], image_ignored=[2, 0]),
        "one_pixel": ClassStats.from_counts([[0, 1]]),
        "near_2_62": ClassStats.from_counts(big),
        "all_ignored": ClassStats.from_counts([[0, 0]], image_ignored=[100]),
    }


@pytest.mark.parametrize("dataset", list(_sweep_datasets()))
def test_no_nan_or_inf_ever(dataset):
    s = _sweep_datasets()[dataset]
    extra = [
        {},
        {"clip": (0.1, 10.0)},
        {"clip": (0.1, 10.0), "renormalize": True},
        {"median_over": "all", "median_denominator": "labelled"},
        {"count": "images", "enet_share": "all"},
    ]
    for method in WEIGHT_METHODS:
        for normalize in NORMALIZE_MODES:
            for absent in ABSENT_POLICIES:
                for kw in extra:
                    manual = [1.0 + i for i in range(s.num_classes)] if method == "manual" else None
                    w = quiet(s, method, normalize=normalize, absent=absent, manual=manual, **kw)
                    assert w.dtype == np.float64
                    assert w.shape == (s.num_classes,)
                    assert np.all(np.isfinite(w)), (method, normalize, absent, kw, w)
                    assert np.all(w >= 0)


def test_near_2_62_values_are_right():
    big = np.array([[2**62, 2**61, 1], [2**62 - 7, 3, 2**61]], dtype=np.int64)
    s = ClassStats.from_counts(big)
    pixels = big.astype(float).sum(0)
    ref = pixels.sum() / (3 * pixels)
    np.testing.assert_allclose(
        compute_weights(s, "inverse_freq", normalize="none"), ref, rtol=1e-12
    )


def test_ignore_index_is_never_a_class():
    masks = random_masks(0, p_ignore=0.4)
    s = stats_of(masks, 4)
    for method in WEIGHT_METHODS:
        manual = [1, 2, 3, 4] if method == "manual" else None
        assert compute_weights(s, method, manual=manual, median_over="all").shape == (4,)


def test_log_count_is_one_over_log_of_the_pixel_count():
    """OCNet/HRNet's description: w_c = 1/log(n_c); we use ln(1 + n_c) (finite at n_c = 1)."""
    import math

    from classweights.stats import ClassStats
    from classweights.weights import compute_weights

    counts = [1_000_000, 20_000, 1]
    s = ClassStats.from_counts([counts])
    raw = compute_weights(s, "log_count", normalize="none")
    expected = [1 / math.log(1 + n) for n in counts]
    np.testing.assert_allclose(raw, expected, rtol=1e-12)
    l1 = compute_weights(s, "log_count", normalize="sum") / 3  # L1-normalised, as the authors say
    np.testing.assert_allclose(l1, np.array(expected) / sum(expected), rtol=1e-12)
