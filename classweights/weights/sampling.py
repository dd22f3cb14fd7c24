"""Weights from a sample of images, with bootstrap confidence intervals.

The bootstrap resamples images (rows of the per-image table) with replacement. A replicate
is a row-multiplicity vector, so all replicates' dataset counts are one matrix product
``M (B x N) @ features (N x k)``, and the weight formulas run once on ``(B, C)`` arrays.
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..stats import ClassStats
from .options import ClassWeightsWarning, resolve_auto
from .stages import (
    Aggregate,
    Options,
    aggregate,
    choice,
    features,
    fill_absent,
    finalize,
    manual_vector,
    parse_options,
    pipeline,
    raw_weights,
)

log = logging.getLogger(__name__)
_NORMAL = NormalDist()
INTERVAL_KINDS: tuple[str, ...] = ("bca", "percentile")
_CELLS_PER_CHUNK = 4_000_000  # replicates x images per matrix product (~32 MB of float64)


def _multiplicities(rng: np.random.Generator, b: int, n: int) -> NDArray[np.float64]:
    """``(b, n)`` counts of each image in ``b`` resamples of ``n`` images with replacement."""
    dt = np.int32 if b * n < 2**31 else np.int64
    idx = rng.integers(0, n, size=(b, n), dtype=dt) + (np.arange(b, dtype=dt) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def _replicate_weights(
    stats: ClassStats, o: Options, mult: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``(B, C)`` weights of the replicates ``mult (B, N)``; NaN where a class is absent."""
    manual = manual_vector(o.manual, stats) if o.method == "manual" else None
    w, present = raw_weights(aggregate(features(stats, o), mult), o, manual)
    return finalize(w, present, o)


def _check_ci(ci: float, n_boot: int, interval: str = "bca") -> None:
    choice("interval", interval, INTERVAL_KINDS)
    if not 0.0 < float(ci) < 1.0:
        raise ConfigError(f"ci={ci!r} is not valid; expected a level between 0 and 1 (e.g. 0.95)")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ConfigError(
            f"n_boot={n_boot!r} is not valid; expected a positive integer (e.g. 1000)"
        )


