"""Image-level rebalancing: per-image sampling weights and repeat factors from a scan.

Class weights rebalance the loss; these functions rebalance what the model *sees*, from
the same per-image table (``ClassStats.counts``). Pure NumPy, no torch import. Image ``i``
*contains* class ``c`` when ``counts[i, c] > 0`` (multi-label: a positive pixel).

- :func:`sampling_weights` — one non-negative value per image, aligned with
  ``stats.sources`` (the scan's file order: sorted paths), for
  ``torch.utils.data.WeightedRandomSampler``;
- :func:`class_repeat_factors`, :func:`repeat_factors` — LVIS repeat-factor sampling;
- :func:`stochastic_repeats`, :func:`epoch_indices` — detectron2's epoch-based repeat
  lists (each image ``floor(r)`` or ``ceil(r)`` times per epoch), seeded;
- :func:`exposure_summary` — expected epoch length and how many images containing each
  class one epoch shows, before and after rebalancing.

>>> import classweights as cw
>>> s = cw.ClassStats.from_counts([[9, 1], [10, 0], [10, 0], [10, 0]])
>>> sampling_weights(s, threshold=0.5).tolist()
[1.4142135623730951, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ConfigError
from .stats import ClassStats
from .weights.stages import choice

SAMPLING_METHODS: tuple[str, ...] = ("repeat_factor", "class_presence")
FREQUENCIES: tuple[str, ...] = ("images", "pixels")
REDUCE_MODES: tuple[str, ...] = ("sum", "max")
DRAW_MODES: tuple[str, ...] = ("weighted", "repeat")

SamplingMethod = Literal["repeat_factor", "class_presence"]
Frequency = Literal["images", "pixels"]
Reduce = Literal["sum", "max"]
Draw = Literal["weighted", "repeat"]


def _threshold(threshold: Any) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        t = float("nan")
    if not (np.isfinite(t) and t >= 0):
        raise ConfigError(
            f"threshold={threshold!r} is not valid; expected a finite number >= 0 "
            "(LVIS uses 0.001; 0 turns repeat-factor sampling off)"
        )
    return t


def _contains(stats: ClassStats) -> NDArray[np.bool_]:
    """``(N, C)`` bool: image ``i`` contains class ``c``."""
    return np.asarray(stats.counts) > 0


def _per_image(stats: ClassStats, values: ArrayLike, name: str) -> NDArray[np.float64]:
    """Validate ``N`` finite non-negative per-image values against ``stats``."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.shape[0] != stats.num_images:
        raise ConfigError(
            f"{name} has shape {v.shape} but the statistics hold {stats.num_images} images; "
            "pass one value per image, in the order of stats.sources"
        )
    if not np.all(np.isfinite(v) & (v >= 0)):
        bad = np.flatnonzero(~(np.isfinite(v) & (v >= 0)))[:5].tolist()
        raise ConfigError(f"{name} must be finite and >= 0; images {bad} are not")
    return v


# ---- repeat-factor sampling (LVIS) ------------------------------------------------------
def class_repeat_factors(
    stats: ClassStats, threshold: float = 0.1, frequency: Frequency = "images"
) -> NDArray[np.float64]:
    """Per-class repeat factors ``r_c = max(1, sqrt(t / f_c))``.

    ``f_c`` is the fraction of images that contain ``c`` (``frequency="images"``, as LVIS
    and detectron2) or the class's share of the labelled pixels (``frequency="pixels"``).
    A class with ``f_c = 0`` (absent) gets ``r_c = 1``; no image contains it, so it never
    changes an image's factor.

    Source: Gupta, Dollár & Girshick, *LVIS: A Dataset for Large Vocabulary Instance
    Segmentation*, CVPR 2019, section 4 (repeat factor sampling); detectron2
    ``RepeatFactorTrainingSampler.repeat_factors_from_category_frequency``.

    Args:
        stats: counts from :func:`classweights.scan` or :meth:`ClassStats.from_counts`.
        threshold: ``t >= 0``; classes with ``f_c < t`` are oversampled.
        frequency: ``"images"`` or ``"pixels"``.

    Returns:
        ``(C,)`` float64, every value ``>= 1``.

    >>> s = ClassStats.from_counts([[5, 1, 0], [5, 0, 0], [5, 0, 0], [5, 0, 0]])
    >>> class_repeat_factors(s, threshold=1.0).tolist()
    [1.0, 2.0, 1.0]
    """
    t = _threshold(threshold)
    choice("frequency", frequency, FREQUENCIES)
    if frequency == "images":
        n = stats.num_images
        f = stats.images / n if n else np.zeros(stats.num_classes)
    else:
        f = np.asarray(stats.share, dtype=np.float64)
    present = f > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sqrt(t / np.where(present, f, 1.0))
    return np.where(present, np.maximum(1.0, r), 1.0)


