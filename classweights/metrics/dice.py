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

This module imports torch; ``import classweights`` does not import it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import torch

from .errors import ConfigError, UnknownLabelError

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
        tp, pred_sum, target_sum = self._batch_counts(logits, target)
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
        if self.average == "image":  # after _batch_counts, which validated the inputs
            self._image_update(logits, target)

    def _image_counts(
        self, logits: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(N, C)`` int64 tp, predicted and target pixels of each image; no host sync."""
        n, c = logits.shape[0], self.num_classes
        if self.mode == "multilabel":
            pred = logits.float().sigmoid() > self.threshold
            pos = target == 1
            if self.ignore_index is not None:
                pred = pred & (target != self.ignore_index)

            def per_image(x: torch.Tensor) -> torch.Tensor:
                return x.reshape(n, c, -1).sum(-1, dtype=torch.int64)

            return per_image(pred & pos), per_image(pred), per_image(pos)
        pred = logits.argmax(1).reshape(n, -1)
        t = target.reshape(n, -1).to(torch.int64)
        keep = torch.ones_like(t) if self.ignore_index is None else (t != self.ignore_index).long()
        t = t * keep  # ignored pixels point at class 0 with a zero weight
        base = torch.arange(n, device=t.device).unsqueeze(1) * c

        def per_image(cls: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            out = torch.zeros(n * c, dtype=torch.int64, device=t.device)
            return out.scatter_add_(0, (base + cls).reshape(-1), weight.reshape(-1)).view(n, c)

        return (
            per_image(t, keep * (pred == t).long()),
            per_image(pred, keep),
            per_image(t, keep),
        )

    def _image_update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        tp, pred_sum, target_sum = self._image_counts(logits, target)
        den = (pred_sum + target_sum).double()
        dice = 2.0 * tp.double() / den.clamp_min(1.0)
        if self.ignore_empty:  # MONAI: no target pixel of the class -> no Dice
            scored = target_sum > 0
        else:  # MONAI ignore_empty=False: empty target scores 1 if nothing is predicted
            dice = torch.where(den > 0, dice, torch.ones_like(dice))
            scored = torch.ones_like(target_sum, dtype=torch.bool)
        dice = torch.where(scored, dice, torch.zeros_like(dice))
        if self._image_sum.device != dice.device:
            self._image_sum = self._image_sum.to(dice.device)
            self._image_count = self._image_count.to(dice.device)
            self._image_mean = self._image_mean.to(dice.device)
        self._image_sum += dice.sum(0)
        self._image_count += scored.sum(0, dtype=torch.int64)
        if not self.include_background:
            dice, scored = dice[:, 1:], scored[:, 1:]
        k = scored.sum(1)
        has = k > 0
        means = dice.sum(1) / k.clamp_min(1)
        self._image_mean += torch.stack([(means * has).sum(), has.sum().double()])

    def _batch_counts(
        self, logits: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.num_classes
        if logits.dim() < 2 or logits.shape[1] != c:
            raise ConfigError(
                f"logits must have shape (N, {c}, *spatial); got {tuple(logits.shape)}"
            )
        if self.mode == "multiclass":
            if target.shape != logits.shape[:1] + logits.shape[2:]:
                raise ConfigError(
                    f"multiclass target must have shape (N, *spatial) = "
                    f"{tuple(logits.shape[:1] + logits.shape[2:])} for logits "
                    f"{tuple(logits.shape)}; got {tuple(target.shape)}"
                )
            if target.is_floating_point():
                raise ConfigError(
                    f"multiclass target must hold integer class indices; got {target.dtype}"
                )
            pred = logits.argmax(1).reshape(-1)
            t = target.reshape(-1).to(torch.int64)
            keep = torch.ones_like(t, dtype=torch.bool)
            if self.ignore_index is not None:
                keep = t != self.ignore_index
            bad = keep & ((t < 0) | (t >= c))
            msg = (
                f"target labels {{}} are neither classes 0..{c - 1} nor "
                f"ignore_index={self.ignore_index}; pass the right num_classes or "
                f"ignore_index"
            )
            _refuse(bad, t, msg)
            # fixed-size counts (slot c collects ignored pixels): no bincount, no host sync
            t_ok = torch.where(keep, t, c)
            hit = torch.where(keep & (pred == t), t, c)
            pred = torch.where(keep, pred, c)
            return _count(hit, c), _count(pred, c), _count(t_ok, c)
        # multilabel
        if target.shape != logits.shape:
            raise ConfigError(
                f"multilabel target must have the shape of the logits {tuple(logits.shape)}; "
                f"got {tuple(target.shape)}"
            )
        pred = logits.float().sigmoid() > self.threshold
        pos = target == 1
        valid = None
        if self.ignore_index is not None:
            valid = target != self.ignore_index
            pred = pred & valid
        bad = ~(pos | (target == 0))
        if valid is not None:
            bad &= valid
        _refuse(
            bad,
            target,
            f"multilabel target values must be 0 or 1 (or ignore_index={self.ignore_index}); "
            "found {}",
        )

        def per_class(x: torch.Tensor) -> torch.Tensor:
            return x.transpose(0, 1).reshape(c, -1).sum(1, dtype=torch.int64)

        return per_class(pred & pos), per_class(pred), per_class(pos)

    def _synced_counts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """tp, pred_sum, target_sum and the non-finite count, summed over ranks if asked."""
        c = self.num_classes
        counts = torch.cat(
            [self.tp, self.pred_sum, self.target_sum, self.nonfinite.reshape(1).to(self.tp)]
        )
        if self._sync_needed():
            counts = counts.clone()
            torch.distributed.all_reduce(counts, group=self.process_group)
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
        if self._sync_needed():
            state = state.clone()
            torch.distributed.all_reduce(state, group=self.process_group)
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

    def _sync_needed(self) -> bool:
        if self.dist_sync is not None:
            return bool(self.dist_sync)
        return (
            torch.distributed.is_available()
            and torch.distributed.is_initialized()
            and torch.distributed.get_world_size(self.process_group) > 1
        )

    def __repr__(self) -> str:
        return (
            f"DiceMetric(num_classes={self.num_classes}, mode={self.mode!r}, "
            f"ignore_index={self.ignore_index}, threshold={self.threshold})"
        )


def _count(idx: torch.Tensor, c: int) -> torch.Tensor:
    """``(C,)`` int64 occurrences of ``0..C-1`` in ``idx`` (value ``C`` is dropped)."""
    out = torch.zeros(c + 1, dtype=torch.int64, device=idx.device)
    return out.scatter_add_(0, idx, torch.ones_like(idx, dtype=torch.int64))[:c]


def _refuse(bad: torch.Tensor, values: torch.Tensor, msg: str) -> None:
    """Raise :class:`UnknownLabelError` for ``values[bad]`` without a GPU sync.

    CPU tensors are checked on the host (the message names the values); CUDA tensors get
    a device-side assert that fails at the next synchronisation.
    """
    if bad.device.type != "cpu":
        torch._assert_async(~bad.any(), msg.format("(on the device)"))
    elif bool(bad.any()):
        found = sorted(set(values[bad].unique()[:10].tolist()))
        raise UnknownLabelError(msg.format(found))
