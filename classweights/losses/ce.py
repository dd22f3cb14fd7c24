"""Weighted cross entropy (multiclass) and BCE with logits (binary / multilabel).

Both equal their PyTorch namesakes (``F.cross_entropy``, ``F.binary_cross_entropy_with_logits``)
term for term, and differ where PyTorch returns NaN or broadcasts on the wrong axis:

- every pixel ignored: the ``mean`` is 0 with a zero gradient (PyTorch: NaN);
- ``pos_weight`` / ``weight`` of shape ``(C,)`` apply to the channel axis of
  ``(N, C, H, W[, D])`` logits (PyTorch: the last axis);
- BCE takes an ``ignore_index`` (elements equal to it are left out of sum and mean);
- sums run in float32 for half precision input, with autocast off.

Cross entropy delegates to ``F.cross_entropy`` (ATen's fused log-softmax + NLL, exact
double backward) with ``reduction="sum"`` and divides by ``sum weight[y]`` itself, which
is how the all-ignored batch stays finite; BCE likewise delegates to
``F.binary_cross_entropy_with_logits`` with the ignore mask folded into its ``weight``. No loss
asks the GPU a question: label checks run on the host for CPU tensors and as device-side
asserts otherwise (``validate=False`` skips them), so a training step has no host-device sync
and compiles with ``torch.compile(fullgraph=True)``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ._functional import (
    class_vector,
    compute_dtype,
    flat,
    no_autocast,
    prepare_channels,
    prepare_labels,
    safe_ratio,
    squeeze_labels,
)
from ._weights import (
    WeightedLossMixin,
    check_reduction,
    check_weight_len,
    finite_float,
    resolve_class_weights,
)
from .constants import IGNORE_INDEX


def cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    *,
    validate: bool = True,
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
        validate: check the labels (host-side for CPU tensors, a device-side assert
            otherwise); ``False`` skips the check.

    Returns:
        A scalar, or ``(N, ...)`` for ``reduction="none"``, in float32 (float64 for float64
        logits), also for half precision input. ``N = 0`` gives 0, connected to the graph.

    >>> x = torch.tensor([[[2.0], [0.0]]])
    >>> round(cross_entropy(x, torch.tensor([[0]])).item(), 4)
    0.1269
    >>> cross_entropy(x, torch.tensor([[255]]), ignore_index=255).item()
    0.0
    """
    check_reduction(reduction)
    with no_autocast(logits):
        target = squeeze_labels(logits, target)
        tgt = prepare_labels(logits, target, ignore_index, validate)
        x = logits.to(compute_dtype(logits))
        w = class_vector(check_weight_len(weight, logits.shape[1]), x)
        ii = IGNORE_INDEX if ignore_index is None else ignore_index
        y = target.long()
        kind = "none" if reduction == "none" else "sum"
        out = F.cross_entropy(
            x, y, w, ignore_index=ii, reduction=kind, label_smoothing=label_smoothing
        )
        if reduction == "mean":  # sum w[y] over labelled pixels; 0 -> loss 0, grad 0
            w_t = tgt.valid if w is None else w[tgt.index] * tgt.valid
            out = safe_ratio(out, w_t.sum())
    return out


def binary_cross_entropy_with_logits(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    pos_weight: torch.Tensor | None = None,
    ignore_index: int | None = IGNORE_INDEX,
    reduction: str = "mean",
    *,
    validate: bool = True,
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
        validate: refuse targets outside ``[0, 1]`` (NaN included); ``False`` skips it.

    Returns:
        A scalar, or the per-element loss for ``reduction="none"``.

    >>> x = torch.tensor([[[0.0, 2.0]]])
    >>> round(binary_cross_entropy_with_logits(x, torch.tensor([[[1.0, 0.0]]])).item(), 4)
    1.41
    """
    with no_autocast(logits):
        tgt = prepare_channels(logits, target, ignore_index, validate)
        c = logits.shape[1]
        weight = check_weight_len(weight, c)
        pos_weight = check_weight_len(pos_weight, c, name="pos_weight")
        x = flat(logits)
        w = class_vector(weight, x)
        elem_w = tgt.valid if w is None else tgt.valid * w.view(1, c, 1)
        pw = class_vector(pos_weight, x)
        per = F.binary_cross_entropy_with_logits(  # ATen's fused kernel, same formula
            x,
            tgt.value,
            weight=elem_w,
            pos_weight=None if pw is None else pw.view(c, 1),
            reduction="none" if reduction == "none" else "sum",
        )
        out = per if reduction != "mean" else safe_ratio(per, tgt.valid.sum())
    return out.reshape(logits.shape) if reduction == "none" else out


class CrossEntropyLoss(WeightedLossMixin):
    """``nn.CrossEntropyLoss`` with class weights as a buffer, finite when all is ignored.

    Args:
        weight: ``(C,)`` class weights: tensor, array, list or ``.pth`` path.
        ignore_index: label left out of the loss (default -100 as PyTorch; 255 is common).
        reduction: ``"mean"`` (weighted: divides by the sum of target weights), ``"sum"``,
            ``"none"``.
        label_smoothing: in ``[0, 1]``, as PyTorch.
        validate: check labels each call (CPU: host-side, clear error; CUDA: device-side
            assert, no sync); ``False`` skips the check.

    Shapes: logits ``(N, C, ...)``, target ``(N, ...)`` int64.

    >>> loss_fn = CrossEntropyLoss(weight=[1.0, 3.0], ignore_index=255)
    >>> x = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]])
    >>> round(loss_fn(x, torch.tensor([[0, 1]])).item(), 4)
    0.2667
    """

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = IGNORE_INDEX,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        class_weights: Any = None,
        validate: bool = True,
    ) -> None:
        super().__init__()
        weight = resolve_class_weights(weight, class_weights, type(self).__name__)
        self._set_weight_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)
        self.label_smoothing = _check_smoothing(label_smoothing)
        self.validate = bool(validate)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cross_entropy(
            logits,
            target,
            self.weight,
            self.ignore_index,
            self.reduction,
            self.label_smoothing,
            validate=self.validate,
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
        validate: refuse targets outside ``[0, 1]`` (CPU: host-side; CUDA: device-side).

    Shapes: logits ``(N, C, ...)``, target the same shape with 0/1 values.

    >>> loss_fn = BCEWithLogitsLoss(pos_weight=[2.0])
    >>> round(loss_fn(torch.zeros(1, 1, 2), torch.tensor([[1.0, 0.0]])).item(), 4)
    1.0397
    """

    def __init__(
        self,
        weight: Any = None,
        pos_weight: Any = None,
        ignore_index: int | None = IGNORE_INDEX,
        reduction: str = "mean",
        *,
        class_weights: Any = None,
        validate: bool = True,
    ) -> None:
        super().__init__()
        weight = resolve_class_weights(weight, class_weights, type(self).__name__)
        self._set_weight_buffer("weight", weight)
        self._set_weight_buffer("pos_weight", _pos_weight_input(pos_weight))
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)
        self.validate = bool(validate)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return binary_cross_entropy_with_logits(
            logits,
            target,
            self.weight,
            self.pos_weight,
            self.ignore_index,
            self.reduction,
            validate=self.validate,
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