def repeat_factors(
    stats: ClassStats, threshold: float = 0.1, frequency: Frequency = "images"
) -> NDArray[np.float64]:
    """Per-image repeat factors ``r_i = max_{c in i} r_c`` (``1`` for an image with no class).

    ``r_c`` is :func:`class_repeat_factors`. An image whose pixels are all ignored (or, for
    multi-label data, with no positive) contains no class and gets ``r_i = 1``, as
    detectron2 does (``max(..., default=1.0)``): it is kept, never oversampled.

    Source: Gupta et al., LVIS, CVPR 2019; detectron2 ``RepeatFactorTrainingSampler``.

    Args:
        stats: per-image counts.
        threshold: ``t >= 0``.
        frequency: ``"images"`` or ``"pixels"`` (see :func:`class_repeat_factors`).

    Returns:
        ``(N,)`` float64, aligned with ``stats.sources``, every value ``>= 1``.

    >>> table = [[5, 1, 0], [5, 0, 0], [5, 0, 0], [0, 0, 0]]  # image 3: every pixel ignored
    >>> s = ClassStats.from_counts(table, image_ignored=[0, 0, 0, 5])
    >>> np.round(repeat_factors(s, threshold=1.0), 4).tolist()
    [2.0, 1.1547, 1.1547, 1.0]
    """
    rc = class_repeat_factors(stats, threshold, frequency)
    contains = _contains(stats)
    return np.where(contains, rc, 1.0).max(axis=1, initial=1.0)


# ---- class-presence weights ---------------------------------------------------------------
def _class_presence(
    stats: ClassStats, reduce: str, weight_method: str, weight_kwargs: dict[str, Any]
) -> NDArray[np.float64]:
    from .weights import compute_weights

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w = compute_weights(stats, weight_method, **weight_kwargs)
    for m in caught:  # absent classes are in no image: their weight never matters here
        if "have no pixels" not in str(m.message):
            warnings.warn(m.message, m.category, stacklevel=3)
    contains = _contains(stats)
    if reduce == "sum":
        out = contains.astype(np.float64) @ w
    else:
        out = np.where(contains, w, 0.0).max(axis=1, initial=0.0)
    # an image with no class weighs as little as the least-weighted class that occurs
    occurs = contains.any(axis=0)
    floor = float(w[occurs].min()) if occurs.any() else 1.0
    return np.where(contains.any(axis=1), out, floor)


def sampling_weights(
    stats: ClassStats,
    method: SamplingMethod = "repeat_factor",
    *,
    threshold: float = 0.1,
    frequency: Frequency = "images",
    reduce: Reduce = "sum",
    weight_method: str = "sqrt_inv_freq",
    **weight_kwargs: Any,
) -> NDArray[np.float64]:
    """One sampling weight per image, aligned with ``stats.sources``.

    Feed it to ``torch.utils.data.WeightedRandomSampler(torch.as_tensor(sw),
    num_samples=len(sw), replacement=True)``; only ratios matter to the sampler. The
    dataset must list its images in the scan's order (``stats.sources``; a folder scan
    lists sorted paths).

    =================  ===============================================  =====================
    method             image weight                                     source
    =================  ===============================================  =====================
    ``repeat_factor``  ``r_i = max_{c in i} max(1, sqrt(t / f_c))``,    Gupta et al., LVIS,
                       ``f_c`` fraction of images containing ``c``      CVPR 2019; detectron2
                       (``frequency="images"``) or pixel share of ``c`` ``RepeatFactor-
                       (``"pixels"``)                                   TrainingSampler``
    ``class_presence`` ``sum_{c in i} w_c`` (``reduce="sum"``) or       in the spirit of class-
                       ``max_{c in i} w_c`` (``"max"``), ``w`` from     aware sampling (Shen
                       :func:`classweights.compute_weights` with        et al., Relay BP, ECCV
                       ``weight_method`` and ``weight_kwargs``          2016), at image level
    =================  ===============================================  =====================

    Images that contain no class (every pixel ignored): ``repeat_factor`` gives them 1
    (never oversampled, as detectron2); ``class_presence`` gives them the smallest weight
    of a class that occurs, so they are drawn no more often than the least-favoured
    labelled image (1 if no class occurs at all). No value is ever NaN or infinite.

    The ``repeat_factor`` weights are the repeat factors themselves: use them with
    :func:`stochastic_repeats` / :func:`epoch_indices` for detectron2-style epochs.

    Args:
        stats: per-image counts from :func:`classweights.scan` (not a sample: every image
            of the dataset needs a weight).
        method: one of :data:`SAMPLING_METHODS`.
        threshold: ``repeat_factor``: ``t >= 0``.
        frequency: ``repeat_factor``: one of :data:`FREQUENCIES`.
        reduce: ``class_presence``: one of :data:`REDUCE_MODES`.
        weight_method: ``class_presence``: any of :data:`classweights.WEIGHT_METHODS`.
        **weight_kwargs: ``class_presence``: options of :func:`classweights.compute_weights`
            (``normalize``, ``clip``, ``power``...).

    Returns:
        ``(N,)`` float64, finite, ``>= 0``.

    Raises:
        ConfigError: unknown method or option (the message lists the valid values), weight
            options given to ``repeat_factor``, or every image weighted 0.

    >>> table = [[90, 10], [100, 0], [100, 0], [0, 0]]  # image 3: every pixel ignored
    >>> s = ClassStats.from_counts(table, image_ignored=[0, 0, 0, 100])
    >>> np.round(sampling_weights(s, "repeat_factor", threshold=1.0), 4).tolist()
    [2.0, 1.1547, 1.1547, 1.0]
    >>> sw = sampling_weights(s, "class_presence", weight_method="inverse_freq", normalize="none")
    >>> np.round(sw, 4).tolist()
    [15.5172, 0.5172, 0.5172, 0.5172]
    """
    choice("method", method, SAMPLING_METHODS)
    if method == "repeat_factor":
        if weight_kwargs:
            raise ConfigError(
                f"{', '.join(sorted(weight_kwargs))}: class-weight options apply to "
                "method='class_presence' only; drop them or switch method"
            )
        return repeat_factors(stats, threshold, frequency)
    choice("reduce", reduce, REDUCE_MODES)
    out = _class_presence(stats, reduce, weight_method, weight_kwargs)
    if stats.num_images and not out.sum() > 0:
        raise ConfigError(
            f"every image has sampling weight 0 (weight_method={weight_method!r} gives 0 to "
            "every class that occurs); a sampler needs a positive total; change the clip or "
            "manual weights"
        )
    return out


