"""The Dice metric itself: :class:`DiceMetric`, its arguments, states and results.

It holds the states that :mod:`classweights.metrics._counts` counts and merges, and computes
Dice from them (see the :mod:`classweights.metrics` docstring for the formulas).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import torch

from ..errors import ConfigError
from ._counts import batch_counts, image_counts, image_dice_sums, merged

DiceMode = Literal["multiclass", "multilabel"]
DICE_MODES: tuple[str, ...] = ("multiclass", "multilabel")
DiceAverage = Literal["global", "image"]
DICE_AVERAGES: tuple[str, ...] = ("global", "image")


class DiceMetric:
    """Per-class Dice accumulated over batches from exact integer counts.

    Args:
        num_classes: number of classes ``C`` (channels of the logits).
        mode: ``"multiclass"``: logits ``(N, C, *spatial)`` float, target ``(N, *spatial)``
            int64 class indices, prediction = ``argmax`` over channels. ``"multilabel"``:
            logits and target both ``(N, C, *spatial)``, target values 0/1, prediction =
            ``sigmoid(logits) > threshold`` per channel.
        ignore_index: target value that is not scored. Multiclass: such pixels are dropped
            from prediction and target counts. Multilabel: such target elements are dropped
            (per channel). ``None`` scores everything.
        class_names: ``C`` names used as keys of ``compute()["class_dice"]``; defaults to
            ``"0"``, ``"1"``, ...
        threshold: probability threshold of the multilabel prediction, in ``(0, 1)``.
        zero_division: Dice of a class absent from predictions and targets of the whole set
            (``0 / 0``). ``nan`` (the default) leaves it out of ``avg_dice``; ``1.0`` counts
            it as perfect.
        include_background: multiclass only; ``False`` leaves class 0 out of ``avg_dice``
            (it is still reported in ``class_dice``).
        dist_sync: all-reduce the counts across ``torch.distributed`` ranks in
            :meth:`compute` (the local counts are left untouched). ``None`` (the default)
            does it whenever a process group is initialised with more than one rank; then
            every rank must call :meth:`compute` (it is a collective operation).
        process_group: the group to reduce over (``None``: the default group).
        average: ``"global"`` (the default): Dice of the whole set from summed counts.
            ``"image"``: Dice of each image and class, then means over images, as MONAI's
            ``DiceMetric(reduction="mean")`` (``avg_dice``: per image the mean over its
            scored classes, then the mean over images) and ``reduction="mean_batch"``
            (``class_dice[c]``: the mean over images of the Dice of ``c``).
        ignore_empty: ``average="image"`` only, MONAI's option of the same name. ``True``
            (default, as MONAI): an image whose target has no pixel of a class gives no
            Dice for it (``nan``, left out of both means), even if the prediction has
            false positives there. ``False``: such an image scores 1 for that class when
            the prediction is empty too, else 0. A class with no Dice in any image gets
            ``zero_division`` (MONAI reports 0), and ``avg_dice`` is ``nan`` if no image
            has any.

    Attributes:
        tp, pred_sum, target_sum: ``(C,)`` int64 tensors, the counts accumulated so far.
        nonfinite: ``()`` int64 tensor, the NaN/infinite logits seen so far; while it is not
            zero, :meth:`compute` gives ``nan`` for every class and the mean.

    >>> import torch
    >>> m = DiceMetric(2, mode="multiclass", class_names=["bg", "fg"])
    >>> logits = torch.tensor([[[[2.0, 2.0, 0.0, 0.0]], [[0.0, 0.0, 2.0, 2.0]]]])  # 1x2x1x4
    >>> m.update(logits, torch.tensor([[[0, 0, 0, 1]]]))  # prediction is [0, 0, 1, 1]
    >>> m.compute()
    {'avg_dice': 0.7333, 'class_dice': {'bg': 0.8, 'fg': 0.6667}}
    >>> m.tp.tolist(), m.pred_sum.tolist(), m.target_sum.tolist()
    ([2, 1], [2, 2], [3, 1])
    """

    def __init__(
        self,
        num_classes: int,
        mode: DiceMode = "multiclass",
        ignore_index: int | None = None,
        class_names: Sequence[str] | None = None,
        threshold: float = 0.5,
        *,
        zero_division: float = math.nan,
        include_background: bool = True,
        dist_sync: bool | None = None,
        process_group: Any = None,
        average: DiceAverage = "global",
        ignore_empty: bool = True,
    ) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f"num_classes must be a positive int; got {num_classes!r}")
        if mode not in DICE_MODES:
            raise ConfigError(f"mode must be one of {', '.join(DICE_MODES)}; got {mode!r}")
        if not 0.0 < float(threshold) < 1.0:
            raise ConfigError(
                f"threshold is a probability and must lie in (0, 1); got {threshold!r}"
            )
        if class_names is None:
            class_names = [str(i) for i in range(num_classes)]
        class_names = [str(n) for n in class_names]
        if len(class_names) != num_classes:
            raise ConfigError(
                f"class_names has {len(class_names)} names but num_classes={num_classes}"
            )
        if len(set(class_names)) != len(class_names):
            dup = sorted({n for n in class_names if class_names.count(n) > 1})
            raise ConfigError(f"class_names must be unique; repeated: {', '.join(dup)}")
        if not include_background and mode != "multiclass":
            raise ConfigError("include_background=False only applies to mode='multiclass'")
        if average not in DICE_AVERAGES:
            raise ConfigError(f"average must be one of {', '.join(DICE_AVERAGES)}; got {average!r}")
        self.average = average
        self.ignore_empty = bool(ignore_empty)
        self.num_classes = num_classes
        self.mode = mode
        self.ignore_index = ignore_index
        self.class_names = class_names
        self.threshold = float(threshold)
        self.zero_division = float(zero_division)
        self.include_background = include_background
        self.dist_sync = dist_sync
        self.process_group = process_group
        self.reset()

    def reset(self) -> None:
        """Zero the counts (call at the start of every validation epoch)."""
        device = self.tp.device if hasattr(self, "tp") else torch.device("cpu")
        self.tp = torch.zeros(self.num_classes, dtype=torch.int64, device=device)
        self.pred_sum = torch.zeros_like(self.tp)
        self.target_sum = torch.zeros_like(self.tp)
        self.nonfinite = torch.zeros((), dtype=torch.int64, device=device)
        self._updates = 0
        # average="image": per-class sum and count of per-image Dice; sum and count of the
        # per-image means (float64 sums of values in [0, 1]; mergeable by addition)
        self._image_sum = torch.zeros(self.num_classes, dtype=torch.float64, device=device)
        self._image_count = torch.zeros_like(self.tp)
        self._image_mean = torch.zeros(2, dtype=torch.float64, device=device)

    @torch.no_grad()
    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        """Add one batch to the counts.

        Args:
            logits: ``(N, C, *spatial)`` float tensor (raw scores, before softmax/sigmoid).
            target: multiclass ``(N, *spatial)`` integer class indices; multilabel
                ``(N, C, *spatial)`` 0/1 (any dtype), ``ignore_index`` allowed in both.

        Raises:
            ConfigError: the shapes do not match the mode and ``num_classes``.
            UnknownLabelError: a target value is neither a class nor ``ignore_index``.
        """
        tp, pred_sum, target_sum = batch_counts(logits, target, **self._counting())
        if self.tp.device != tp.device:
            self.tp = self.tp.to(tp.device)
            self.pred_sum = self.pred_sum.to(tp.device)
            self.target_sum = self.target_sum.to(tp.device)
            self.nonfinite = self.nonfinite.to(tp.device)
        self.tp += tp
        self.pred_sum += pred_sum
        self.target_sum += target_sum
        # on the device, no host sync: argmax/sigmoid of NaN would look like a prediction
        self.nonfinite += (~torch.isfinite(logits)).sum(dtype=torch.int64).to(tp.device)
        self._updates += 1
        if self.average == "image":  # after batch_counts, which validated the inputs
            self._image_update(logits, target)

    def _counting(self) -> dict[str, Any]:
        """The settings the counting functions of ``_counts`` take."""
        return {
            "num_classes": self.num_classes,
            "mode": self.mode,
            "ignore_index": self.ignore_index,
            "threshold": self.threshold,
        }

    def _image_update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        class_sum, class_count, mean_sum = image_dice_sums(
            image_counts(logits, target, **self._counting()),
            ignore_empty=self.ignore_empty,
            include_background=self.include_background,
        )
        if self._image_sum.device != class_sum.device:
            self._image_sum = self._image_sum.to(class_sum.device)
            self._image_count = self._image_count.to(class_sum.device)
            self._image_mean = self._image_mean.to(class_sum.device)
        self._image_sum += class_sum
        self._image_count += class_count
        self._image_mean += mean_sum

    def _synced_counts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """tp, pred_sum, target_sum and the non-finite count, summed over ranks if asked."""
        c = self.num_classes
        counts = torch.cat(
            [self.tp, self.pred_sum, self.target_sum, self.nonfinite.reshape(1).to(self.tp)]
        )
        counts = merged(counts, self.dist_sync, self.process_group)
        return counts[:c], counts[c : 2 * c], counts[2 * c : 3 * c], int(counts[3 * c])

    def compute(self) -> dict[str, Any]:
        """Dice of everything seen since the last :meth:`reset`.

        Returns:
            ``{"avg_dice": float, "class_dice": {name: float, ...}}`` -- plain Python floats,
            the format :meth:`classweights.schedule.LossStageScheduler.step` reads.
        """
        if self._updates == 0:
            warnings.warn(
                "DiceMetric.compute() called before any update(); every Dice is nan",
                RuntimeWarning,
                stacklevel=2,
            )
        if self.average == "image":
            return self._compute_image()
        tp, pred_sum, target_sum, nonfinite = self._synced_counts()
        if nonfinite:
            return self._all_nan()
        den = (pred_sum + target_sum).double().cpu()
        num = 2.0 * tp.double().cpu()
        dice = torch.where(
            den > 0, num / den.clamp_min(1.0), torch.full_like(den, self.zero_division)
        ).tolist()
        scored = [
            d
            for i, d in enumerate(dice)
            if not math.isnan(d) and (self.include_background or i != 0)
        ]
        avg = sum(scored) / len(scored) if scored else math.nan
        return {"avg_dice": avg, "class_dice": dict(zip(self.class_names, dice, strict=True))}

    def _compute_image(self) -> dict[str, Any]:
        """``compute()`` for ``average="image"`` (MONAI's "mean" and "mean_batch")."""
        nonfinite = self.nonfinite.reshape(1).to(self._image_sum)
        state = torch.cat(
            [self._image_sum, self._image_count.double(), self._image_mean, nonfinite]
        )
        state = merged(state, self.dist_sync, self.process_group)
        if state[-1].item() > 0:
            return self._all_nan()
        state = state[:-1]
        c = self.num_classes
        total, count, (mean_sum, mean_count) = state[:c], state[c : 2 * c], state[2 * c :].tolist()
        dice = torch.where(
            count > 0, total / count.clamp_min(1.0), torch.full_like(total, self.zero_division)
        ).tolist()
        avg = mean_sum / mean_count if mean_count > 0 else math.nan
        return {"avg_dice": avg, "class_dice": dict(zip(self.class_names, dice, strict=True))}

    def _all_nan(self) -> dict[str, Any]:
        """The result of a window that held a non-finite logit: ``nan`` everywhere."""
        return {"avg_dice": math.nan, "class_dice": dict.fromkeys(self.class_names, math.nan)}

    def __repr__(self) -> str:
        return (
            f"DiceMetric(num_classes={self.num_classes}, mode={self.mode!r}, "
            f"ignore_index={self.ignore_index}, threshold={self.threshold})"
        )
