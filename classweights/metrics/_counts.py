"""The Dice states of :class:`~classweights.metrics.DiceMetric`: counting one batch, merging.

Every state is a sum, so batches, images and ranks merge by addition:

* ``batch_counts``: the ``(C,)`` int64 true positives, predicted and target pixels of one
  batch, after checking its shapes and labels (``average="global"``, and the input check of
  every update);
* ``image_counts`` and ``image_dice_sums``: the same counts per image, and what the image's
  Dice values add to the ``average="image"`` state (per class the sum and number of
  per-image Dice values; the sum and number of the per-image means);
* ``merged``: a state summed over the ``torch.distributed`` ranks when asked.

Fixed-size ``scatter_add_`` instead of ``bincount`` and device-side label checks: counting
never asks the GPU a question.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError, UnknownLabelError

Counts = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def batch_counts(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    num_classes: int,
    mode: str,
    ignore_index: int | None,
    threshold: float,
) -> Counts:
    """``(C,)`` int64 tp, predicted and target pixels of one batch, its inputs checked.

    Raises:
        ConfigError: the shapes do not match the mode and ``num_classes``.
        UnknownLabelError: a target value is neither a class nor ``ignore_index``.
    """
    c = num_classes
    if logits.dim() < 2 or logits.shape[1] != c:
        raise ConfigError(f"logits must have shape (N, {c}, *spatial); got {tuple(logits.shape)}")
    if mode == "multiclass":
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
        if ignore_index is not None:
            keep = t != ignore_index
        bad = keep & ((t < 0) | (t >= c))
        msg = (
            f"target labels {{}} are neither classes 0..{c - 1} nor "
            f"ignore_index={ignore_index}; pass the right num_classes or "
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
    pred = logits.float().sigmoid() > threshold
    pos = target == 1
    valid = None
    if ignore_index is not None:
        valid = target != ignore_index
        pred = pred & valid
    bad = ~(pos | (target == 0))
    if valid is not None:
        bad &= valid
    _refuse(
        bad,
        target,
        f"multilabel target values must be 0 or 1 (or ignore_index={ignore_index}); found {{}}",
    )

    def per_class(x: torch.Tensor) -> torch.Tensor:
        return x.transpose(0, 1).reshape(c, -1).sum(1, dtype=torch.int64)

    return per_class(pred & pos), per_class(pred), per_class(pos)


def image_counts(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    num_classes: int,
    mode: str,
    ignore_index: int | None,
    threshold: float,
) -> Counts:
    """``(N, C)`` int64 tp, predicted and target pixels of each image; no host sync.

    The inputs are those :func:`batch_counts` has checked.
    """
    n, c = logits.shape[0], num_classes
    if mode == "multilabel":
        pred = logits.float().sigmoid() > threshold
        pos = target == 1
        if ignore_index is not None:
            pred = pred & (target != ignore_index)

        def per_image(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(n, c, -1).sum(-1, dtype=torch.int64)

        return per_image(pred & pos), per_image(pred), per_image(pos)
    pred = logits.argmax(1).reshape(n, -1)
    t = target.reshape(n, -1).to(torch.int64)
    keep = torch.ones_like(t) if ignore_index is None else (t != ignore_index).long()
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


def image_dice_sums(
    counts: Counts, *, ignore_empty: bool, include_background: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What one batch's ``(N, C)`` per-image counts add to the ``average="image"`` state.

    Returns:
        ``(C,)`` float64 sum of the per-image Dice of each class, ``(C,)`` int64 number of
        images scored for it, and ``(2,)`` float64 (sum, number) of the per-image means over
        their scored classes (class 0 left out with ``include_background=False``).
    """
    tp, pred_sum, target_sum = counts
    den = (pred_sum + target_sum).double()
    dice = 2.0 * tp.double() / den.clamp_min(1.0)
    if ignore_empty:  # MONAI: no target pixel of the class -> no Dice
        scored = target_sum > 0
    else:  # MONAI ignore_empty=False: empty target scores 1 if nothing is predicted
        dice = torch.where(den > 0, dice, torch.ones_like(dice))
        scored = torch.ones_like(target_sum, dtype=torch.bool)
    dice = torch.where(scored, dice, torch.zeros_like(dice))
    class_sum, class_count = dice.sum(0), scored.sum(0, dtype=torch.int64)
    if not include_background:
        dice, scored = dice[:, 1:], scored[:, 1:]
    k = scored.sum(1)
    has = k > 0
    means = dice.sum(1) / k.clamp_min(1)
    return class_sum, class_count, torch.stack([(means * has).sum(), has.sum().double()])


def sync_needed(dist_sync: bool | None, process_group: Any) -> bool:
    """Whether to sum over ranks: ``dist_sync`` if given, else whenever a process group of
    more than one rank is initialised."""
    if dist_sync is not None:
        return bool(dist_sync)
    return (
        torch.distributed.is_available()
        and torch.distributed.is_initialized()
        and torch.distributed.get_world_size(process_group) > 1
    )


def merged(state: torch.Tensor, dist_sync: bool | None, process_group: Any) -> torch.Tensor:
    """``state`` summed over the ranks when :func:`sync_needed` says so (a collective: every
    rank must call it); the local state is never changed."""
    if sync_needed(dist_sync, process_group):
        state = state.clone()
        torch.distributed.all_reduce(state, group=process_group)
    return state


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
