"""Per-image sampling weights and repeat factors from a scan's per-image table.

Image ``i`` *contains* class ``c`` when ``counts[i, c] > 0`` (multi-label: a positive pixel).
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ConfigError
from ..stats import ClassStats
from ..weights.stages import choice

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
    from ..weights import compute_weights

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
