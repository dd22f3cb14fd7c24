"""Soft Dice loss: multiclass (softmax, index targets) and binary/multilabel (sigmoid).

Policy for classes absent from the target (pinned by tests)
-----------------------------------------------------------
Dice is computed per class (per sample, or over the whole batch with ``batch=True``) as
``loss_c = 1 - (2 I_c + smooth) / (P_c + G_c + smooth)`` with ``I`` the soft
intersection, ``P`` the predicted mass and ``G`` the target mass over labelled pixels.

- ``smooth > 0`` (default 1.0): every class counts in the class mean. A class absent from
  the target scores ``P_c / (P_c + smooth)``: 0 when it is not predicted, rising towards 1
  as probability mass is put on it, so false positives on absent classes are penalised
  (as MONAI and nnU-Net do, unlike smp which zeroes them).
- ``smooth == 0``: the Dice of an absent class is undefined (``0 / P_c``), so absent
  classes are left out of the mean, weights included (kornia 0.9's macro rule). A volume
  in which no counted class is present has loss 0 and zero gradient.

Class weights form a weighted mean ``sum_c w_c l_c / sum_c w_c`` over the counted classes,
so ``w`` and ``k * w`` give the same loss and the loss stays in ``[0, 1]``. Ignored pixels
are removed from both prediction and target before any sum.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError
from ._functional import (
    dice_stats_channels,
    flat,
    no_autocast,
    prepare_channels,
    prepare_labels,
    reduce_dice,
)
from ._softmax import softmax_terms
from ._weights import (
    WeightedLossMixin,
    check_mode,
    check_reduction,
    check_weight_len,
    finite_float,
    resolve_class_weights,
)
from .constants import IGNORE_INDEX


def dice_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    mode: str = "multiclass",
    *,
    weight: torch.Tensor | None = None,
    smooth: float = 1.0,
    ignore_index: int | None = IGNORE_INDEX,
    square_denominator: bool = False,
    batch: bool = False,
    include_background: bool = True,
    from_logits: bool = True,
    reduction: str = "mean",
    validate: bool = True,
) -> torch.Tensor:
    """Soft Dice loss; see the module docstring for the absent-class policy.

    Args:
        logits: ``(N, C, ...)`` logits (probabilities if ``from_logits=False``), any float
            dtype; sums run in float32.
        target: multiclass: ``(N, ...)`` int64 class indices; binary/multilabel: 0/1
            channels of the logits' shape (``(N, ...)`` allowed when ``C == 1``).
        mode: ``"multiclass"`` (softmax), ``"binary"`` or ``"multilabel"`` (sigmoid).
        weight: ``(C,)`` class weights (or ``C - 1`` without background), or ``None``.
        smooth: added to numerator and denominator, ``>= 0``.
        ignore_index: label (or target value) whose pixels are removed, or ``None``.
        square_denominator: ``sum p^2 + sum g^2`` in the denominator (V-Net).
        batch: one Dice per class over the whole batch instead of per sample.
        include_background: count class 0 in the mean (multiclass/multilabel).
        from_logits: apply softmax/sigmoid; ``False`` when passing probabilities.
        reduction: ``"mean"`` / ``"sum"`` over samples, or ``"none"`` for per-sample
            losses ``(N,)`` (``(1,)`` with ``batch=True``).
        validate: check the target (CPU: host-side error; CUDA: device-side assert).

    Returns:
        A scalar in ``[0, 1]`` (``reduction="mean"``) in float32 (float64 for float64
        logits), also for half precision input. A NaN logit gives a NaN loss (never
        masked); an empty batch (``N = 0``) gives 0, connected to the graph.

    >>> x = torch.tensor([[[[4.0, -4.0]], [[-4.0, 4.0]]]])  # (1, 2, 1, 2)
    >>> round(dice_loss(x, torch.tensor([[[0, 1]]])).item(), 4)
    0.0002
    >>> round(dice_loss(x, torch.tensor([[[1, 0]]]), smooth=0).item(), 4)
    0.9997
    """
    check_mode(mode)
    check_reduction(reduction)
    smooth = _check_smooth(smooth)
    c = logits.shape[1] if logits.ndim >= 2 else 0
    if not include_background and mode == "binary":
        raise ConfigError(
            "include_background=False has no meaning for mode='binary' (its one channel is the "
            "foreground); use include_background=True or mode='multilabel'"
        )
    if mode == "binary" and c != 1:
        raise ConfigError(
            f"mode='binary' expects logits with 1 channel, got C={c}; use mode='multilabel' "
            "for several 0/1 channels or mode='multiclass' for one label per pixel"
        )
    if mode == "multiclass" and c == 1:
        raise ConfigError(
            "mode='multiclass' needs C >= 2 channels (softmax over 1 channel is constant); "
            "use mode='binary' for a single foreground channel"
        )
    with no_autocast(logits):
        weight = check_weight_len(weight, c, include_background=include_background)
        if mode == "multiclass":
            tgt = prepare_labels(logits, target, ignore_index, validate)
            stats = softmax_terms(
                logits, tgt, need_dice=True, square=square_denominator, from_logits=from_logits
            ).dice
        else:
            ctgt = prepare_channels(logits, target, ignore_index, validate)
            x = flat(logits)
            prob = torch.sigmoid(x) if from_logits else x
            stats = dice_stats_channels(prob, ctgt, square_denominator)
        out = reduce_dice(
            stats,
            smooth=smooth,
            weight=weight,
            batch=batch,
            include_background=include_background,
            reduction=reduction,
        )
    return out


def _check_smooth(smooth: Any) -> float:
    v = finite_float(smooth, "smooth")
    if v < 0:
        raise ConfigError(f"smooth must be >= 0, got {smooth!r}")
    return v


class DiceLoss(WeightedLossMixin):
    """Soft Dice loss with class weights, ``ignore_index`` and a pinned absent-class policy.

    See the module docstring of :mod:`classweights.losses.dice` for the exact formula and
    what happens to classes absent from the target.

    Args:
        mode: ``"multiclass"`` (softmax over logits, index targets), ``"binary"`` or
            ``"multilabel"`` (sigmoid, 0/1 channel targets).
        weight: ``(C,)`` class weights (tensor, array, list, ``.pth``); a weighted mean, so
            only ratios matter. With ``include_background=False`` ``C - 1`` values also work.
        smooth: added to numerator and denominator (default 1.0).
        ignore_index: removed from prediction and target (default -100; 255 is common).
        square_denominator: ``sum p^2 + sum g^2`` in the denominator.
        batch: one Dice volume for the whole batch instead of per sample then mean.
        include_background: count class 0 in the class mean.
        from_logits: ``False`` if the input already holds probabilities.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` over samples.
        validate: check the target every call (CPU: host-side error naming the values;
            CUDA: device-side assert, no sync); ``False`` skips it.

    Shapes: logits ``(N, C, H, W)`` or ``(N, C, D, H, W)``; target ``(N, H, W)`` indices
    (multiclass) or the logits' shape (binary/multilabel).

    >>> loss_fn = DiceLoss(weight=[1.0, 1.0], ignore_index=255)
    >>> x = torch.zeros(1, 2, 1, 2)
    >>> round(loss_fn(x, torch.tensor([[[0, 255]]])).item(), 4)
    0.2667
    """

    def __init__(
        self,
        mode: str = "multiclass",
        weight: Any = None,
        smooth: float = 1.0,
        ignore_index: int | None = IGNORE_INDEX,
        square_denominator: bool = False,
        batch: bool = False,
        include_background: bool = True,
        from_logits: bool = True,
        reduction: str = "mean",
        *,
        class_weights: Any = None,
        validate: bool = True,
    ) -> None:
        super().__init__()
        weight = resolve_class_weights(weight, class_weights, type(self).__name__)
        self.mode = check_mode(mode)
        if not include_background and mode == "binary":
            raise ConfigError(
                "include_background=False has no meaning for mode='binary'; "
                "use include_background=True or mode='multilabel'"
            )
        self._set_weight_buffer("weight", weight)
        self.smooth = _check_smooth(smooth)
        self.ignore_index = ignore_index
        self.square_denominator = bool(square_denominator)
        self.batch = bool(batch)
        self.include_background = bool(include_background)
        self.from_logits = bool(from_logits)
        self.reduction = check_reduction(reduction)
        self.validate = bool(validate)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return dice_loss(
            logits,
            target,
            self.mode,
            weight=self.weight,
            smooth=self.smooth,
            ignore_index=self.ignore_index,
            square_denominator=self.square_denominator,
            batch=self.batch,
            include_background=self.include_background,
            from_logits=self.from_logits,
            reduction=self.reduction,
            validate=self.validate,
        )

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, smooth={self.smooth}, ignore_index={self.ignore_index}"
