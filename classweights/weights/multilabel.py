"""Per-class weights for sigmoid (multi-label) losses: BCE ``pos_weight``, focal ``alpha``.

Both read the positives ``P_c`` (``stats.pixels``) and negatives ``Q_c`` (labelled pixels
minus positives, ``stats.negatives``) of each channel. For single-label statistics they are
the one-vs-rest counts of each class.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..stats import ClassStats
from .options import ABSENT_POLICIES, MULTILABEL_OPTIONS, ClassWeightsWarning
from .stages import absent_fill, choice


def _pos_neg(stats: ClassStats) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    counts = np.asarray(stats.counts, dtype=np.float64)
    labelled = (
        (stats.image_total - stats.image_ignored).astype(np.float64).sum()
        if stats.multilabel
        else counts.sum()
    )
    pos = counts.sum(axis=0)
    return pos, np.maximum(labelled - pos, 0.0)


def _shape(w: NDArray[np.float64], spatial_dims: int) -> NDArray[np.float64]:
    if not isinstance(spatial_dims, (int, np.integer)) or spatial_dims < 0:
        raise ConfigError(
            f"spatial_dims={spatial_dims!r} is not valid; expected 0 (shape (C,)), "
            "2 (shape (C, 1, 1) for N x C x H x W logits) or 3"
        )
    return w.reshape(w.shape + (1,) * int(spatial_dims))


def _names(stats: ClassStats, ids: NDArray[np.intp]) -> str:
    return ", ".join(f"{i} ({stats.names[i]})" if stats.class_names else str(i) for i in ids)


#: The ``absent`` choices of :func:`pos_weight` (channels without positives).
POS_WEIGHT_ABSENT: tuple[str, ...] = ("one", *(p for p in ABSENT_POLICIES if p != "one"))


def pos_weight(
    stats: ClassStats,
    *,
    absent: str = "one",
    spatial_dims: int = 0,
    max_value: float | None = None,
) -> NDArray[np.float64]:
    """BCE ``pos_weight`` per class: negatives over positives.

    Formula: ``pos_weight_c = Q_c / P_c`` (PyTorch ``BCEWithLogitsLoss(pos_weight=...)``
    docs: "if a dataset contains 100 positive and 300 negative examples of a single class,
    then pos_weight for the class should be equal to 300/100 = 3"). It makes the positive
    term of each channel weigh as much as its negatives.

    This is the one implementation: ``load_weights(..., method="pos_weight")``,
    ``BCEWithLogitsLoss(pos_weight=stats)`` and ``build_loss(..., stats=stats)`` all call it.

    Degenerate channels get a finite value and a :class:`ClassWeightsWarning`:

    - no positives: the ``absent`` policy, by default ``"one"``, i.e. plain BCE for that
      channel (what ``pos_weight=None`` gives). Its positive term never occurs in the
      scanned data; 1 keeps it neutral wherever it does occur (another split, a sampled
      scan, augmentation), where ``"zero"`` would silence it. ``"max"``/``"mean"`` use the
      other channels' values.
    - no negatives: 1 (not ``0 / P = 0``, which would silence its positive term).

    Args:
        stats: multi-label statistics (``stats.multilabel``) or single-label ones (then the
            one-vs-rest counts of each class).
        absent: ``"one"`` (default), ``"zero"``, ``"max"`` or ``"mean"`` for channels
            without positives.
        spatial_dims: trailing singleton axes: ``2`` gives ``(C, 1, 1)``, which broadcasts
            against ``N x C x H x W`` logits in ``BCEWithLogitsLoss``.
        max_value: optional upper bound of every entry (clips very rare channels).

    Returns:
        ``(C,) + (1,) * spatial_dims`` float64, finite.

    >>> s = ClassStats.from_counts([[100, 20], [0, 10]], image_total=[400, 400], multilabel=True)
    >>> np.round(pos_weight(s), 4).tolist()
    [7.0, 25.6667]
    >>> pos_weight(s, spatial_dims=2).shape
    (2, 1, 1)
    """
    choice("absent", absent, POS_WEIGHT_ABSENT)
    if max_value is not None and not (np.isfinite(max_value) and max_value > 0):
        raise ConfigError(f"max_value={max_value!r} is not valid; expected a finite number > 0")
    pos, neg = _pos_neg(stats)
    present = pos > 0
    with np.errstate(all="ignore"):
        w = np.where(present, neg / np.where(present, pos, 1.0), np.nan)
    full = present & (neg == 0)
    w = np.where(full, 1.0, w)
    fill = np.ones((1,)) if absent == "one" else absent_fill(w, present, absent)
    w = np.where(present, w, fill)
    if max_value is not None:
        w = np.minimum(w, float(max_value))
    if np.any(~present):
        warnings.warn(
            f"no positives for classes {_names(stats, np.flatnonzero(~present))}; "
            f"their pos_weight is set by absent={absent!r}",
            ClassWeightsWarning,
            stacklevel=2,
        )
    if np.any(full):
        warnings.warn(
            f"classes {_names(stats, np.flatnonzero(full))} are positive at every labelled "
            "pixel; their pos_weight is 1",
            ClassWeightsWarning,
            stacklevel=2,
        )
    return _shape(w.astype(np.float64), spatial_dims)


def focal_alpha(stats: ClassStats, *, spatial_dims: int = 0) -> NDArray[np.float64]:
    """Per-class focal-loss ``alpha``: the share of negatives.

    Formula: ``alpha_c = Q_c / (P_c + Q_c)``, the value for which ``alpha_c P_c =
    (1 - alpha_c) Q_c``, i.e. the positive and negative terms of the balanced focal loss
    (Lin et al., Focal Loss for Dense Object Detection, ICCV 2017, eq. 3; torchvision
    ``sigmoid_focal_loss(alpha=...)``) carry equal total weight. Rare channels get ``alpha``
    near 1. Channels with no positives, no negatives or no labelled pixels get the neutral
    0.5 (1 or 0 would silence the whole channel) and a :class:`ClassWeightsWarning`.

    Args:
        stats: multi-label or single-label statistics (one-vs-rest counts).
        spatial_dims: trailing singleton axes, as in :func:`pos_weight`.

    Returns:
        ``(C,) + (1,) * spatial_dims`` float64 in ``[0, 1]``.

    >>> s = ClassStats.from_counts([[100, 20], [0, 10]], image_total=[400, 400], multilabel=True)
    >>> np.round(focal_alpha(s), 4).tolist()
    [0.875, 0.9625]
    """
    pos, neg = _pos_neg(stats)
    ok = (pos > 0) & (neg > 0)
    with np.errstate(all="ignore"):
        a = np.where(ok, neg / np.where(ok, pos + neg, 1.0), 0.5)
    if np.any(~ok):
        warnings.warn(
            f"classes {_names(stats, np.flatnonzero(~ok))} have no positives or no negatives; "
            "their focal alpha is 0.5",
            ClassWeightsWarning,
            stacklevel=2,
        )
    return _shape(a.astype(np.float64), spatial_dims)


#: Weight methods for sigmoid (multi-label) losses, beside the cross-entropy ``WEIGHT_METHODS``.
MULTILABEL_METHODS: tuple[str, ...] = tuple(MULTILABEL_OPTIONS)
