"""Compound losses: CE + Dice, BCE + Dice, focal + Dice, and a weighted list of losses.

The compound losses apply the activation once (softmax for ``multiclass``, sigmoid for
``binary``/``multilabel``) and feed the same probabilities to both terms, which share the
class ``weight`` and ``ignore_index`` (MONAI's DiceFocalLoss mixes a softmax Dice with a
sigmoid focal term; here the mode decides both). A term whose factor is 0 is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ._functional import (
    activate_sigmoid,
    bce_terms,
    ce_terms,
    compute_dtype,
    dice_stats_channels,
    no_autocast,
    prepare_channels,
    prepare_labels,
    reduce_dice,
    reduce_pixels,
)
from ._softmax import softmax_terms
from ._weights import (
    WeightedLossMixin,
    check_mode,
    check_weight_len,
    finite_float,
    resolve_class_weights,
)
from .ce import _check_smoothing, _pos_weight_input
from .constants import IGNORE_INDEX
from .dice import _check_smooth
from .focal import (
    _check_gamma,
    check_alpha,
    expand_alpha,
    focal_terms_channels,
    focal_terms_labels,
)


def _factor(value: Any, name: str) -> float:
    v = finite_float(value, name)
    if v < 0:
        raise ConfigError(f"{name} must be >= 0, got {value!r}")
    return v


class _PixelPlusDice(WeightedLossMixin):
    """``pixel_factor * pixel_term + dice_weight * dice`` from one activation."""

    pixel_factor: float
    dice_weight: float
    _label_smoothing: float = 0.0
    validate: bool = True  # check targets each call (CPU: host-side; CUDA: device assert)

    def _init_common(
        self,
        mode: str,
        weight: Any,
        ignore_index: int | None,
        smooth: float,
        square_denominator: bool,
        batch: bool,
        include_background: bool,
    ) -> None:
        self.mode = check_mode(mode)
        if not include_background and mode == "binary":
            raise ConfigError("include_background=False has no meaning for mode='binary'")
        self._set_weight_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.smooth = _check_smooth(smooth)
        self.square_denominator = bool(square_denominator)
        self.batch = bool(batch)
        self.include_background = bool(include_background)

    def _pixel_term(self, act: Any, tgt: Any, weight: torch.Tensor | None, c: int) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss of ``(N, C, ...)`` logits against index (multiclass) or 0/1 targets."""
        c = logits.shape[1] if logits.ndim >= 2 else 0
        if (self.mode == "binary" and c != 1) or (self.mode == "multiclass" and c < 2):
            raise ConfigError(
                f"mode={self.mode!r} does not fit logits with C={c} channels; use 'binary' for "
                "one channel, 'multiclass' (C >= 2) or 'multilabel' for several"
            )
        with no_autocast(logits):
            weight = check_weight_len(self.weight, c)
            use_pixel, use_dice = bool(self.pixel_factor), bool(self.dice_weight)
            if self.mode == "multiclass":
                tgt = prepare_labels(logits, target, self.ignore_index, self.validate)
                act: Any = softmax_terms(
                    logits,
                    tgt,
                    need_logp=use_pixel,
                    smooth_weight=weight,
                    need_smooth=use_pixel and self._label_smoothing > 0,
                    need_dice=use_dice,
                    square=self.square_denominator,
                )
                stats = act.dice
            else:
                tgt = prepare_channels(logits, target, self.ignore_index, self.validate)
                act = activate_sigmoid(logits)
                stats = dice_stats_channels(act.prob, tgt, self.square_denominator)
            total = torch.zeros((), dtype=compute_dtype(logits), device=logits.device)
            if use_pixel:
                total = total + self.pixel_factor * self._pixel_term(act, tgt, weight, c)
            if use_dice:
                dice = reduce_dice(
                    stats,
                    smooth=self.smooth,
                    weight=weight,
                    batch=self.batch,
                    include_background=self.include_background,
                    reduction="mean",
                )
                total = total + self.dice_weight * dice
        return total


