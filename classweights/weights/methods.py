"""Class-weight methods: pure functions of the integer counts in a :class:`ClassStats`.

Stages (torchmetrics style): ``_options`` validates the settings, ``_aggregate`` sums the
per-image table into dataset counts (optionally once per bootstrap replicate, as a matrix
product), ``_raw_weights`` applies a method's formula, ``_finalize`` normalises and clips
the present classes, ``_fill_absent`` gives the absent classes their weight.
:func:`compute_weights` chains them and is the only stage that warns. Every stage takes
arrays with optional leading batch dimensions, so :mod:`.sampling` reuses them unchanged.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..stats import ClassStats
from .options import (
    _LOG_MAX,
    FLAT_TOLERANCE,
    ClassWeightsWarning,
    Method,
    WeightOptions,
    _manual_vector,
    _Options,
    _options,
    resolve_auto,
)


# ---- aggregation: per-image table -> dataset counts (float64, exact below 2**53) ----------
@dataclass
class _Aggregate:
    """Dataset counts, each with optional leading batch dims (``(..., C)`` or ``(...,)``)."""

    pixels: NDArray[np.float64]
    labelled: NDArray[np.float64]
    total: NDArray[np.float64]
    images: NDArray[np.float64] | None = None
    den: NDArray[np.float64] | None = None  # median-frequency denominator P_c
    void_pixels: NDArray[np.float64] | None = None
    void_den: NDArray[np.float64] | None = None
    objects: NDArray[np.float64] | None = None  # connected components K_c (objects=True scans)


def _features(stats: ClassStats, o: _Options) -> dict[str, NDArray[np.float64]]:
    """Per-image ``(N, k)`` float64 columns the method needs (summed by ``_aggregate``)."""
    counts = np.asarray(stats.counts, dtype=np.float64)
    total = stats.image_total.astype(np.float64)
    ignored = stats.image_ignored.astype(np.float64)
    labelled = total - ignored if stats.multilabel else counts.sum(axis=1)
    f = {"pixels": counts, "labelled": labelled, "total": total}
    if o.method == "effective_num" and o.count == "images":
        f["images"] = (counts > 0).astype(np.float64)
    if o.method == "inv_object_size":
        if stats.object_counts is None:
            raise ConfigError(
                "method='inv_object_size' needs object counts; scan with objects=True "
                "(CLI: --objects)"
            )
        f["objects"] = np.asarray(stats.object_counts, dtype=np.float64)
    if o.method == "median_freq":
        all_pixels = o.median_denominator == "all"
        f["den"] = (counts > 0) * (total if all_pixels else labelled)[:, None]
        if o.median_over == "all":
            # the ignore label as one more class: its own pixels count as labelled for it
            f["void_pixels"] = ignored
            f["void_den"] = (ignored > 0) * (total if all_pixels else labelled + ignored)
    return f


def _aggregate(
    feats: dict[str, NDArray[np.float64]], mult: NDArray[np.float64] | None = None
) -> _Aggregate:
    """Sum features over images, or ``mult @ features`` for ``(B, N)`` row multiplicities."""
    if mult is None:
        return _Aggregate(**{k: v.sum(axis=0) for k, v in feats.items()})
    return _Aggregate(**{k: mult @ v for k, v in feats.items()})


# ---- method kernels: raw weights of the present classes (NaN where absent) ---------------
def _freq(agg: _Aggregate, share_of: str = "labelled") -> NDArray[np.float64]:
    den = agg.labelled if share_of == "labelled" else agg.total
    return agg.pixels / den[..., None]


def _median_freq(agg: _Aggregate, o: _Options, present: NDArray[np.bool_]) -> NDArray[np.float64]:
    """``median(freq) / freq_c`` with ``freq_c = n_c / P_c`` (absent classes excluded)."""
    freq = np.where(present, agg.pixels / np.where(present, agg.den, 1.0), np.nan)
    pool = freq
    if o.median_over == "all":
        vp = agg.void_pixels
        vfreq = np.where(vp > 0, vp / np.where(vp > 0, agg.void_den, 1.0), np.nan)
        pool = np.concatenate([freq, vfreq[..., None]], axis=-1)
    has_any = np.any(~np.isnan(pool), axis=-1, keepdims=True)
    med = np.nanmedian(np.where(has_any, pool, 1.0), axis=-1, keepdims=True)
    return med / freq


def _raw_weights(
    agg: _Aggregate,
    o: _Options,
    manual: NDArray[np.float64] | None = None,
    *,
    classes: int | None = None,
    median: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """``(w, present)``: the formula on the present classes, NaN for absent ones.

    Every formula is bounded for counts below 2**64 except ``power``, whose weights are
    returned as *logarithms* (``_finalize`` shifts them before ``exp``, so no overflow).

    ``classes`` and ``median`` let the formula weigh counts that are not the dataset's class
    columns, as it would weigh a class of a ``classes``-class dataset whose median frequency
    is ``median`` (``match`` weighs the ignore label so, as SegNet did).
    """
    present = agg.pixels > 0
    c = classes if classes is not None else agg.pixels.shape[-1]
    with np.errstate(all="ignore"):
        if o.method == "inverse_freq":
            w = agg.labelled[..., None] / (c * agg.pixels)
        elif o.method == "sqrt_inv_freq":
            w = 1.0 / np.sqrt(_freq(agg))
        elif o.method == "power":
            w = -o.power * np.log(_freq(agg))
        elif o.method == "effective_num":  # (1 - b) / (1 - b**n), b**n = exp(n ln b)
            n = agg.pixels if o.count == "pixels" else agg.images
            x = n * (math.log(o.beta) if o.beta > 0 else -np.inf)
            w = -(1.0 - o.beta) / np.expm1(x)
        elif o.method == "median_freq" and median is not None:
            w = median / (agg.pixels / agg.den)
        elif o.method == "median_freq":
            w = _median_freq(agg, o, present)
        elif o.method == "enet":
            w = 1.0 / np.log(o.enet_c + _freq(agg, o.enet_share))
        elif o.method == "log_count":  # ln(1 + n) so that a single pixel stays finite
            w = 1.0 / np.log1p(agg.pixels)
        elif o.method == "uniform":
            w = np.ones_like(agg.pixels)
        elif o.method == "inv_object_size":  # K_c / n_c = 1 / mean object size
            w = agg.objects / agg.pixels
        else:  # manual
            w = np.broadcast_to(manual, agg.pixels.shape).copy()
        bad = np.isnan(w) | (w == np.inf) if o.method == "power" else ~np.isfinite(w)
        present &= ~bad
        return np.where(present, w, np.nan), present


# ---- normalisation, clipping, absent classes --------------------------------------------
def _normalize_linear(w: NDArray[np.float64], present: NDArray[np.bool_], mode: str) -> NDArray:
    if mode == "none":
        return w
    wp = np.where(present, w, 0.0)
    if mode == "max":
        ref, target = wp.max(axis=-1, keepdims=True), 1.0
    else:
        ref = wp.sum(axis=-1, keepdims=True)
        target = present.sum(axis=-1, keepdims=True) if mode == "mean" else w.shape[-1]
    with np.errstate(all="ignore"):
        return np.where(ref > 0, w * (target / np.where(ref > 0, ref, 1.0)), w)


def _finalize(w: NDArray, present: NDArray[np.bool_], o: _Options) -> NDArray[np.float64]:
    """Normalise then clip the present classes; absent classes stay NaN."""
    if o.method == "power":  # log-weights: shift by the largest before exp
        if o.normalize == "none":
            if np.any(np.where(present, w, -np.inf) > _LOG_MAX):
                raise ConfigError(
                    f"method='power' with power={o.power} and normalize='none' overflows "
                    "float64; use normalize='max' or 'mean'"
                )
        else:
            finite = present & np.isfinite(w)
            m = np.where(finite, w, -np.inf).max(axis=-1, keepdims=True, initial=-np.inf)
            w = w - np.where(np.isfinite(m), m, 0.0)
        w = np.exp(w)
    w = _normalize_linear(w, present, o.normalize)
    if o.clip is not None:
        lo, hi = o.clip
        w = np.clip(w, lo, hi)
        if o.renormalize:
            w = _normalize_linear(w, present, o.normalize)
    return np.where(present, w, np.nan)


def _absent_fill(w: NDArray, present: NDArray[np.bool_], policy: str) -> NDArray[np.float64]:
    """The value absent classes get: 0, or the max / mean present weight (1 if none present)."""
    if policy in ("zero", "one"):
        return np.full((*w.shape[:-1], 1), 1.0 if policy == "one" else 0.0)
    wp = np.where(present, w, 0.0)
    k = present.sum(axis=-1, keepdims=True)
    val = (
        wp.max(axis=-1, keepdims=True)
        if policy == "max"
        else wp.sum(-1, keepdims=True) / np.maximum(k, 1)
    )
    return np.where(k > 0, val, 1.0)


def _fill_absent(w: NDArray, present: NDArray[np.bool_], policy: str) -> NDArray[np.float64]:
    return np.where(present, w, _absent_fill(w, present, policy))


def _pipeline(
    stats: ClassStats, o: _Options
) -> tuple[NDArray[np.float64], NDArray[np.bool_], _Aggregate]:
    """Weights (NaN where absent), present mask and aggregate of a whole ``ClassStats``."""
    o = resolve_auto(o, stats)
    manual = _manual_vector(o.manual, stats) if o.method == "manual" else None
    agg = _aggregate(_features(stats, o))
    w, present = _raw_weights(agg, o, manual)
    return _finalize(w, present, o), present, agg


def suggest_beta(counts: NDArray[Any]) -> float:
    """The effective-number ``beta = 1 - 1/max(n_c)`` that spreads weights of these counts.

    It is Cui et al.'s ``beta = (V - 1) / V`` with the volume ``V`` set to the largest count,
    so ``beta**n_max = 1/e`` and smaller classes move towards inverse frequency.

    >>> suggest_beta([10, 1000])
    0.999
    """
    n = float(np.max(np.asarray(counts, dtype=np.float64), initial=0.0))
    return 0.0 if n <= 1 else 1.0 - 1.0 / n


def _is_flat(w: NDArray, present: NDArray[np.bool_], n: NDArray) -> bool:
    wp, np_ = w[present], n[present]
    if wp.size < 2 or np.all(np_ == np_[0]):
        return False
    lo, hi = float(wp.min()), float(wp.max())
    return hi - lo <= FLAT_TOLERANCE * hi


def _warn_absent(stats: ClassStats, present: NDArray[np.bool_], policy: str, what: str) -> None:
    absent = np.flatnonzero(~present)
    if absent.size:
        names = stats.names
        listed = ", ".join(f"{i} ({names[i]})" if stats.class_names else str(i) for i in absent)
        warnings.warn(
            f"{absent.size} of {stats.num_classes} classes have no pixels{_in_sample(stats)}: "
            f"{listed}; their {what} is set by absent={policy!r}"
            + (
                " (a sample cannot tell a rare class from an absent one: scan every image, "
                "or sample with auto_sample / --sample auto, which reads on until it sees them)"
                if stats.sampled
                else ""
            ),
            ClassWeightsWarning,
            stacklevel=3,
        )


def _in_sample(stats: ClassStats) -> str:
    """``" in the 100 sampled images (of 400)"`` for sampled statistics, else ``""``."""
    if not stats.sampled:
        return ""
    population = (stats.sample or {}).get("population")
    of = f" (of {population})" if population else ""
    return f" in the {stats.num_images} sampled images{of}"


def compute_weights(
    stats: ClassStats,
    method: Method = "sqrt_inv_freq",
    *,
    options: WeightOptions | None = None,
    **kwargs: Any,
) -> NDArray[np.float64]:
    """Class weights from exact counts; no mask is read again.

    Notation: ``n_c`` pixels of class ``c``; ``N`` labelled (not ignored) pixels;
    ``f_c = n_c / N``; ``C = num_classes``; the ignore index is never a class.

    ================  =========================================  ===============================
    method            formula                                    source
    ================  =========================================  ===============================
    ``inverse_freq``  ``N / (C n_c)``                            King & Zeng 2001; scikit-learn
                                                                 ``compute_class_weight
                                                                 ("balanced")`` (equal with
                                                                 ``normalize="none"`` when every
                                                                 class is present)
    ``sqrt_inv_freq`` ``1 / sqrt(f_c)``                          smoothed inverse frequency
    ``power``         ``1 / f_c**power`` (0.5: sqrt, 1: inverse) smoothing between the two
    ``effective_num`` ``(1 - beta) / (1 - beta**n_c)``, ``n_c``  Cui et al., CVPR 2019
                      pixels or images (``count``); ``beta**n``
                      as ``exp(n ln beta)`` (``expm1``)
    ``median_freq``   ``median(freq) / freq_c``, ``freq_c =      Eigen & Fergus, ICCV 2015
                      n_c / P_c``, ``P_c`` pixels of the         (arXiv 1411.4734, 6.3.2);
                      images containing ``c``                    SegNet; PyTorch-ENet
    ``enet``          ``1 / ln(enet_c + p_c)``, ``p_c = f_c``    Paszke et al., ENet 2016
                      (or ``n_c / all pixels``)                  (arXiv 1606.02147, 5.2)
    ``uniform``       ``1``
    ``manual``        the user's value, 1 for classes not given
    ================  =========================================  ===============================

    ``inv_object_size`` (object-aware, needs ``scan(..., objects=True)``): ``K_c / n_c``, the
    inverse of the mean object size of ``c`` (``K_c`` connected components, ``n_c`` pixels), so
    a class of many small objects outweighs one of a few large regions at the same pixel share;
    the class-level form of instance-balanced weighting (Kofler et al., "blob loss: instance
    imbalance aware loss functions for semantic segmentation", IPMI 2023), computed from the
    mergeable counts (bootstraps and subsets work).

    Order of operations: formula on the present classes → ``normalize`` over the present
    classes → ``clip`` → renormalise if ``renormalize`` → absent classes get ``absent``.

    Args:
        stats: counts from :func:`classweights.scan` or :meth:`ClassStats.from_counts`.
        method: one of :data:`WEIGHT_METHODS`.
        normalize: over the present classes: ``"mean"`` (mean 1, default), ``"sum"`` (sum
            ``C``, Cui et al.'s convention; equal to ``"mean"`` when every class is present),
            ``"max"`` (max 1), ``"none"`` (the raw formula: use it to reproduce sklearn,
            SegNet's or ENet's published vectors).
        clip: ``(lo, hi)`` bounds applied after normalisation (either may be ``None``).
        renormalize: normalise again after clipping (bounds may then be exceeded).
        absent: weight of classes with 0 pixels: ``"zero"``, ``"max"`` or ``"mean"`` of the
            present weights (1 if no class is present). Absent classes never enter the
            median or the normalisation, and a :class:`ClassWeightsWarning` names them.
        beta: ``effective_num``'s ``0 <= beta < 1``, or ``"auto"`` (default):
            ``1 - 1/max n_c`` of these counts (:func:`suggest_beta`; Cui et al.'s ``(V-1)/V``
            with ``V`` the largest count). A fixed 0.9999 (the paper's value for image counts)
            gives equal weights on pixel counts, where ``beta**n_c`` underflows.
        count: ``effective_num``'s ``n_c``: ``"pixels"`` or ``"images"`` containing ``c``.
        median_over: ``"classes"``, or ``"all"`` to count the ignore label as one more class
            when taking the median (SegNet's CamVid weights, PyTorch-ENet). Its pixels are
            the ignored pixels, its ``P`` the pixels of images with ignored pixels.
        median_denominator: ``P_c`` counts ``"all"`` pixels of the images containing ``c``
            (ignored included, as SegNet) or only ``"labelled"`` ones.
        enet_c: ENet's ``c > 1``; weights are bounded by ``1/ln(c)``.
        enet_share: ``p_c`` over ``"labelled"`` pixels, or ``"all"`` pixels incl. ignored (as
            the ENet reference code counts).
        power: ``power`` method's exponent.
        manual: ``{class id or name: weight}`` or ``C`` weights (finite, >= 0).
        options: a validated :class:`WeightOptions` (its method is used; keywords given as
            well replace its fields). The keywords above are its fields.

    Returns:
        ``(C,)`` float64, finite.

    Raises:
        ConfigError: unknown method or option value (the message lists the valid ones).

    Warns:
        ClassWeightsWarning: absent classes; ``effective_num`` weights flat to 1e-6 (the
        message gives a ``beta`` that spreads them).

    >>> s = ClassStats.from_counts([[600, 300, 100]])
    >>> np.round(compute_weights(s, "inverse_freq", normalize="none"), 4).tolist()
    [0.5556, 1.1111, 3.3333]
    >>> np.round(compute_weights(s, "sqrt_inv_freq"), 4).tolist()
    [0.6168, 0.8723, 1.5109]
    """
    if options is None:
        o = _options(method, **kwargs)
    else:  # the method is the options' own
        o = _options(options.method, **(options.options() | kwargs)) if kwargs else options
    o = resolve_auto(o, stats)
    w, present, agg = _pipeline(stats, o)
    _warn_absent(stats, present, o.absent, "weight")
    if o.method == "effective_num" and o.beta > 0:  # beta = 0 is uniform by design
        n = agg.pixels if o.count == "pixels" else agg.images
        if _is_flat(w, present, n):
            b = suggest_beta(n[present])
            warnings.warn(
                f"effective_num weights are flat to {FLAT_TOLERANCE:g} with beta={o.beta} and "
                f"count={o.count!r} (beta**n_c underflows); beta={b!r} (1 - 1/max n_c) would "
                "spread them, or use count='images'",
                ClassWeightsWarning,
                stacklevel=2,
            )
    return _fill_absent(w, present, o.absent).astype(np.float64)


# help(compute_weights) shows every option as a keyword (taken from WeightOptions)
compute_weights.__signature__ = inspect.signature(
    compute_weights
).replace(  # type: ignore[attr-defined]
    parameters=[
        *list(inspect.signature(compute_weights).parameters.values())[:-1],
        *(
            inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v)
            for k, v in WeightOptions.defaults().items()
        ),
    ]
)