def _jackknife_acceleration(stats: ClassStats, o: Options, n: int) -> NDArray[np.float64]:
    """BCa acceleration ``a_c = sum d**3 / (6 (sum d**2)**1.5)``, ``d = mean - theta_(i)``.

    Leave-one-out counts are ``total - row``, computed in row chunks in two passes (the
    mean first, then the central sums: power sums would cancel catastrophically).
    """
    manual = manual_vector(o.manual, stats) if o.method == "manual" else None
    feats = features(stats, o)
    totals = {k: v.sum(axis=0) for k, v in feats.items()}
    step = max(1, _CELLS_PER_CHUNK // max(1, sum(v[0].size for v in feats.values())))

    def leave_one_out():
        for s in range(0, n, step):
            agg = Aggregate(**{k: totals[k] - feats[k][s : s + step] for k in feats})
            w, present = raw_weights(agg, o, manual)
            yield finalize(w, present, o)

    c = stats.num_classes
    total, count = np.zeros(c), np.zeros(c)
    for jk in leave_one_out():
        total += np.nansum(jk, axis=0)
        count += np.sum(~np.isnan(jk), axis=0)
    mean = total / np.maximum(count, 1)
    s2, s3 = np.zeros(c), np.zeros(c)
    for jk in leave_one_out():
        d = mean - jk
        s2 += np.nansum(d**2, axis=0)
        s3 += np.nansum(d**3, axis=0)
    with np.errstate(all="ignore"):
        return np.where(s2 > 0, s3 / (6.0 * np.where(s2 > 0, s2, 1.0) ** 1.5), 0.0)


def _bca_levels(
    wb: NDArray, w: NDArray, a: NDArray, levels: tuple[float, float]
) -> NDArray[np.float64]:
    """``(2, C)`` bias-corrected and accelerated quantile levels (Efron 1987, eq. 2.3)."""
    valid = ~np.isnan(wb)
    k = np.maximum(valid.sum(axis=0), 1)
    below = (
        np.where(valid, wb < w, False).sum(0) + 0.5 * np.where(valid, wb == w, False).sum(0)
    ) / k
    below = np.clip(below, 0.5 / k, 1.0 - 0.5 / k)
    out = np.empty((2, w.size))
    for j, c in itertools.product(range(2), range(w.size)):
        z0 = _NORMAL.inv_cdf(float(below[c]))
        zq = _NORMAL.inv_cdf(levels[j])
        den = 1.0 - a[c] * (z0 + zq)
        out[j, c] = _NORMAL.cdf(z0 + (z0 + zq) / den) if den > 0 else levels[j]
    return out


def _intervals(
    stats: ClassStats,
    o: Options,
    ci: float,
    n_boot: int,
    rng: np.random.Generator,
    population: int | None = None,
    kind: str = "bca",
) -> tuple[NDArray, NDArray, NDArray, NDArray[np.bool_], NDArray[np.bool_]]:
    """Point weights, interval bounds, present mask and "unresolved" mask.

    A class is unresolved when it is missing from more than ``(1 - ci) / 2`` of the
    replicates: its interval then only describes the replicates that contain it.
    """
    o = resolve_auto(o, stats)  # one beta from the sample for every replicate
    w, present, _ = pipeline(stats, o)
    n = stats.num_images
    if n == 0:
        w = fill_absent(w, present, o.absent)
        return w, w.copy(), w.copy(), present, np.zeros_like(present)
    chunk = max(1, _CELLS_PER_CHUNK // n)
    reps = [
        _replicate_weights(stats, o, _multiplicities(rng, min(chunk, n_boot - s), n))
        for s in range(0, n_boot, chunk)
    ]
    wb = np.concatenate(reps, axis=0)
    alpha = (1.0 - ci) / 2.0
    if kind == "bca":
        levels = _bca_levels(wb, w, _jackknife_acceleration(stats, o, n), (alpha, 1.0 - alpha))
    else:
        levels = np.array([[alpha], [1.0 - alpha]]).repeat(w.size, axis=1)
    low, high = np.full(w.size, np.nan), np.full(w.size, np.nan)
    for c in np.flatnonzero(present & np.any(~np.isnan(wb), axis=0)):
        col = wb[:, c][~np.isnan(wb[:, c])]
        low[c], high[c] = np.quantile(col, levels[:, c])
    missing = np.isnan(wb).mean(axis=0)
    unresolved = present & (missing > alpha)
    w = fill_absent(w, present, o.absent)
    low = np.where(np.isnan(low), w, np.minimum(low, w))
    high = np.where(np.isnan(high), w, np.maximum(high, w))
    if population is not None:  # finite-population correction (sampling without replacement)
        f = math.sqrt(max(0.0, 1.0 - n / population))
        low, high = w - (w - low) * f, w + (high - w) * f
    return w, low, high, present, unresolved


def bootstrap_intervals(
    stats: ClassStats,
    method: str = "sqrt_inv_freq",
    *,
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = 0,
    population: int | None = None,
    interval: str = "bca",
    **weight_kwargs: Any,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bootstrap confidence intervals of each class weight (BCa by default).

    Resamples the images (rows of ``stats.counts``) with replacement ``n_boot`` times and
    recomputes the weights of every replicate with the same options. ``interval="bca"``
    returns the bias-corrected and accelerated quantiles (Efron, Better Bootstrap Confidence
    Intervals, JASA 1987; acceleration from the leave-one-image-out jackknife), which cover
    better than plain percentiles for skewed ratio statistics such as weights;
    ``"percentile"`` returns the ``(1 - ci) / 2`` and ``(1 + ci) / 2`` quantiles (Efron &
    Tibshirani, An Introduction to the Bootstrap, 1993, ch. 13). The images are the
    sampling unit, so the intervals account for pixels of one image being correlated. The
    interval always contains the sample's own weight. Replicates in which a
    class is missing are left out of that class's quantiles; when that happens in more than
    ``(1 - ci) / 2`` of them a :class:`ClassWeightsWarning` names the class (its interval
    is then too optimistic: sample more images). Classes absent from ``stats`` get
    ``low == high ==`` their absent-policy weight.

    When ``stats`` is a sample drawn without replacement from a dataset of ``population``
    images, pass ``population``: the interval around the sample's weight is then shrunk by
    the finite-population correction ``sqrt(1 - n / population)`` (Cochran, Sampling
    Techniques, 1977, 2.6), so it targets the full-scan weight and has zero width once every
    image is read.

    Args:
        stats: statistics of the sampled images.
        method: a weight method; ``weight_kwargs`` are :func:`compute_weights` options.
        ci: confidence level in ``(0, 1)``.
        n_boot: number of bootstrap replicates.
        seed: seed of the resampling.
        population: images in the whole dataset when ``stats`` is a sample of it.
        interval: ``"bca"`` or ``"percentile"``.

    Returns:
        ``(low, high)``, two ``(C,)`` float64 arrays.

    >>> s = ClassStats.from_counts(np.random.default_rng(0).integers(0, 100, (40, 3)) * [10, 3, 1])
    >>> from classweights.weights import compute_weights
    >>> np.round(compute_weights(s), 3).tolist()
    [0.497, 0.895, 1.608]
    >>> low, high = bootstrap_intervals(s, n_boot=200)
    >>> np.round(low, 3).tolist(), np.round(high, 3).tolist()
    ([0.454, 0.834, 1.548], [0.534, 0.953, 1.69])
    """
    _check_ci(ci, n_boot, interval)
    o = parse_options(method, **weight_kwargs)
    if population is not None and (
        not isinstance(population, (int, np.integer)) or population < stats.num_images
    ):
        raise ConfigError(
            f"population={population!r} is not valid; expected the dataset's image count, at "
            f"least the {stats.num_images} images sampled"
        )
    rng = np.random.default_rng(seed)
    _, low, high, _, unresolved = _intervals(stats, o, ci, int(n_boot), rng, population, interval)
    if np.any(unresolved):
        warnings.warn(
            f"classes {np.flatnonzero(unresolved).tolist()} are missing from more than "
            f"{(1 - ci) / 2:.1%} of the bootstrap replicates; their intervals are too narrow, "
            "sample more images",
            ClassWeightsWarning,
            stacklevel=2,
        )
    return low.astype(np.float64), high.astype(np.float64)


def _next_size(n: int, pop: int, rel: float, tol: float, growth: float, unresolved: bool) -> int:
    """Next sample size: predicted from ``rel ~ k sqrt(1/n - 1/pop)``, grown by 1.25..growth."""
    most = max(n + 1, math.ceil(n * growth))
    if unresolved or rel <= 0:
        return most
    k2 = rel**2 / max(1.0 / n - 1.0 / pop, 1e-300)
    predicted = 1.0 / ((tol**2) / k2 + 1.0 / pop)
    return min(most, max(n + 1, math.ceil(n * 1.25), math.ceil(1.1 * predicted)))


def _classes(stats: ClassStats, ids: list[int], one: str, many: str) -> str:
    """``"class 3 (bicycle) has"`` / ``"classes 3, 7 have"``: ids with their names, if any."""
    names = stats.names
    listed = ", ".join(f"{i} ({names[i]})" if stats.class_names else str(i) for i in ids)
    return f"class {listed} {one}" if len(ids) == 1 else f"classes {listed} {many}"


def _merge(stats: ClassStats | None, new: ClassStats) -> ClassStats:
    """``stats + new``; a class count that changes between rounds is a :class:`ConfigError`."""
    if stats is None:
        return new
    if new.num_classes != stats.num_classes:
        raise ConfigError(
            f"auto_sample: draw returned statistics of {new.num_classes} classes after "
            f"{stats.num_classes}; declare num_classes (or the class names) for the scan: a "
            "sample cannot see the classes it has not read"
        )
    return stats + new


def auto_sample(
    draw: Callable[[NDArray[np.int64]], ClassStats],
    population: int,
    *,
    tolerance: float = 0.05,
    ci: float = 0.95,
    initial: int = 100,
    growth: float = 2.0,
    seed: int | None = 0,
    method: str = "sqrt_inv_freq",
    n_boot: int = 1000,
    interval: str = "bca",
    **weight_kwargs: Any,
) -> tuple[ClassStats, dict[str, Any]]:
    """Scan a growing random sample of images until every weight is known to ``tolerance``.

    Draws a seeded random permutation of ``range(population)`` and scans growing prefixes
    of it; each image is read once (only the new indices are passed to ``draw``, and the
    counts are merged). The next size is predicted from the widest interval, assuming the
    half-width shrinks as ``sqrt(1/n - 1/population)``, plus 10 %, and kept between
    ``1.25 x`` and ``growth x`` the current size. After each round it computes
    :func:`bootstrap_intervals` with the finite-population correction, and stops when, for
    every class present in the sample, the interval half-width ``(high - low) / 2`` is at
    most ``tolerance x weight``, no class is missing from too many replicates and every
    class has pixels in the sample, or when the population is exhausted.

    Every one of the ``num_classes`` classes of the statistics is declared: while one has no
    pixel in the sample, sampling goes on (growing by ``growth``) and a warning naming it
    is logged, since a sample cannot tell a rare class from an absent one. A class still
    without pixels once every image is read is absent from the dataset: ``absent=`` gives
    its weight exactly as for a full scan (the statistics then hold every image, and their
    weights equal the full scan's). ``draw`` must therefore return statistics of one fixed
    class count (a scan with ``num_classes`` or class names given); a count that changes
    between rounds is a :class:`~classweights.errors.ConfigError`.

    Args:
        draw: ``draw(rows) -> ClassStats`` scans the images with the given indices.
        population: number of images in the dataset.
        tolerance: target relative half-width (0.05: within 5 % of the weight).
        ci: confidence level of the intervals.
        initial: images in the first round.
        growth: largest factor by which the sample grows in one round (> 1).
        seed: seed of the permutation and of the bootstrap.
        method: weight method judged; ``weight_kwargs`` are its options.
        n_boot: bootstrap replicates per round.
        interval: ``"bca"`` or ``"percentile"`` (see :func:`bootstrap_intervals`).

    Returns:
        ``(stats, info)``: the merged statistics of the images read (``sampled`` set when not
        all were read) and a dict with ``images_read``, ``rounds``, ``max_rel_halfwidth``
        (over resolved present classes), ``converged``, ``exhausted``, ``unresolved``
        (class ids missing from too many replicates), ``unseen`` (class ids with no pixel in
        the images read; only when every image was read, so absent from the dataset),
        ``population``, and the last round's ``low`` / ``high`` arrays.

    >>> full = ClassStats.from_counts(np.random.default_rng(0).integers(50, 150, (1000, 3)))
    >>> stats, info = auto_sample(full.subset, full.num_images, initial=20, n_boot=200)
    >>> info["images_read"], info["rounds"], info["converged"], round(info["max_rel_halfwidth"], 3)
    (29, 2, True, 0.04)
    """
    _check_ci(ci, n_boot, interval)
    o = parse_options(method, **weight_kwargs)
    if not float(tolerance) > 0.0:
        raise ConfigError(f"tolerance={tolerance!r} is not valid; expected > 0 (e.g. 0.05)")
    if not float(growth) > 1.0:
        raise ConfigError(f"growth={growth!r} is not valid; expected a factor > 1 (e.g. 2.0)")
    if not isinstance(population, (int, np.integer)) or population < 1:
        raise ConfigError(f"population={population!r} is not valid; expected at least 1 image")
    if not isinstance(initial, (int, np.integer)) or initial < 1:
        raise ConfigError(f"initial={initial!r} is not valid; expected at least 1 image")
    ss = np.random.SeedSequence(seed)
    perm_seed, boot_seed = ss.spawn(2)
    order = np.random.default_rng(perm_seed).permutation(int(population)).astype(np.int64)
    boot_rng = np.random.default_rng(boot_seed)
    stats: ClassStats | None = None
    read, rounds, target = 0, 0, min(int(initial), int(population))
    while True:
        stats = _merge(stats, draw(order[read:target]))
        read, rounds = target, rounds + 1
        w, low, high, present, unresolved = _intervals(
            stats, o, ci, int(n_boot), boot_rng, int(population), interval
        )
        ok = present & ~unresolved & (w > 0)
        rel = np.where(ok, (high - low) / 2.0 / np.where(ok, w, 1.0), 0.0)
        max_rel = float(rel.max(initial=0.0))
        unseen = np.flatnonzero(stats.pixels == 0).tolist()
        converged = max_rel <= tolerance and not np.any(unresolved) and not unseen
        exhausted = read >= population
        if converged or exhausted:
            break
        if unseen:
            log.warning(
                "auto_sample: %s no pixel in the %d of %d images read; reading more images "
                "(a sample cannot tell a rare class from an absent one)",
                _classes(stats, unseen, "has", "have"),
                read,
                population,
            )
        target = min(
            int(population),
            _next_size(
                read,
                int(population),
                max_rel,
                tolerance,
                float(growth),
                bool(np.any(unresolved)) or bool(unseen),
            ),
        )
    if unseen:  # every image read: the class is absent from the dataset, as a full scan says
        log.warning(
            "auto_sample: %s no pixel in any of the %d images, so every image was read; "
            "absent=%r sets %s weight, as in a full scan",
            _classes(stats, unseen, "has", "have"),
            read,
            o.absent,
            "its" if len(unseen) == 1 else "their",
        )
    stats.sampled = read < population
    if stats.sampled:
        stats.sample = {
            "mode": "auto",
            "images": read,
            "population": int(population),
            "tolerance": float(tolerance),
            "ci": float(ci),
            "seed": seed,
            "method": method,
        }
    info = {
        "images_read": read,
        "rounds": rounds,
        "max_rel_halfwidth": max_rel,
        "converged": bool(converged),
        "exhausted": bool(exhausted),
        "unresolved": np.flatnonzero(unresolved).tolist(),
        "unseen": unseen,
        "population": int(population),
        "low": low.astype(np.float64),
        "high": high.astype(np.float64),
    }
    return stats, info