class CombinedLoss(_PixelPlusDice):
    """``ce_weight * CE + dice_weight * Dice`` sharing class weights and ``ignore_index``.

    Multiclass: weighted cross entropy (``F.cross_entropy`` semantics) + softmax Dice.
    Binary/multilabel: BCE with logits (``pos_weight`` per channel) + sigmoid Dice.
    The Dice part follows :class:`~classweights.losses.DiceLoss` (same absent-class policy);
    with ``include_background=False`` the Dice part drops class 0 while CE keeps all ``C``
    weights, so ``weight`` always has ``C`` values.

    Args:
        ce_weight: factor of the CE/BCE term (default 0.6).
        dice_weight: factor of the Dice term (default 0.4).
        weight: ``(C,)`` class weights (tensor, array, list, ``.pth``), shared by both terms.
        ignore_index: label left out of both terms.
        mode: ``"multiclass"``, ``"binary"`` or ``"multilabel"``.
        smooth, square_denominator, batch, include_background: as ``DiceLoss``.
        label_smoothing: of the CE term (multiclass).
        pos_weight: ``(C,)`` BCE positive weight (binary/multilabel), or multi-label stats.
        validate: check the target every call (CPU: host-side error; CUDA: device-side
            assert, no sync); ``False`` skips it.

    >>> loss_fn = CombinedLoss(weight=[1.0, 2.0], ignore_index=255)
    >>> x = torch.zeros(1, 2, 2, 2)
    >>> round(loss_fn(x, torch.tensor([[[0, 1], [1, 255]]])).item(), 4)
    0.5619
    """

    def __init__(
        self,
        ce_weight: float = 0.6,
        dice_weight: float = 0.4,
        weight: Any = None,
        ignore_index: int | None = IGNORE_INDEX,
        mode: str = "multiclass",
        smooth: float = 1.0,
        square_denominator: bool = False,
        batch: bool = False,
        include_background: bool = True,
        label_smoothing: float = 0.0,
        pos_weight: Any = None,
        *,
        class_weights: Any = None,
        validate: bool = True,
    ) -> None:
        super().__init__()
        weight = resolve_class_weights(weight, class_weights, type(self).__name__)
        self._init_common(
            mode, weight, ignore_index, smooth, square_denominator, batch, include_background
        )
        self.validate = bool(validate)
        self.pixel_factor = self.ce_weight = _factor(ce_weight, "ce_weight")
        self.dice_weight = _factor(dice_weight, "dice_weight")
        self.label_smoothing = self._label_smoothing = _check_smoothing(label_smoothing)
        if pos_weight is not None and mode == "multiclass":
            raise ConfigError("pos_weight is for mode='binary'/'multilabel' (BCE); use weight")
        if label_smoothing and mode != "multiclass":
            raise ConfigError("label_smoothing applies to the multiclass CE term only")
        self._set_weight_buffer("pos_weight", _pos_weight_input(pos_weight))

    def _pixel_term(self, act: Any, tgt: Any, weight: torch.Tensor | None, c: int) -> torch.Tensor:
        if self.mode == "multiclass":
            per, denom = ce_terms(act.logp_t, act.smooth, tgt, weight, self.label_smoothing, c)
        else:
            pos_weight = check_weight_len(self.pos_weight, c, name="pos_weight")
            per = bce_terms(act, tgt, weight, pos_weight)
            denom = tgt.valid.sum()
        return reduce_pixels(per, denom, "mean")


class BCEDiceLoss(CombinedLoss):
    """``bce_weight * BCE + dice_weight * Dice`` for binary / multilabel outputs.

    The defaults 0.3 / 0.7 are the first stage of the seed configs' BCE:Dice schedule.
    See :class:`CombinedLoss` for the other arguments.

    >>> loss_fn = BCEDiceLoss(pos_weight=[3.0])
    >>> round(loss_fn(torch.zeros(1, 1, 2), torch.tensor([[[1.0, 0.0]]])).item(), 4)
    0.6492
    """

    def __init__(
        self,
        bce_weight: float = 0.3,
        dice_weight: float = 0.7,
        weight: Any = None,
        pos_weight: Any = None,
        ignore_index: int | None = IGNORE_INDEX,
        mode: str = "multilabel",
        smooth: float = 1.0,
        square_denominator: bool = False,
        batch: bool = False,
        include_background: bool = True,
        *,
        class_weights: Any = None,
        validate: bool = True,
    ) -> None:
        weight = resolve_class_weights(weight, class_weights, type(self).__name__)
        if mode == "multiclass":
            raise ConfigError(
                "BCEDiceLoss is for mode='binary' or 'multilabel'; for one label "
                "per pixel use CombinedLoss (CE + Dice)"
            )
        super().__init__(
            ce_weight=bce_weight,
            dice_weight=dice_weight,
            weight=weight,
            ignore_index=ignore_index,
            mode=mode,
            smooth=smooth,
            square_denominator=square_denominator,
            batch=batch,
            include_background=include_background,
            pos_weight=pos_weight,
            validate=validate,
        )
        self.bce_weight = self.ce_weight


