"""Streaming per-class Dice over a whole validation set.

:class:`DiceMetric` keeps three integer counts per class -- true positives (the
intersection), predicted positives and target positives -- summed over every batch it is
given. Dice is computed from those counts at the end, so the result is the Dice of the
whole validation set, not a mean of per-batch Dice values, and it does not depend on how
the set was split into batches or across processes.

Per class ``c``::

    dice[c] = 2 * tp[c] / (pred[c] + target[c])

A class that is absent from both the predictions and the targets of the whole set has
``0 / 0``; it gets ``zero_division`` (``nan`` by default) and is left out of the mean.
``avg_dice`` is the mean of the per-class values that are not ``nan``.

A non-finite logit (NaN or infinite: an AMP overflow) anywhere in the window makes every
result ``nan`` -- each class and the mean -- as a loss over the same logits would be; the
metric keeps the number of such logits as a count of its own (``nonfinite``), merged across
processes like the others, so one rank's overflow is seen by all.

``average="image"`` also keeps, per class, the sum and the number of per-image Dice
values, as many training scripts and MONAI's ``DiceMetric`` report: the Dice of each
image, then the mean over images (see :class:`DiceMetric`).

The package: :class:`DiceMetric` and its arguments in ``dice.py``; counting one batch into
the states and merging them across ranks in ``_counts.py``.

This package imports torch; ``import classweights`` does not import it.
"""

from __future__ import annotations

from .dice import DICE_AVERAGES, DICE_MODES, DiceAverage, DiceMetric, DiceMode

__all__ = ["DICE_AVERAGES", "DICE_MODES", "DiceAverage", "DiceMetric", "DiceMode"]
