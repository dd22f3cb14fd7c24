"""Bootstrap intervals and the auto-sampling loop: against naive resampling and by coverage."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from classweights.errors import ConfigError
from classweights.stats import ClassStats
from classweights.weights import (
    ClassWeightsWarning,
    auto_sample,
    bootstrap_intervals,
    compute_weights,
    diagnose,
)
from classweights.weights.bootstrap import _replicate_weights
from classweights.weights.options import _options


def population(n=3000, c=8, seed=0):
    """Synthetic per-image table: classes with lognormal sizes and varied presence rates."""
    rng = np.random.default_rng(seed)
    presence = np.linspace(0.98, 0.08, c)
    scale = np.exp(rng.normal(9, 1.5, c))
    present = rng.random((n, c)) < presence
    present[:, 0] = True
    size = rng.lognormal(np.log(scale), 1.0, (n, c))
    counts = np.where(present, np.maximum(size, 1), 0).astype(np.int64)
    ignored = rng.integers(0, 2000, n) * (rng.random(n) < 0.5)
    return ClassStats.from_counts(counts, image_ignored=ignored)


def quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        return fn(*a, **kw)


@pytest.mark.parametrize(
    ("method", "kw"),
    [
        ("sqrt_inv_freq", {}),
        ("inverse_freq", {"normalize": "none"}),
        ("median_freq", {"median_over": "all"}),
        ("effective_num", {"count": "images", "beta": 0.99}),
        ("enet", {"enet_share": "all"}),
        ("power", {"power": 1.5, "normalize": "max", "clip": (0.01, 0.9)}),
    ],
)
def test_vectorised_replicates_equal_naive_recomputation(method, kw):
    full = population(n=60, c=5, seed=3)
    rng = np.random.default_rng(1)
    rows = [rng.integers(0, full.num_images, full.num_images) for _ in range(20)]
    mult = np.stack([np.bincount(r, minlength=full.num_images) for r in rows]).astype(float)
    wb = _replicate_weights(full, _options(method, **kw), mult)
    for r, wr in zip(rows, wb, strict=False):
        sub = full.subset(r)
        ref = quiet(compute_weights, sub, method, **kw)
        present = sub.pixels > 0
        np.testing.assert_allclose(wr[present], ref[present], rtol=1e-10)
        assert np.all(np.isnan(wr[~present]))


def test_intervals_shape_order_and_seed():
    s = population(n=300, seed=1)
    w = compute_weights(s)
    low, high = bootstrap_intervals(s, n_boot=500, seed=7)
    assert low.shape == high.shape == (8,)
    assert low.dtype == np.float64
    assert np.all(low <= high)
    assert np.all((low <= w * 1.02) & (w <= high * 1.02))
    low2, high2 = bootstrap_intervals(s, n_boot=500, seed=7)
    assert np.array_equal(low, low2)
    assert np.array_equal(high, high2)
    low3, _ = bootstrap_intervals(s, n_boot=500, seed=8)
    assert not np.array_equal(low, low3)
    # a wider level gives wider intervals
    l99, h99 = bootstrap_intervals(s, n_boot=500, seed=7, ci=0.99)
    assert np.all(l99 <= low + 1e-12)
    assert np.all(h99 >= high - 1e-12)


def test_intervals_chunked_matrix_product_matches_one_chunk(monkeypatch):
    import classweights.weights.bootstrap as bootstrap

    s = population(n=200, seed=2)
    a = bootstrap_intervals(s, n_boot=300, seed=5)
    monkeypatch.setattr(bootstrap, "_CELLS_PER_CHUNK", 200 * 7)  # chunks of 7 replicates
    b = bootstrap_intervals(s, n_boot=300, seed=5)
    # the same generator stream drawn in chunks: same multiplicities, same intervals
    assert a[0].shape == b[0].shape
    np.testing.assert_allclose(a[0], b[0], rtol=0.05)
    np.testing.assert_allclose(a[1], b[1], rtol=0.05)


def test_absent_class_interval_is_its_policy_weight_and_rare_class_warns():
    s = ClassStats.from_counts([[50, 5, 0]] + [[50, 0, 0]] * 39)
    with pytest.warns(ClassWeightsWarning, match=r"\[1\] are missing"):
        low, high = bootstrap_intervals(s, n_boot=200, absent="zero")
    assert low[2] == high[2] == 0.0
    assert np.all(np.isfinite(low))
    assert np.all(np.isfinite(high))


def test_empty_stats_give_finite_intervals():
    s = ClassStats.from_counts(np.zeros((0, 3), np.int64))
    low, high = quiet(bootstrap_intervals, s, absent="mean")
    assert low.tolist() == high.tolist() == [1.0, 1.0, 1.0]


def scipy_bootstrap(stat, n, b, seed, method):
    """``scipy.stats.bootstrap`` of ``stat(rows)`` over ``n`` images (rows resampled)."""
    import inspect

    from scipy import stats as sst

    seeding = "rng" if "rng" in inspect.signature(sst.bootstrap).parameters else "random_state"
    return sst.bootstrap(
        (np.arange(n),),
        stat,
        n_resamples=b,
        method=method,
        vectorized=True,
        batch=5000,
        **{seeding: np.random.default_rng(seed)},
    )


def monte_carlo_tolerance(dist, endpoint, b, k=5.0):
    """Half the spread of the replicates ``dist`` over ``k`` Monte-Carlo sds of the level.

    A BCa endpoint is the quantile of ``b`` replicates at a level ``p`` (read back here as the
    endpoint's rank in ``dist``). Its level has a Monte-Carlo sd of ``sqrt(p (1 - p) / b)``
    (the order statistic) plus that of the bias correction ``z0 = Phi^-1(share below)``,
    ``sqrt(0.25 / b) / phi(0)``, which moves the level by about ``2 phi(z_p)`` times it;
    two independent runs differ by sqrt(2) times that. Mapped to values through ``dist``.
    """
    from statistics import NormalDist

    nd = NormalDist()
    p = float(np.clip(np.mean(dist <= endpoint), 1.0 / b, 1.0 - 1.0 / b))
    sd = math.sqrt(p * (1 - p) / b) + 2 * nd.pdf(nd.inv_cdf(p)) * math.sqrt(0.25 / b) / nd.pdf(0)
    delta = k * math.sqrt(2.0) * sd
    lo, hi = np.quantile(dist, [max(p - delta, 0.0), min(p + delta, 1.0)])
    return (hi - lo) / 2


@pytest.mark.parametrize(
    ("method", "kw", "formula"),
    [
        ("sqrt_inv_freq", {}, lambda n: np.sqrt(n.sum(-1, keepdims=True) / n)),
        ("inverse_freq", {"normalize": "none"}, lambda n: n.sum(-1, keepdims=True) / (4 * n)),
    ],
)
def test_bca_intervals_agree_with_scipy(method, kw, formula):
    """The BCa interval (FPC off) against ``scipy.stats.bootstrap(method="BCa")``.

    Both resample the images (rows of the per-image table) with replacement and take the
    weights of the summed counts; scipy's statistic is written here from the formula, and
    its replicates come from other seeds. Every class is in every image, so every replicate
    is defined. Skewed, heavy-tailed counts make the BCa correction large: the plain
    percentile interval is farther from scipy's than the tolerance
    (:func:`monte_carlo_tolerance`, 5 Monte-Carlo sds), so the comparison can fail.
    """
    rng = np.random.default_rng(5)
    counts = (rng.lognormal(0.0, 1.5, (60, 4)) * [4000, 800, 150, 30]).astype(np.int64) + 1
    s = ClassStats.from_counts(counts)
    b = 50_000

    def weights(rows, axis=-1):  # (..., n) image indices -> (..., C) weights
        w = formula(counts[np.moveaxis(rows, axis, -1)].sum(axis=-2).astype(np.float64))
        return w * 4 / w.sum(-1, keepdims=True) if method == "sqrt_inv_freq" else w

    np.testing.assert_allclose(weights(np.arange(60)), compute_weights(s, method, **kw))
    low, high = bootstrap_intervals(s, method, n_boot=b, seed=3, interval="bca", **kw)
    plow, phigh = bootstrap_intervals(s, method, n_boot=b, seed=4, interval="percentile", **kw)
    uncorrected_off = []
    for c in range(4):
        stat = lambda r, axis=-1, c=c: weights(r, axis)[..., c]  # noqa: E731
        ref = scipy_bootstrap(stat, 60, b, 100 + c, "BCa")
        dist = ref.bootstrap_distribution
        for ours, theirs, plain in (
            (low[c], ref.confidence_interval.low, plow[c]),
            (high[c], ref.confidence_interval.high, phigh[c]),
        ):
            tol = monte_carlo_tolerance(dist, theirs, b)
            assert abs(ours - theirs) < tol, (c, ours, theirs, tol)
            uncorrected_off.append(abs(plain - theirs) > tol)
    assert sum(uncorrected_off) >= 2, uncorrected_off


def naive_studentized(s, method, n_boot, seed, ci=0.95, groups=20, **kw):
    """The bootstrap-t interval of log-weights, one replicate and one group at a time.

    Draws from ``default_rng(seed)`` in the documented order (the permutation that groups
    the sample's images, then the replicates' draws), so it sees the same replicates as
    ``bootstrap_intervals(interval="studentized")``; everything else is subset +
    compute_weights. ``s.num_images`` must be a multiple of ``groups``.
    """
    n = s.num_images
    rng = np.random.default_rng(seed)

    def log_w(rows):
        return np.log(quiet(compute_weights, s.subset(rows), method, **kw))

    def jackknife_se(rows):
        blocks = np.asarray(rows).reshape(groups, -1)
        loo = np.stack([log_w(np.delete(blocks, g, axis=0).ravel()) for g in range(groups)])
        return np.sqrt((groups - 1) / groups * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0))

    lw, se = log_w(np.arange(n)), jackknife_se(rng.permutation(n))
    draws = rng.integers(0, n, size=(n_boot, n))
    t = np.stack([(log_w(r) - lw) / jackknife_se(r) for r in draws])
    alpha = (1 - ci) / 2
    q_hi, q_lo = np.quantile(t, [1 - alpha, alpha], axis=0, method="inverted_cdf")
    return np.exp(lw - q_hi * se), np.exp(lw - q_lo * se)


@pytest.mark.parametrize(
    ("method", "kw"),
    [("sqrt_inv_freq", {}), ("median_freq", {"median_over": "all"}), ("enet", {})],
)
def test_studentized_intervals_equal_a_naive_bootstrap_t(method, kw):
    rng = np.random.default_rng(8)
    counts = (rng.lognormal(0.0, 1.2, (40, 5)) * [5000, 900, 300, 60, 20]).astype(np.int64) + 1
    s = ClassStats.from_counts(counts, image_ignored=rng.integers(0, 500, 40))
    low, high = bootstrap_intervals(s, method, n_boot=150, seed=9, interval="studentized", **kw)
    ref_low, ref_high = naive_studentized(s, method, 150, 9, **kw)
    np.testing.assert_allclose(low, np.minimum(ref_low, compute_weights(s, method, **kw)))
    np.testing.assert_allclose(high, np.maximum(ref_high, compute_weights(s, method, **kw)))


def test_hull_holds_the_studentized_and_bca_intervals():
    rng = np.random.default_rng(5)
    counts = (rng.lognormal(0.0, 1.5, (60, 4)) * [4000, 800, 150, 30]).astype(np.int64) + 1
    s = ClassStats.from_counts(counts)
    kinds = {
        k: bootstrap_intervals(s, n_boot=2000, seed=2, interval=k)
        for k in ("hull", "studentized", "bca")
    }
    low, high = kinds["hull"]
    assert np.all(low <= kinds["studentized"][0])  # the same replicates
    assert np.all(high >= kinds["studentized"][1])
    width = kinds["bca"][1] - kinds["bca"][0]  # other replicates: Monte-Carlo slack
    assert np.all(low <= kinds["bca"][0] + 0.05 * width)
    assert np.all(high >= kinds["bca"][1] - 0.05 * width)
    widened = (low < kinds["studentized"][0]) | (high > kinds["studentized"][1])
    assert np.any(widened)  # BCa reaches beyond the studentized interval somewhere


def test_studentized_falls_back_where_it_is_undefined():
    s = population(n=60, c=4, seed=12)
    low, high = quiet(bootstrap_intervals, s, "uniform", n_boot=100, interval="studentized")
    assert low.tolist() == high.tolist() == [1.0] * 4  # constant weights: zero width
    lo = 1.05 * compute_weights(s, "sqrt_inv_freq", normalize="none")[0]
    opts = {"normalize": "none", "clip": (lo, None)}  # class 0 (in every image) raised to lo
    w = compute_weights(s, "sqrt_inv_freq", **opts)
    assert w[0] == lo
    low, high = quiet(
        bootstrap_intervals, s, "sqrt_inv_freq", n_boot=200, interval="studentized", **opts
    )
    assert np.all(np.isfinite(low))
    assert np.all(np.isfinite(high))
    assert np.all((low <= w) & (w <= high))
    # class 0 is clipped in every jackknife group of the sample (standard error 0, up to
    # rounding) but not in a quarter of the replicates: its interval reaches above the clip
    # (the replicates' BCa quantiles), it is not the point ``lo``
    assert low[0] == lo
    assert high[0] > 1.01 * lo


@pytest.mark.parametrize("ci", [0.8, 0.95])
def test_intervals_cover_the_full_scan_weight_at_the_stated_rate(ci):
    """Statistical test with fixed seeds: sample 250 of 3000 images, 160 times."""
    full = population(n=3000, c=6, seed=11)
    truth = compute_weights(full, "sqrt_inv_freq")
    rng = np.random.default_rng(12345)
    hits = []
    for rep in range(160):
        rows = rng.choice(full.num_images, 250, replace=False)
        low, high = quiet(
            bootstrap_intervals,
            full.subset(rows),
            "sqrt_inv_freq",
            ci=ci,
            n_boot=300,
            seed=rep,
            population=full.num_images,
        )
        hits.append((low <= truth) & (truth <= high))
    coverage = np.mean(hits, axis=0)  # per class
    # 160 x 6 correlated Bernoulli draws: the overall rate is within a few points of ci
    assert abs(coverage.mean() - ci) < 0.05, coverage
    assert np.all(np.abs(coverage - ci) < 0.12), coverage


def test_auto_sample_stops_at_tolerance_and_reads_each_image_once():
    full = population(n=3000, seed=4)
    calls = []

    def draw(rows):
        calls.append(np.asarray(rows).copy())
        return full.subset(rows)

    stats, info = auto_sample(draw, full.num_images, tolerance=0.1, initial=50, n_boot=300)
    read = np.concatenate(calls)
    assert len(np.unique(read)) == len(read) == info["images_read"] == stats.num_images
    assert info["converged"]
    assert not info["exhausted"]
    assert info["images_read"] < full.num_images
    assert info["rounds"] == len(calls)
    assert info["max_rel_halfwidth"] <= 0.1
    assert stats.sampled
    assert stats.sample["images"] == info["images_read"]
    np.testing.assert_array_equal(stats.pixels, full.subset(read).pixels)
    # the half-widths reported are those of the stats returned
    w = compute_weights(stats)
    rel = (info["high"] - info["low"]) / 2 / w
    assert rel.max() == pytest.approx(info["max_rel_halfwidth"])


def test_auto_sample_reaches_the_full_scan_weights_within_tolerance():
    full = population(n=3000, seed=5)
    truth = compute_weights(full)
    errors = []
    for seed in range(5):
        stats, _info = auto_sample(
            full.subset, full.num_images, tolerance=0.05, seed=seed, n_boot=300
        )
        errors.append(np.max(np.abs(compute_weights(stats) / truth - 1)))
    assert np.median(errors) < 0.05


def test_auto_sample_exhausts_a_small_population():
    full = population(n=150, seed=6)
    stats, info = auto_sample(full.subset, full.num_images, tolerance=1e-4, initial=40, n_boot=100)
    assert info["exhausted"]
    assert info["images_read"] == 150
    assert info["rounds"] == 3  # 40, 80, 150
    # every image read: the finite-population correction makes the intervals exact
    assert info["max_rel_halfwidth"] == 0.0
    assert info["converged"]
    np.testing.assert_allclose(info["low"], compute_weights(full))
    assert not stats.sampled
    np.testing.assert_array_equal(stats.pixels, full.pixels)


def test_auto_sample_is_deterministic_for_a_seed():
    full = population(n=1000, seed=7)
    a = auto_sample(full.subset, 1000, tolerance=0.1, seed=3, n_boot=200)
    b = auto_sample(full.subset, 1000, tolerance=0.1, seed=3, n_boot=200)
    assert a[0] == b[0]
    assert a[1]["images_read"] == b[1]["images_read"]


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"ci": 1.0}, "between 0 and 1"),
        ({"n_boot": 0}, "positive integer"),
        ({"tolerance": 0}, "tolerance"),
        ({"growth": 1.0}, "growth"),
        ({"initial": 0}, "initial"),
        ({"normalize": "l2"}, "mean, sum, max, none"),
        ({"bogus": 1}, "unknown weight option"),
        ({"interval": "basic"}, "hull, studentized, bca, percentile"),
    ],
)
def test_bad_sampling_options(kw, msg):
    full = population(n=20)
    with pytest.raises(ConfigError, match=msg):
        auto_sample(full.subset, 20, **kw)
    if set(kw) & {"ci", "n_boot", "normalize", "bogus", "interval"}:
        with pytest.raises(ConfigError, match=msg):
            bootstrap_intervals(full, **kw)


# ---- declared classes the sample has not seen (issue 28, item 11) ------------------------
def rare_population(n=2000, rare_rows=(1234, 1601, 1777), seed=0):
    """Three common classes in every image; class 3 only in ``rare_rows`` (none if empty)."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((n, 4), np.int64)
    counts[:, :3] = rng.integers(900, 1100, (n, 3)) * [20, 5, 1]
    counts[list(rare_rows), 3] = 40
    return ClassStats.from_counts(counts, class_names=["road", "car", "pole", "bicycle"])


def test_auto_sample_keeps_reading_while_a_declared_class_is_unseen(caplog):
    full = rare_population()
    truth = compute_weights(full)
    assert np.argmax(truth) == 3  # the full scan gives the rare class the largest weight
    rounds = []

    def draw(rows):
        new = full.subset(rows)
        rounds.append(int(new.pixels[3]))
        return new

    with caplog.at_level("WARNING", logger="classweights"):
        stats, info = auto_sample(draw, full.num_images, tolerance=0.5, initial=20, n_boot=200)
    assert rounds[0] == 0  # the first round missed class 3 (with tolerance 0.5 it stopped there)
    assert stats.pixels[3] > 0
    assert info["unseen"] == []
    w = compute_weights(stats)
    assert w[3] > 0
    assert np.argmax(w) == 3
    said = [r.getMessage() for r in caplog.records if "3 (bicycle)" in r.getMessage()]
    assert said, [r.getMessage() for r in caplog.records]
    assert "no pixel" in said[0]
    assert "reading more" in said[0]


@pytest.mark.parametrize("absent", ["zero", "max", "mean"])
def test_auto_sample_of_a_class_absent_from_the_dataset_equals_the_full_scan(absent, caplog):
    full = rare_population(n=700, rare_rows=())
    with caplog.at_level("WARNING", logger="classweights"):
        stats, info = auto_sample(
            full.subset, full.num_images, tolerance=0.5, initial=20, n_boot=100, absent=absent
        )
    assert info["exhausted"]
    assert info["images_read"] == full.num_images
    assert info["unseen"] == [3]
    assert not stats.sampled
    truth = quiet(compute_weights, full, absent=absent)
    np.testing.assert_array_equal(quiet(compute_weights, stats, absent=absent), truth)
    np.testing.assert_array_equal(info["low"], truth)  # every image read: no uncertainty left
    np.testing.assert_array_equal(info["high"], truth)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "3 (bicycle)" in messages
    assert f"absent={absent!r}" in messages


def test_auto_sample_refuses_statistics_whose_class_count_changes():
    full = rare_population(n=300, rare_rows=(123, 201, 277))

    def draw(rows):  # a scan that infers num_classes from what it read
        s = full.subset(rows)
        return s if s.pixels[3] else ClassStats.from_counts(np.asarray(s.counts)[:, :3])

    with pytest.raises(ConfigError, match=r"of 4 classes after 3; declare num_classes"):
        auto_sample(draw, full.num_images, tolerance=1e-3, initial=20, n_boot=100)


def test_a_sample_without_a_class_says_it_is_unseen_not_absent():
    full = rare_population(n=400, rare_rows=(123,))
    sample = full.subset(np.arange(100))  # sampled, and without class 3's image
    unseen = r"no pixels in the 100 sampled images: 3 \(bicycle\).*rare class from an absent one"
    with pytest.warns(ClassWeightsWarning, match=unseen):
        compute_weights(sample)
    hints = " ".join(diagnose(sample)["hints"])
    assert "no pixel in the sample (bicycle)" in hints
    assert "never appear" not in hints
    absent = rare_population(n=50, rare_rows=())  # a full scan: the class is absent
    with pytest.warns(ClassWeightsWarning, match=r"no pixels: 3 \(bicycle\); their weight") as rec:
        compute_weights(absent)
    assert "sample" not in str(rec[0].message)
    assert "never appear (bicycle)" in " ".join(diagnose(absent)["hints"])
