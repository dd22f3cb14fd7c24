"""The math shared by every loss: input checks, activations and per-class sums.

Private stages, chained by the public functional twins in ``ce.py``, ``dice.py``,
``focal.py`` and reused by the modules (the torchmetrics pattern):

``_prepare_*`` (shapes, ignore mask, float32/float64 compute dtype)
-> ``activate_*`` (softmax / sigmoid once, in log space)
-> ``*_terms`` / ``dice_stats_*`` (per-pixel terms, per-class sums)
-> ``reduce_*`` (weighted means with a safe denominator).

Every sum runs in float32 (float64 stays float64) with autocast switched off, so half
precision inputs cannot overflow at 65504. Denominators are made safe *before* dividing,
so an unused ``0/0`` branch never sends a NaN into the backward pass.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ._weights import check_reduction


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 for float64 input (gradcheck), float32 for everything else.

    >>> compute_dtype(torch.zeros(1, dtype=torch.bfloat16))
    torch.float32
    """
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def no_autocast(x: torch.Tensor) -> Any:
    """A context that switches autocast off on ``x``'s device (we choose dtypes ourselves).

    >>> with no_autocast(torch.zeros(1)):
    ...     torch.is_autocast_enabled("cpu")
    False
    """
    try:
        return torch.autocast(device_type=x.device.type, enabled=False)
    except RuntimeError:  # device type without autocast support
        return nullcontext()


