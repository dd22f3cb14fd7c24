"""Focal loss: softmax (multiclass) and sigmoid (binary / multilabel).

``alpha`` — the two meanings in the wild, both supported and documented:

- **scalar** ``alpha`` is the RetinaNet factor of the *positive* class. Sigmoid modes: the
  positive target gets ``alpha``, the negative ``1 - alpha`` (exactly
  ``torchvision.ops.sigmoid_focal_loss``). Multiclass softmax: class 0 is the background
  ("negative") and gets ``1 - alpha``; every other class gets ``alpha`` (kornia, MONAI).
- a **vector** ``alpha`` of length ``C`` is a per-class factor: multiclass ``alpha[y]``;
  sigmoid modes ``alpha_c`` for positives and ``1 - alpha_c`` for negatives of channel c.

``alpha`` is a plain factor (not normalised), while ``weight`` is a class weight with the
weighted-mean semantics of ``F.cross_entropy``: the ``mean`` divides by ``sum w[y]`` over
labelled pixels (multiclass) or ``sum w_c`` over labelled elements (sigmoid). Hence
multiclass focal with ``gamma=0``, no ``alpha`` and ``weight=w`` *is* weighted cross
entropy, ``w`` and ``k * w`` give the same loss, and ``weight=None`` gives the per-pixel
mean (not smp's one-vs-rest sigmoid, not MONAI/kornia's mean over ``B*C*pixels``).
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError
from ._functional import (
    ChannelTarget,
    LabelTarget,
    Sigmoid,
    activate_sigmoid,
    class_vector,
    host_checks,
    no_autocast,
    prepare_channels,
    prepare_labels,
    reduce_pixels,
)
from ._softmax import softmax_terms
from ._weights import (
    WeightedLossMixin,
    as_weight_tensor,
    check_mode,
    check_reduction,
    check_weight_len,
    finite_float,
    resolve_class_weights,
)
from .constants import IGNORE_INDEX


def _modulator(
    one_minus_pt: torch.Tensor, gamma: float, nonnegative: bool = False
) -> torch.Tensor | None:
    if gamma == 0:
        return None
    base = one_minus_pt if nonnegative else one_minus_pt.clamp_min(0)
    if gamma < 1:  # d/db b^gamma is infinite at 0: keep the base off 0
        base = base.clamp_min(1e-12)
    return base.pow(gamma)


def focal_terms_labels(
    logp_t: torch.Tensor,
    tgt: LabelTarget,
    gamma: float,
    alpha: torch.Tensor | None,
    weight: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax focal per pixel ``(N, S)`` and its mean denominator ``sum w[y]``.

    ``l = -alpha[y] * w[y] * (1 - p_y)^gamma * log p_y``; with ``gamma=0`` and no alpha it is
    weighted cross entropy term for term.
    """
    per = -logp_t
    mod = _modulator(-torch.expm1(logp_t), gamma, nonnegative=True)  # log p <= 0
    if mod is not None:
        per = per * mod
    a = class_vector(alpha, logp_t)
    if a is not None:
        per = per * a[tgt.index]
    w = class_vector(weight, logp_t)
    w_t = tgt.valid if w is None else w[tgt.index] * tgt.valid
    return per * w_t, w_t.sum()


