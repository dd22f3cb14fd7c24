"""What one epoch shows: expected epoch length and the images of each class seen, before
and after rebalancing."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import ConfigError
from ..stats import ClassStats
from ..weights.stages import choice
from .factors import DRAW_MODES, Draw, _contains, _per_image


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
