"""Segmentation losses that consume class weights (needs torch).

Every loss is an ``nn.Module`` with a functional twin; class weights are buffers that
follow ``.to()`` and live in ``state_dict``. ``import classweights`` does not import torch;
importing this subpackage does.

>>> import torch
>>> from classweights.losses import CombinedLoss
>>> loss_fn = CombinedLoss(weight=[1.0, 2.0], ignore_index=255)
>>> x = torch.zeros(1, 2, 2, 2)
>>> round(loss_fn(x, torch.tensor([[[0, 1], [1, 255]]])).item(), 4)
0.5619
"""

from __future__ import annotations

from ._weights import MODES, REDUCTIONS, as_weight_tensor, pos_weight_from_stats
from .build import available_losses, build_loss, register_loss
from .ce import BCEWithLogitsLoss, CrossEntropyLoss, binary_cross_entropy_with_logits, cross_entropy
from .combined import BCEDiceLoss, CombinedLoss, FocalDiceLoss, MixedLoss
from .dice import DiceLoss, dice_loss
from .focal import FocalLoss, focal_loss
from .staged import StagedLoss

__all__ = [
    "MODES",
    "REDUCTIONS",
    "BCEDiceLoss",
    "BCEWithLogitsLoss",
    "CombinedLoss",
    "CrossEntropyLoss",
    "DiceLoss",
    "FocalDiceLoss",
    "FocalLoss",
    "MixedLoss",
    "StagedLoss",
    "as_weight_tensor",
    "available_losses",
    "binary_cross_entropy_with_logits",
    "build_loss",
    "cross_entropy",
    "dice_loss",
    "focal_loss",
    "pos_weight_from_stats",
    "register_loss",
]