def _check_logits(logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise ConfigError(
            f"logits must be a floating point tensor (N, C, ...), got "
            f"{type(logits).__name__} {getattr(logits, 'dtype', '')}"
        )
    if logits.ndim < 2:
        raise ConfigError(f"logits must have shape (N, C, ...), got {tuple(logits.shape)}")


def host_checks(t: torch.Tensor) -> bool:
    """Whether a check may read ``t``'s values on the host without a device sync.

    True for CPU tensors outside ``torch.compile``: they are checked eagerly and get a
    :class:`ConfigError` naming the bad values. Everything else (CUDA tensors, traced code)
    is checked on the device with ``torch._assert_async``: no host-device sync, and the
    error surfaces at the next sync, like PyTorch's own index checks in ``cross_entropy``.

    >>> host_checks(torch.zeros(1))
    True
    """
    return t.device.type == "cpu" and not compiling()


def compiling() -> bool:
    """Whether ``torch.compile`` is tracing (torch < 2.3 has only ``torch._dynamo``'s test)."""
    fn = getattr(torch.compiler, "is_compiling", None) or torch._dynamo.is_compiling
    return bool(fn())


def spatial_size(shape: torch.Size) -> int:
    """Pixels per sample of ``(N, C, ...)`` (or ``(N, ...)`` from index 2 on): never -1.

    ``reshape(n, -1)`` fails for an empty batch; the explicit size works for ``N = 0``.

    >>> spatial_size(torch.Size([0, 3, 4, 5]))
    20
    """
    return math.prod(shape[2:])


class LabelTarget(NamedTuple):
    """A class-index target flattened to ``(N, S)``."""

    index: torch.Tensor  # (N, S) int64, ignored pixels set to 0
    valid: torch.Tensor  # (N, S) compute dtype, 1 for labelled pixels, 0 for ignored
    all_valid: bool  # no pixel is ignored (lets the kernels skip the mask)


def squeeze_labels(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Check a class-index target's shape and dtype; ``(N, 1, ...)`` becomes ``(N, ...)``.

    >>> squeeze_labels(torch.zeros(2, 3, 4), torch.zeros(2, 1, 4, dtype=torch.long)).shape
    torch.Size([2, 4])
    """
    _check_logits(logits)
    n, c = logits.shape[:2]
    spatial = tuple(logits.shape[2:])
    if target.ndim == logits.ndim and target.ndim > 1 and target.shape[1] == 1 and c != 1:
        target = target.squeeze(1)
    if tuple(target.shape) != (n, *spatial):
        raise ConfigError(
            f"multiclass target must have shape (N, ...) = {(n, *spatial)} (class indices) for "
            f"logits {tuple(logits.shape)}, got {tuple(target.shape)}; for 0/1 channel targets "
            "use mode='multilabel'"
        )
    if target.is_floating_point() or target.dtype == torch.bool:
        raise ConfigError(
            f"multiclass target must hold integer class indices, got dtype {target.dtype}; "
            "use target.long(), or mode='multilabel' for 0/1 channels"
        )
    return target


def check_label_range(
    y: torch.Tensor, valid: torch.Tensor, c: int, ignore_index: int | None, index: Any = None
) -> None:
    """Refuse labels outside ``[0, C)`` that are not ``ignore_index`` (see :func:`host_checks`)."""
    if not host_checks(y):
        bad = valid & ((y < 0) | (y >= c))
        torch._assert_async(
            ~bad.any(),
            f"target holds labels outside 0..{c - 1} (C={c}) that are not "
            f"ignore_index={ignore_index}; set ignore_index to the void label or remap labels",
        )
        return
    if not y.numel():
        return
    lo, hi = torch.aminmax(torch.where(valid, y, 0) if index is None else index)
    if int(lo) < 0 or int(hi) >= c:
        bad = valid & ((y < 0) | (y >= c))
        found = sorted({int(v) for v in y[bad].unique()[:5].tolist()})
        raise ConfigError(
            f"target holds labels {found} outside 0..{c - 1} (C={c} channels) that are not "
            f"ignore_index={ignore_index}; set ignore_index to the void label (e.g. 255) "
            "or remap the labels"
        )


def prepare_labels(
    logits: torch.Tensor,
    target: torch.Tensor,
    ignore_index: int | None,
    validate: bool = True,
) -> LabelTarget:
    """Check a class-index target against ``(N, C, ...)`` logits and flatten it.

    Accepts ``(N, ...)`` or ``(N, 1, ...)`` integer targets. Labels outside ``[0, C)``
    that are not ``ignore_index`` raise a :class:`ConfigError` naming them (CPU), or a
    device-side assert (CUDA, ``torch.compile``); ``validate=False`` skips the check.
    No host-device sync on a GPU.

    >>> t = prepare_labels(torch.zeros(1, 3, 2), torch.tensor([[2, 255]]), 255)
    >>> t.index.tolist(), t.valid.tolist()
    ([[2, 0]], [[1.0, 0.0]])
    """
    target = squeeze_labels(logits, target)
    n, c = logits.shape[:2]
    y = target.reshape(n, spatial_size(logits.shape)).long()
    if ignore_index is None:
        valid = torch.ones_like(y, dtype=torch.bool)
        all_valid = True
    else:
        valid = y != ignore_index
        # a host flag (skips masks) only where reading it costs no sync
        all_valid = host_checks(y) and bool(valid.all())
    zero = torch.zeros((), dtype=y.dtype, device=y.device)
    index = y if all_valid else torch.where(valid, y, zero)
    if validate:
        check_label_range(y, valid, c, ignore_index, index)
    return LabelTarget(index, valid.to(compute_dtype(logits)), all_valid)


class ChannelTarget(NamedTuple):
    """A 0/1 (or soft) per-channel target flattened to ``(N, C, S)``."""

    value: torch.Tensor  # (N, C, S) compute dtype in [0, 1], 0 where ignored
    valid: torch.Tensor  # (N, C, S) compute dtype, 1 for labelled elements


def prepare_channels(
    logits: torch.Tensor,
    target: torch.Tensor,
    ignore_index: int | None,
    validate: bool = True,
) -> ChannelTarget:
    """Check a binary/multilabel target (same shape as the logits) and flatten it.

    A binary ``(N, ...)`` target for ``(N, 1, ...)`` logits is accepted. Elements equal to
    ``ignore_index`` are ignored; other values must lie in ``[0, 1]`` (NaN is refused):
    a :class:`ConfigError` on CPU, a device-side assert on CUDA / under ``torch.compile``.

    >>> t = prepare_channels(torch.zeros(1, 2, 2), torch.tensor([[[1, 0], [255, 1]]]), 255)
    >>> t.value.tolist(), t.valid.tolist()
    ([[[1.0, 0.0], [0.0, 1.0]]], [[[1.0, 1.0], [0.0, 1.0]]])
    """
    _check_logits(logits)
    n, c = logits.shape[:2]
    if c == 1 and target.ndim == logits.ndim - 1:
        target = target.unsqueeze(1)
    if target.shape != logits.shape:
        raise ConfigError(
            f"binary/multilabel target must have the shape of the logits {tuple(logits.shape)} "
            f"(one 0/1 channel per class), got {tuple(target.shape)}; for class-index targets "
            "use mode='multiclass'"
        )
    dtype = compute_dtype(logits)
    t = target.reshape(n, c, spatial_size(logits.shape))
    valid = torch.ones_like(t, dtype=torch.bool) if ignore_index is None else t != ignore_index
    t = torch.where(valid, t.to(dtype), torch.zeros((), dtype=dtype, device=t.device))
    if validate:
        bad = ~((t >= 0) & (t <= 1))  # NaN compares False: refused too
        if not host_checks(t):
            torch._assert_async(
                ~bad.any(),
                f"binary/multilabel target values must be in [0, 1] (or ignore_index="
                f"{ignore_index}); set ignore_index to the void label",
            )
        elif t.numel() and bool(bad.any()):
            found = sorted({float(v) for v in t[bad].unique()[:5].tolist()}, key=str)
            raise ConfigError(
                f"binary/multilabel target values must be in [0, 1] (or ignore_index="
                f"{ignore_index}), found {found}; set ignore_index to the void label (e.g. 255)"
            )
    return ChannelTarget(t, valid.to(dtype))


def flat(logits: torch.Tensor) -> torch.Tensor:
    """``(N, C, ...)`` -> ``(N, C, S)`` in the compute dtype (copies only if it must)."""
    n, c = logits.shape[:2]
    return logits.reshape(n, c, spatial_size(logits.shape)).to(compute_dtype(logits))


class Sigmoid(NamedTuple):
    logp: torch.Tensor  # (N, C, S) log sigmoid(x)
    log1mp: torch.Tensor  # (N, C, S) log(1 - sigmoid(x))
    prob: torch.Tensor  # (N, C, S) sigmoid(x)


_TINY = 1e-38  # smallest normal float32 is 1.18e-38: keeps log() finite for p == 0


def activate_sigmoid(logits: torch.Tensor, from_logits: bool = True) -> Sigmoid:
    """Sigmoid of every element in log space; input ``(N, C, ...)`` -> ``(N, C, S)``.

    >>> a = activate_sigmoid(torch.tensor([[[0.0]]]))
    >>> round(a.prob.item(), 4), round(a.logp.exp().item(), 4)
    (0.5, 0.5)
    """
    x = flat(logits)
    if from_logits:
        logp = F.logsigmoid(x)
        return Sigmoid(logp, logp - x, torch.sigmoid(x))
    return Sigmoid(torch.log(x.clamp_min(_TINY)), torch.log((1 - x).clamp_min(_TINY)), x)


def class_vector(weight: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    """A stored weight on ``like``'s device and dtype (``None`` stays ``None``)."""
    return None if weight is None else weight.to(device=like.device, dtype=like.dtype)


def safe_ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den`` where ``den != 0``, else 0 — with the denominator fixed before dividing.

    A NaN denominator is not 0: it gives NaN, so a non-finite input is never masked.

    >>> safe_ratio(torch.tensor([1.0, 0.0, 1.0]), torch.tensor([2.0, 0.0, float("nan")])).tolist()
    [0.5, 0.0, nan]
    """
    ok = den != 0
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))


def reduce_pixels(per: torch.Tensor, denom: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce a per-element loss (already 0 where ignored) by ``sum / denom``.

    ``mean`` returns 0 (with zero gradient) when ``denom`` is 0, i.e. nothing is labelled.
    The result stays in the compute dtype: float32 for half precision logits, like PyTorch's
    losses under autocast, so a loss value is never rounded to 3 significant digits.
    """
    check_reduction(reduction)
    if reduction == "none":
        return per
    total = per.sum()
    if reduction == "sum":
        return total
    return safe_ratio(total, denom)


# ---- cross entropy ------------------------------------------------------------------------
def ce_terms(
    logp_t: torch.Tensor,
    smooth: torch.Tensor | None,
    tgt: LabelTarget,
    weight: torch.Tensor | None,
    label_smoothing: float,
    num_classes: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel weighted CE ``(N, S)`` (0 where ignored) and the mean denominator.

    The denominator is the sum of ``weight[y]`` over labelled pixels, exactly as
    ``F.cross_entropy``; the smoothing term ``smooth = -sum_c w_c log p_c`` uses every class
    weight per pixel (also as torch) and is mixed as ``(1 - e) nll + e / C * smooth``.
    """
    w = class_vector(weight, logp_t)
    w_t = tgt.valid if w is None else w[tgt.index] * tgt.valid
    per = -logp_t * w_t
    if label_smoothing > 0 and smooth is not None:
        per = (1 - label_smoothing) * per + (label_smoothing / num_classes) * smooth
    return per, w_t.sum()


def bce_terms(
    act: Sigmoid,
    tgt: ChannelTarget,
    weight: torch.Tensor | None,
    pos_weight: torch.Tensor | None,
) -> torch.Tensor:
    """Per-element BCE ``(N, C, S)`` with per-channel ``weight``/``pos_weight`` (0 if ignored).

    ``l = -w_c [pos_weight_c * t * log p + (1 - t) * log(1 - p)]`` as
    ``F.binary_cross_entropy_with_logits`` with ``pos_weight.view(C, 1, 1)``.
    """
    c = act.logp.shape[1]
    pos = act.logp * tgt.value
    pw = class_vector(pos_weight, act.logp)
    if pw is not None:
        pos = pos * pw.view(1, c, 1)
    per = -(pos + act.log1mp * (1 - tgt.value))
    w = class_vector(weight, act.logp)
    if w is not None:
        per = per * w.view(1, c, 1)
    return per * tgt.valid


# ---- Dice ---------------------------------------------------------------------------------
class DiceStats(NamedTuple):
    inter: torch.Tensor  # (N, C) sum of p * g over labelled pixels
    pred: torch.Tensor  # (N, C) sum of p (or p^2) over labelled pixels
    true: torch.Tensor  # (N, C) sum of g (or g^2)


def dice_stats_channels(prob: torch.Tensor, tgt: ChannelTarget, square: bool) -> DiceStats:
    """Per-sample, per-channel sums for 0/1 (or soft) channel targets."""
    p = prob * tgt.valid
    inter = (p * tgt.value).sum(2)
    pred = (p * prob).sum(2) if square else p.sum(2)
    g = tgt.value
    true = (g * g).sum(2) if square else g.sum(2)
    return DiceStats(inter, pred, true)


def reduce_dice(
    stats: DiceStats,
    *,
    smooth: float,
    weight: torch.Tensor | None,
    batch: bool,
    include_background: bool,
    reduction: str,
) -> torch.Tensor:
    """Per-class soft Dice loss, weighted mean over classes, then over samples.

    ``loss_c = 1 - (2 I_c + smooth) / (P_c + G_c + smooth)``; the class mean is
    ``sum_c w_c l_c / sum_c w_c`` over the counted classes (see ``DiceLoss`` for the policy
    on classes absent from the target). Returns per-sample losses for ``reduction="none"``.
    """
    check_reduction(reduction)
    inter, pred, true = stats
    if batch:
        inter, pred, true = inter.sum(0, keepdim=True), pred.sum(0, keepdim=True), true.sum(0, True)
    n, c = inter.shape
    loss = 1 - safe_ratio(2 * inter + smooth, pred + true + smooth)
    w = class_vector(weight, inter)
    w = torch.ones(c, dtype=inter.dtype, device=inter.device) if w is None else w.clone()
    if not include_background:
        w[0] = 0
    w = w.expand(n, c)
    if smooth == 0:  # an absent class has no defined Dice at smooth=0: leave it out
        w = w * (true > 0)
    per_sample = safe_ratio((w * loss).sum(1), w.sum(1))
    if reduction == "none":
        return per_sample
    total = per_sample.sum()  # N = 0: a zero that is still connected to the graph
    return total if reduction == "sum" else total / max(per_sample.shape[0], 1)
