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

from .epochs import epoch_indices, stochastic_repeats
from .exposure import exposure_summary
from .factors import (
    DRAW_MODES,
    FREQUENCIES,
    REDUCE_MODES,
    SAMPLING_METHODS,
    class_repeat_factors,
    repeat_factors,
    sampling_weights,
)

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