class FocalDiceLoss(_PixelPlusDice):
    """``focal_weight * Focal + dice_weight * Dice`` with one activation for both.

    Softmax focal + softmax Dice for ``multiclass``; sigmoid focal + sigmoid Dice otherwise
    (see :class:`~classweights.losses.FocalLoss` for ``alpha``, ``gamma`` and ``weight``).

    >>> loss_fn = FocalDiceLoss(dice_weight=0.5)
    >>> round(loss_fn(torch.zeros(1, 2, 2), torch.tensor([[0, 1]])).item(), 4)
    0.34
    """

    def __init__(
        self,
        focal_weight: float = 1.0,
        dice_weight: float = 1.0,
        gamma: float = 2.0,
        alpha: Any = None,
        weight: Any = None,
        ignore_index: int | None = IGNORE_INDEX,
        mode: str = "multiclass",
        smooth: float = 1.0,
        square_denominator: bool = False,
        batch: bool = False,
        include_background: bool = True,
        *,
        class_weights: Any = None,
        validate: bool = True,
    ) -> None:
        super().__init__()
        weight = resolve_class_weights(weight, class_weights, type(self).__name__)
        self._init_common(
            mode, weight, ignore_index, smooth, square_denominator, batch, include_background
        )
        self.validate = bool(validate)
        self.pixel_factor = self.focal_weight = _factor(focal_weight, "focal_weight")
        self.dice_weight = _factor(dice_weight, "dice_weight")
        self.gamma = _check_gamma(gamma)
        self._set_weight_buffer("alpha", alpha, allow_scalar=True)
        check_alpha(self.alpha, self.mode)

    def _pixel_term(self, act: Any, tgt: Any, weight: torch.Tensor | None, c: int) -> torch.Tensor:
        alpha = expand_alpha(self.alpha, self.mode, c)
        if self.mode == "multiclass":
            per, denom = focal_terms_labels(act.logp_t, tgt, self.gamma, alpha, weight)
        else:
            per, denom = focal_terms_channels(act, tgt, self.gamma, alpha, weight)
        return reduce_pixels(per, denom, "mean")


class MixedLoss(nn.Module):
    """A weighted sum of losses ``sum_i w_i * loss_i(logits, target)``.

    The form of the seed configs (``loss_name: Mixed``); a staged scheduler changes the
    factors in place with :meth:`set_weights` (e.g. 0.3/0.7 -> 0.2/0.8). The factors are
    saved in ``state_dict`` (extra state), so a resumed run keeps its stage.

    Args:
        losses: the component modules, each called as ``loss(logits, target)``.
        weights: one finite factor ``>= 0`` per loss, not all zero (default: equal).
        names: names for logging (default: the class names).

    >>> from classweights.losses import BCEWithLogitsLoss, DiceLoss
    >>> mixed = MixedLoss([BCEWithLogitsLoss(), DiceLoss(mode="multilabel")], [0.3, 0.7])
    >>> mixed.set_weights([0.2, 0.8])
    >>> mixed.components
    [('BCEWithLogitsLoss', 0.2), ('DiceLoss', 0.8)]
    >>> round(mixed(torch.zeros(1, 1, 2), torch.tensor([[[1.0, 0.0]]])).item(), 4)
    0.4053
    """

    def __init__(
        self,
        losses: Sequence[nn.Module],
        weights: Sequence[float] | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        losses = list(losses)
        if not losses or not all(isinstance(m, nn.Module) for m in losses):
            raise ConfigError("MixedLoss needs a non-empty list of loss modules")
        self.losses = nn.ModuleList(losses)
        self.names = [type(m).__name__ for m in losses] if names is None else list(names)
        if len(self.names) != len(losses):
            raise ConfigError(f"{len(self.names)} names for {len(losses)} losses")
        self.weights: list[float] = []
        self.set_weights([1.0 / len(losses)] * len(losses) if weights is None else weights)

    def set_weights(self, weights: Sequence[float]) -> None:
        """Replace the factors in place (validated: finite, ``>= 0``, not all 0, one per loss)."""
        try:
            values = [float(w) for w in weights]
        except (TypeError, ValueError):
            raise ConfigError(f"MixedLoss weights must be numbers, got {weights!r}") from None
        if len(values) != len(self.losses):
            raise ConfigError(
                f"MixedLoss has {len(self.losses)} losses ({', '.join(self.names)}) but got "
                f"{len(values)} weights {values}"
            )
        if not all(math.isfinite(w) and w >= 0 for w in values) or not any(values):
            raise ConfigError(
                f"MixedLoss weights must be finite, >= 0 and not all zero, got {values}"
            )
        self.weights = values

    @property
    def components(self) -> list[tuple[str, float]]:
        """``(name, weight)`` of each component, for logging."""
        return list(zip(self.names, self.weights, strict=False))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total: torch.Tensor | None = None
        for w, loss_fn in zip(self.weights, self.losses, strict=False):
            if w == 0:
                continue
            term = w * loss_fn(logits, target)
            total = term if total is None else total + term
        if total is None:  # only if `weights` was overwritten by hand with zeros
            return logits.sum() * 0.0
        return total

    def get_extra_state(self) -> dict[str, Any]:
        return {"weights": list(self.weights), "names": list(self.names)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.set_weights(state["weights"])

    def extra_repr(self) -> str:
        return ", ".join(f"{n}={w:g}" for n, w in self.components)