# ---- epoch-based repeat lists (detectron2) ----------------------------------------------
def _rng(seed: int, epoch: int) -> np.random.Generator:
    for name, v in (("seed", seed), ("epoch", epoch)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ConfigError(f"{name}={v!r} is not valid; expected an integer >= 0")
    return np.random.default_rng([int(seed), int(epoch)])


def _factors(factors: ArrayLike) -> NDArray[np.float64]:
    r = np.asarray(factors, dtype=np.float64)
    if r.ndim != 1:
        raise ConfigError(f"factors has shape {r.shape}; expected one value per image (1-D)")
    ok = np.isfinite(r) & (r >= 0)
    if not ok.all():
        raise ConfigError(
            f"factors must be finite and >= 0; images {np.flatnonzero(~ok)[:5].tolist()} are not"
        )
    return r


def stochastic_repeats(factors: ArrayLike, seed: int = 0, epoch: int = 0) -> NDArray[np.int64]:
    """How many times each image appears in one epoch: ``floor(r) + Bernoulli(frac(r))``.

    Stochastic rounding, as detectron2's ``RepeatFactorTrainingSampler._get_epoch_indices``:
    the expected count is exactly ``r``, and an image is repeated ``floor(r)`` or
    ``ceil(r)`` times. The draw depends only on ``(seed, epoch)``
    (``numpy.random.default_rng([seed, epoch])``), so every process of a distributed job
    builds the same list; pass the epoch number to get a fresh rounding each epoch.

    Args:
        factors: ``(N,)`` repeat factors ``>= 0`` (e.g. :func:`repeat_factors`).
        seed: integer ``>= 0``.
        epoch: integer ``>= 0``.

    Returns:
        ``(N,)`` int64 repeat counts.

    >>> stochastic_repeats([1.0, 2.0, 0.0, 3.0]).tolist()
    [1, 2, 0, 3]
    >>> r = stochastic_repeats([1.5] * 1000, seed=0, epoch=1)
    >>> sorted(set(r.tolist())), bool(abs(r.mean() - 1.5) < 0.05)
    ([1, 2], True)
    """
    return _round(_factors(factors), _rng(seed, epoch))


def _round(r: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.int64]:
    whole = np.floor(r)
    return (whole + (rng.random(r.shape[0]) < r - whole)).astype(np.int64)


def epoch_indices(
    factors: ArrayLike, seed: int = 0, epoch: int = 0, shuffle: bool = True
) -> NDArray[np.int64]:
    """Dataset indices of one epoch: image ``i`` repeated :func:`stochastic_repeats` times.

    The list a detectron2 ``RepeatFactorTrainingSampler`` yields for one epoch (shuffled
    with the same ``(seed, epoch)`` generator unless ``shuffle=False``). Use it as a
    ``torch.utils.data.Sampler``'s ``__iter__`` or slice it per rank.

    Args:
        factors: ``(N,)`` repeat factors ``>= 0``.
        seed: integer ``>= 0``.
        epoch: integer ``>= 0``.
        shuffle: permute the list.

    Returns:
        ``(sum of repeats,)`` int64 indices into the dataset.

    >>> epoch_indices([1.0, 2.0, 0.0, 1.0], shuffle=False).tolist()
    [0, 1, 1, 3]
    """
    r = _factors(factors)
    rng = _rng(seed, epoch)
    idx = np.repeat(np.arange(r.shape[0], dtype=np.int64), _round(r, rng))
    return rng.permutation(idx) if shuffle else idx


# ---- what one epoch shows ------------------------------------------------------------------
def exposure_summary(
    stats: ClassStats,
    weights: ArrayLike,
    *,
    draw: Draw = "weighted",
    num_samples: int | None = None,
) -> dict[str, Any]:
    """Expected epoch length and images containing each class per epoch, before and after.

    *Before* is a plain epoch: every image once, so class ``c`` is seen in ``n_c`` images
    (the images containing it). *After* depends on how the weights are drawn:

    - ``draw="weighted"``: ``WeightedRandomSampler(w, num_samples=M, replacement=True)``
      (``M`` defaults to ``N``). Each draw is image ``i`` with ``p_i = w_i / sum(w)``, so
      the expected number of drawn images containing ``c`` is ``M * sum_{i contains c} p_i``;
      the epoch has ``M`` images, of which ``sum_i 1 - (1 - p_i)**M`` are distinct.
    - ``draw="repeat"``: ``w`` are repeat factors rounded stochastically each epoch
      (:func:`stochastic_repeats`, detectron2): image ``i`` appears ``r_i`` times in
      expectation, class ``c`` is seen ``sum_{i contains c} r_i`` times, the epoch has
      ``sum_i r_i`` images, of which ``sum_i min(1, r_i)`` are distinct.

    An image counts once per draw however many pixels of ``c`` it has. Absent classes show
    0 before and after.

    Args:
        stats: per-image counts the weights were computed from.
        weights: ``(N,)`` finite weights or repeat factors ``>= 0``, in ``stats.sources``
            order.
        draw: one of :data:`DRAW_MODES`.
        num_samples: ``draw="weighted"``: draws per epoch (default ``N``).

    Returns:
        ``{"draw", "images", "epoch_length", "distinct_images", "classes": [{"id", "name",
        "before", "after", "before_share", "after_share"}, ...]}`` with plain
        Python numbers (JSON-ready); ``*_share`` is the fraction of an epoch's images that
        contain the class.

    >>> s = ClassStats.from_counts([[9, 1], [10, 0], [10, 0], [10, 0]])
    >>> e = exposure_summary(s, [3.0, 1.0, 1.0, 1.0])
    >>> e["epoch_length"], [(c["before"], c["after"]) for c in e["classes"]]
    (4, [(4, 4.0), (1, 2.0)])
    >>> e = exposure_summary(s, [3.0, 1.0, 1.0, 1.0], draw="repeat")
    >>> e["epoch_length"], [(c["before"], c["after"]) for c in e["classes"]]
    (6.0, [(4, 6.0), (1, 3.0)])
    """
    choice("draw", draw, DRAW_MODES)
    w = _per_image(stats, weights, "weights")
    n = stats.num_images
    contains = _contains(stats).astype(np.float64)
    if draw == "weighted":
        m = n if num_samples is None else num_samples
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 0:
            raise ConfigError(f"num_samples={num_samples!r} is not valid; expected an integer >= 0")
        total = float(w.sum())
        if n and not total > 0:
            raise ConfigError("weights sum to 0; WeightedRandomSampler needs a positive total")
        p = w / total if n else w
        after = m * (contains.T @ p)
        with np.errstate(divide="ignore"):
            distinct = float(np.sum(-np.expm1(m * np.log1p(-np.minimum(p, 1.0))))) if m else 0.0
        length: float = int(m)
    else:
        if num_samples is not None:
            raise ConfigError(
                "num_samples applies to draw='weighted' only; the repeat epoch length is sum(r)"
            )
        after = contains.T @ w
        length = float(w.sum())
        distinct = float(np.minimum(w, 1.0).sum())
    before = stats.images
    classes = [
        {
            "id": c,
            "name": name,
            "before": int(before[c]),
            "after": float(after[c]),
            "before_share": float(before[c] / n) if n else 0.0,
            "after_share": float(after[c] / length) if length > 0 else 0.0,
        }
        for c, name in enumerate(stats.names)
    ]
    return {
        "draw": draw,
        "images": n,
        "epoch_length": length,
        "distinct_images": distinct,
        "classes": classes,
    }


__all__ = [
    "DRAW_MODES",
    "FREQUENCIES",
    "REDUCE_MODES",
    "SAMPLING_METHODS",
    "class_repeat_factors",
    "epoch_indices",
    "exposure_summary",
    "repeat_factors",
    "sampling_weights",
    "stochastic_repeats",
]
