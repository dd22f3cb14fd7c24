"""Dice as a ``torchmetrics.Metric``, with the numbers of :class:`classweights.metrics.DiceMetric`.

The states are the exact integer counts ``DiceMetric`` keeps (true positives, predicted and
target pixels per class), registered with ``add_state(..., dist_reduce_fx="sum")``, plus the
number of non-finite logits seen. So ``self.log("val_dice", metric)`` in Lightning, ``.to()``,
``state_dict``, the reset at every epoch and the DDP merge work as for any torchmetrics metric,
and the merged result is exactly that of one process seeing every batch. Each batch is counted
by ``DiceMetric`` itself (same argmax / threshold, same checks of the target).

Non-finite logits: any inf/NaN logit since the last reset makes every value NaN, as a loss
would be, and as ``DiceMetric`` does. torchmetrics' own scores (``MulticlassF1Score``,
``DiceScore``) instead score whatever class the argmax of a NaN picks; a model that overflowed
would read as a plausible Dice there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torchmetrics import Metric

from ..errors import ConfigError
from ..metrics import DiceMetric

#: ``average`` values: ``"macro"`` the mean over classes as ``DiceMetric``'s ``avg_dice``,
#: ``"none"`` the ``(C,)`` per-class values (``class_dice``).
AVERAGES = ("macro", "none")


class DiceScore(Metric):
    """Dice over a whole validation set from summed integer counts, as a torchmetrics Metric.

    Args:
        num_classes: ``C``, the channels of the logits.
        mode: ``"multiclass"`` (argmax; target ``(N, *spatial)`` indices) or ``"multilabel"``
            (``sigmoid > threshold``; target ``(N, C, *spatial)`` 0/1).
        ignore_index: target value left out (``None``: none).
        threshold: multilabel probability threshold, in ``(0, 1)``.
        average: ``"macro"`` (default): the mean over classes, the ``avg_dice`` of
            ``DiceMetric`` (classes with ``0 / 0`` left out, class 0 too with
            ``include_background=False``); ``"none"``: ``(C,)`` per-class values.
        zero_division: the Dice of a class absent from predictions and targets (``nan``).
        include_background: multiclass: ``False`` leaves class 0 out of the mean.
        class_names: names of the ``C`` classes, the keys of :meth:`class_dice`.
        **kwargs: torchmetrics' own (``dist_sync_on_step``, ``process_group``...).

    Returns (``compute``): a float64 tensor, scalar or ``(C,)``; NaN everywhere if a logit
    since the last reset was not finite.

    >>> m = DiceScore(2)
    >>> logits = torch.tensor([[[[2.0, 2.0, 0.0, 0.0]], [[0.0, 0.0, 2.0, 2.0]]]])
    >>> m.update(logits, torch.tensor([[[0, 0, 0, 1]]]))
    >>> round(m.compute().item(), 4)
    0.7333
    >>> DiceScore(2, average="none", class_names=["bg", "fg"]).class_names
    ['bg', 'fg']
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    def __init__(
        self,
        num_classes: int,
        mode: str = "multiclass",
        ignore_index: int | None = None,
        threshold: float = 0.5,
        *,
        average: str = "macro",
        zero_division: float = math.nan,
        include_background: bool = True,
        class_names: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if average not in AVERAGES:
            raise ConfigError(f"average must be one of {', '.join(AVERAGES)}; got {average!r}")
        self._batch = DiceMetric(  # validates the arguments and counts each batch
            num_classes,
            mode,  # type: ignore[arg-type]
            ignore_index,
            class_names,
            threshold,
            zero_division=zero_division,
            include_background=include_background,
            dist_sync=False,
        )
        self.num_classes = num_classes
        self.average = average
        self.class_names = list(self._batch.class_names)
        self.zero_division = float(zero_division)
        self.include_background = bool(include_background)
        for name in ("tp", "pred_sum", "target_sum"):
            self.add_state(name, torch.zeros(num_classes, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("nonfinite", torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        """Add one batch: ``(N, C, *spatial)`` logits and the target of the mode."""
        batch = self._batch
        batch.reset()
        batch.update(logits, target)
        self.tp += batch.tp.to(self.tp.device)
        self.pred_sum += batch.pred_sum.to(self.tp.device)
        self.target_sum += batch.target_sum.to(self.tp.device)
        self.nonfinite += (~torch.isfinite(logits.detach())).sum().to(self.tp.device)

    def _values(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(per-class (C,), mean)`` float64, computed as ``DiceMetric.compute`` does."""
        den = (self.pred_sum + self.target_sum).double().cpu()
        num = 2.0 * self.tp.double().cpu()
        dice = torch.where(
            den > 0, num / den.clamp_min(1.0), torch.full_like(den, self.zero_division)
        )
        values = dice.tolist()
        scored = [
            d
            for i, d in enumerate(values)
            if not math.isnan(d) and (self.include_background or i != 0)
        ]
        mean = torch.tensor(sum(scored) / len(scored) if scored else math.nan, dtype=torch.float64)
        if int(self.nonfinite) > 0:  # a non-finite logit in the window: no Dice to report
            dice, mean = torch.full_like(dice, math.nan), torch.full_like(mean, math.nan)
        device = self.tp.device
        dtype = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
        return dice.to(device, dtype), mean.to(device, dtype)

    def compute(self) -> torch.Tensor:
        """The Dice since the last reset: a scalar (``macro``) or ``(C,)`` (``none``)."""
        per_class, mean = self._values()
        return per_class if self.average == "none" else mean

    def class_dice(self) -> dict[str, torch.Tensor]:
        """``{class name: Dice}`` since the last reset, synchronised across processes as
        :meth:`compute` is; for ``self.log_dict`` (the Lightning callback reads them)."""
        with self.sync_context(
            dist_sync_fn=self.dist_sync_fn,
            should_sync=self._to_sync,
            should_unsync=self._should_unsync,
        ):
            per_class, _ = self._values()
        return {
            name: value.clone() for name, value in zip(self.class_names, per_class, strict=True)
        }
