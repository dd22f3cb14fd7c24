"""Weighted cross entropy (multiclass) and BCE with logits (binary / multilabel).

Both equal their PyTorch namesakes (``F.cross_entropy``, ``F.binary_cross_entropy_with_logits``)
term for term, and differ where PyTorch returns NaN or broadcasts on the wrong axis:

- every pixel ignored: the ``mean`` is 0 with a zero gradient (PyTorch: NaN);
- ``pos_weight`` / ``weight`` of shape ``(C,)`` apply to the channel axis of
  ``(N, C, H, W[, D])`` logits (PyTorch: the last axis);
- BCE takes an ``ignore_index`` (elements equal to it are left out of sum and mean);
- sums run in float32 for half precision input, with autocast off.
"""

from __future__ import annotations

from typing import Any

import torch

from ._functional import (
    activate_sigmoid,
    bce_terms,
    ce_terms,
    no_autocast,
    prepare_channels,
    prepare_labels,
    reduce_pixels,
)
from ._softmax import softmax_terms
from ._weights import (
    WeightedLossMixin,
    check_reduction,
    check_weight_len,
    finite_float,
    resolve_class_weights,
)


def cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross entropy with class weights, as ``F.cross_entropy`` but finite when all is ignored.

    The weighted ``mean`` divides by the sum of ``weight[y]`` over the labelled pixels;
    label smoothing follows PyTorch's formula. When nothing is labelled the mean is 0 and
    the gradient is zero.

    Args:
        logits: ``(N, C, ...)`` float logits (any float dtype; computed in float32).
        target: ``(N, ...)`` or ``(N, 1, ...)`` int64 class indices.
        weight: ``(C,)`` class weights or ``None``.
        ignore_index: label left out of the loss (e.g. 255).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per pixel, shape ``(N, ...)``).
        label_smoothing: in ``[0, 1]``.

    Returns:
        A scalar, or ``(N, ...)`` for ``reduction="none"``, in float32 (float64 for float64
        logits), also for half precision input.

    >>> x = torch.tensor([[[2.0], [0.0]]])
    >>> round(cross_entropy(x, torch.tensor([[0]])).item(), 4)
    0.1269
    >>> cross_entropy(x, torch.tensor([[255]]), ignore_index=255).item()
    0.0
    """
    with no_autocast(logits):
        tgt = prepare_labels(logits, target, ignore_index)
        weight = check_weight_len(weight, logits.shape[1])
        terms = softmax_terms(
            logits, tgt, need_logp=True, smooth_weight=weight, need_smooth=label_smoothing > 0
        )
        per, denom = ce_terms(
            terms.logp_t, terms.smooth, tgt, weight, label_smoothing, logits.shape[1]
        )
        out = reduce_pixels(per, denom, reduction)
    if reduction == "none":
        return out.reshape(logits.shape[:1] + logits.shape[2:])
    return out


def binary_cross_entropy_with_logits(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    pos_weight: torch.Tensor | None = None,
    ignore_index: int | None = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """Multi-label BCE with per-channel ``weight``/``pos_weight`` and an ignore index.

    ``l = -w_c [pos_weight_c t log s(x) + (1 - t) log(1 - s(x))]``; the ``mean`` divides
    by the number of labelled elements (all of them when nothing is ignored, as PyTorch).
    ``weight`` and ``pos_weight`` of shape ``(C,)`` act on channel 1.

    Args:
        logits: ``(N, C, ...)`` float logits.
        target: same shape, 0/1 (or soft in ``[0, 1]``) values; ``(N, ...)`` when ``C == 1``.
        weight: ``(C,)`` per-channel rescaling, or ``None``.
        pos_weight: ``(C,)`` weight of the positive term, e.g. negatives / positives.
        ignore_index: target value left out of the loss, or ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (shape of the logits).

    Returns:
        A scalar, or the per-element loss for ``reduction="none"``.

    >>> x = torch.tensor([[[0.0, 2.0]]])
    >>> round(binary_cross_entropy_with_logits(x, torch.tensor([[[1.0, 0.0]]])).item(), 4)
    1.41
    """
    with no_autocast(logits):
        tgt = prepare_channels(logits, target, ignore_index)
        c = logits.shape[1]
        weight = check_weight_len(weight, c)
        pos_weight = check_weight_len(pos_weight, c, name="pos_weight")
        per = bce_terms(activate_sigmoid(logits), tgt, weight, pos_weight)
        out = reduce_pixels(per, tgt.valid.sum(), reduction)
    return out.reshape(logits.shape) if reduction == "none" else out


class CrossEntropyLoss(WeightedLossMixin):
    """``nn.CrossEntropyLoss`` with class weights as a buffer, finite when all is ignored.

    Args:
        weight: ``(C,)`` class weights: tensor, array, list or ``.pth`` path.
        ignore_index: label left out of the loss (default -100 as PyTorch; 255 is common).
        reduction: ``"mean"`` (weighted: divides by the sum of target weights), ``"sum"``,
            ``"none"``.
        label_smoothing: in ``[0, 1]``, as PyTorch.

    Shapes: logits ``(N, C, ...)``, target ``(N, ...)`` int64.

    >>> loss_fn = CrossEntropyLoss(weight=[1.0, 3.0], ignore_index=255)
    >>> x = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]])
    >>> round(loss_fn(x, torch.tensor([[0, 1]])).item(), 4)
    0.2667
    """

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        class_weights: Any = None,
    ) -> None:
        super().__init__()
        weight = resolve_class_weights(weight, class_weights, type(self).__name__)
        self._set_weight_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)
        self.label_smoothing = _check_smoothing(label_smoothing)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cross_entropy(
            logits, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class BCEWithLogitsLoss(WeightedLossMixin):
    """Multi-label BCE with per-channel ``pos_weight``, ``weight`` and ``ignore_index``.

    Args:
        weight: ``(C,)`` per-channel rescaling (tensor, array, list, ``.pth``), or ``None``.
        pos_weight: ``(C,)`` positive-term weight, e.g. from
            :func:`~classweights.losses.pos_weight_from_stats`; a multi-label
            :class:`~classweights.ClassStats` is accepted directly.
        ignore_index: target value left out (default -100 as ``CrossEntropyLoss``).
        reduction: ``"mean"`` (over labelled elements), ``"sum"``, ``"none"``.

    Shapes: logits ``(N, C, ...)``, target the same shape with 0/1 values.

    >>> loss_fn = BCEWithLogitsLoss(pos_weight=[2.0])
    >>> round(loss_fn(torch.zeros(1, 1, 2), torch.tensor([[1.0, 0.0]])).item(), 4)
    1.0397
    """

    def __init__(
        self,
        weight: Any = None,
        pos_weight: Any = None,
        ignore_index: int | None = -100,
        reduction: str = "mean",
        *,
        class_weights: Any = None,
    ) -> None:
        super().__init__()
        weight = resolve_class_weights(weight, class_weights, type(self).__name__)
        self._set_weight_buffer("weight", weight)
        self._set_weight_buffer("pos_weight", _pos_weight_input(pos_weight))
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return binary_cross_entropy_with_logits(
            logits, target, self.weight, self.pos_weight, self.ignore_index, self.reduction
        )


def _check_smoothing(value: Any) -> float:
    from ..errors import ConfigError

    v = finite_float(value, "label_smoothing")
    if not 0 <= v <= 1:
        raise ConfigError(f"label_smoothing must be in [0, 1], got {value!r}")
    return v


def _pos_weight_input(pos_weight: Any) -> Any:
    """A ClassStats becomes negatives / positives; anything else passes through."""
    if hasattr(pos_weight, "negatives") and hasattr(pos_weight, "multilabel"):
        from ._weights import pos_weight_from_stats

        return pos_weight_from_stats(pos_weight)
    return pos_weight