def focal_terms_channels(
    act: Sigmoid,
    tgt: ChannelTarget,
    gamma: float,
    alpha: torch.Tensor | None,
    weight: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sigmoid focal per element ``(N, C, S)`` and its mean denominator.

    ``l = w_c * alpha_t * (1 - p_t)^gamma * BCE`` with ``p_t = p t + (1-p)(1-t)`` and
    ``alpha_t = alpha t + (1 - alpha)(1 - t)`` (torchvision's ``sigmoid_focal_loss``);
    ``alpha`` is a scalar or one value per channel. The denominator is ``sum w_c`` over
    labelled elements (the element count without weights).
    """
    c = act.prob.shape[1]
    t = tgt.value
    per = -(act.logp * t + act.log1mp * (1 - t))
    mod = _modulator(act.prob + t - 2 * act.prob * t, gamma)
    if mod is not None:
        per = per * mod
    a = class_vector(alpha, per)
    if a is not None:
        a = a.view(1, c, 1) if a.ndim == 1 else a
        per = per * (a * t + (1 - a) * (1 - t))
    w = class_vector(weight, per)
    w_e = tgt.valid if w is None else tgt.valid * w.view(1, c, 1)
    return per * w_e, w_e.sum()


def expand_alpha(alpha: Any, mode: str, num_classes: int) -> torch.Tensor | None:
    """The ``alpha`` the focal terms use: ``None``, a 0-d tensor or a ``(C,)`` vector.

    Multiclass scalars become ``[1 - alpha, alpha, ..., alpha]`` (class 0 is background).

    >>> expand_alpha(0.25, "multiclass", 3)
    tensor([0.7500, 0.2500, 0.2500])
    >>> expand_alpha(0.25, "multilabel", 3)
    tensor(0.2500)
    """
    if alpha is None:
        return None
    a = alpha if isinstance(alpha, torch.Tensor) else as_weight_tensor(alpha, allow_scalar=True)
    check = host_checks(a)  # CUDA buffers were checked when the module was built: no sync
    if a.ndim == 0:
        if check and not 0 <= float(a) <= 1:
            raise ConfigError(f"a scalar alpha must be in [0, 1], got {float(a)}")
        if mode != "multiclass":
            return a
        return torch.where(torch.arange(num_classes, device=a.device) == 0, 1 - a, a)
    a = check_weight_len(a, num_classes, name="alpha")
    if check and mode != "multiclass" and bool((a > 1).any()):
        raise ConfigError(
            f"per-channel alpha for mode={mode!r} weighs positives by alpha_c and negatives by "
            f"1 - alpha_c, so it must be in [0, 1]; got {a.tolist()}"
        )
    return a


def check_alpha(alpha: torch.Tensor | None, mode: str) -> None:
    """Check a stored ``alpha`` once, when a module is built (forward then never syncs)."""
    if alpha is not None:
        expand_alpha(alpha.cpu(), mode, max(alpha.numel(), 2) if alpha.ndim else 2)


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    mode: str = "multiclass",
    *,
    gamma: float = 2.0,
    alpha: Any = None,
    weight: torch.Tensor | None = None,
    ignore_index: int | None = IGNORE_INDEX,
    reduction: str = "mean",
    from_logits: bool = True,
    validate: bool = True,
) -> torch.Tensor:
    """Focal loss ``-alpha_t (1 - p_t)^gamma log p_t`` (Lin et al., 2017).

    See the module docstring for ``alpha`` and the ``mean`` denominator.

    Args:
        logits: ``(N, C, ...)`` logits (probabilities if ``from_logits=False``).
        target: multiclass ``(N, ...)`` int64 indices; sigmoid modes 0/1 of the logits' shape.
        mode: ``"multiclass"`` (softmax), ``"binary"`` or ``"multilabel"`` (sigmoid).
        gamma: focusing parameter ``>= 0``; 0 gives (weighted) CE / BCE.
        alpha: ``None``, a scalar in ``[0, 1]`` or a ``(C,)`` vector.
        weight: ``(C,)`` class weights (weighted mean), or ``None``.
        ignore_index: label (target value) left out, or ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per pixel / per element).
        from_logits: ``False`` if the input holds probabilities.
        validate: check the target (CPU: host-side error; CUDA: device-side assert).

    Returns:
        A scalar, or the per-pixel (multiclass ``(N, ...)``) / per-element loss.

    >>> x = torch.tensor([[[2.0], [0.0]]])
    >>> round(focal_loss(x, torch.tensor([[0]]), gamma=0).item(), 4)
    0.1269
    >>> round(focal_loss(x, torch.tensor([[0]]), gamma=2).item(), 4)
    0.0018
    """
    check_mode(mode)
    check_reduction(reduction)
    gamma = _check_gamma(gamma)
    c = logits.shape[1] if logits.ndim >= 2 else 0
    if mode == "multiclass" and c == 1:
        raise ConfigError(
            "mode='multiclass' needs C >= 2 channels (softmax over 1 channel is constant, "
            "MONAI#2509); use mode='binary' for a single foreground channel"
        )
    if mode == "binary" and c != 1:
        raise ConfigError(f"mode='binary' expects 1 channel, got C={c}; use mode='multilabel'")
    with no_autocast(logits):
        weight = check_weight_len(weight, c)
        a = expand_alpha(alpha, mode, c)
        if mode == "multiclass":
            tgt = prepare_labels(logits, target, ignore_index, validate)
            logp_t = softmax_terms(logits, tgt, need_logp=True, from_logits=from_logits).logp_t
            per, denom = focal_terms_labels(logp_t, tgt, gamma, a, weight)
            shape = logits.shape[:1] + logits.shape[2:]
        else:
            ctgt = prepare_channels(logits, target, ignore_index, validate)
            sact = activate_sigmoid(logits, from_logits)
            per, denom = focal_terms_channels(sact, ctgt, gamma, a, weight)
            shape = logits.shape
        out = reduce_pixels(per, denom, reduction)
    return out.reshape(shape) if reduction == "none" else out


def _check_gamma(gamma: Any) -> float:
    g = finite_float(gamma, "gamma")
    if g < 0:
        raise ConfigError(f"gamma must be >= 0, got {gamma!r}")
    return g


class FocalLoss(WeightedLossMixin):
    """Focal loss with class weights, per-class or scalar ``alpha`` and ``ignore_index``.

    Args:
        mode: ``"multiclass"`` (softmax), ``"binary"`` or ``"multilabel"`` (sigmoid).
        gamma: focusing parameter (default 2.0).
        alpha: ``None`` (default), a scalar positive-class factor in ``[0, 1]`` or a
            ``(C,)`` per-class vector (see :mod:`classweights.losses.focal`).
        weight: ``(C,)`` class weights (tensor, array, list, ``.pth``): weighted mean.
        ignore_index: label left out (default -100).
        reduction: ``"mean"``, ``"sum"``, ``"none"``.
        from_logits: ``False`` if the input holds probabilities.
        validate: check the target every call (CPU: host-side error naming the values;
            CUDA: device-side assert, no sync); ``False`` skips it.

    Shapes: logits ``(N, C, ...)``; target ``(N, ...)`` indices or 0/1 of the logits' shape.

    >>> loss_fn = FocalLoss(gamma=2.0, weight=[1.0, 2.0])
    >>> round(loss_fn(torch.zeros(1, 2, 3), torch.tensor([[0, 1, 1]])).item(), 4)
    0.1733
    """

    def __init__(
        self,
        mode: str = "multiclass",
        gamma: float = 2.0,
        alpha: Any = None,
        weight: Any = None,
        ignore_index: int | None = IGNORE_INDEX,
        reduction: str = "mean",
        from_logits: bool = True,
        *,
        class_weights: Any = None,
        validate: bool = True,
    ) -> None:
        super().__init__()
        weight = resolve_class_weights(weight, class_weights, type(self).__name__)
        self.mode = check_mode(mode)
        self.gamma = _check_gamma(gamma)
        self._set_weight_buffer("weight", weight)
        self._set_weight_buffer("alpha", alpha, allow_scalar=True)
        check_alpha(self.alpha, self.mode)
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)
        self.from_logits = bool(from_logits)
        self.validate = bool(validate)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return focal_loss(
            logits,
            target,
            self.mode,
            gamma=self.gamma,
            alpha=self.alpha,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            from_logits=self.from_logits,
            validate=self.validate,
        )

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, gamma={self.gamma}, ignore_index={self.ignore_index}"
