"""Issue 18: the configs and calls users already have keep working."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from classweights.errors import ConfigError
from classweights.losses import (
    BCEDiceLoss,
    BCEWithLogitsLoss,
    CombinedLoss,
    CrossEntropyLoss,
    DiceLoss,
    FocalDiceLoss,
    FocalLoss,
    build_loss,
)

# ---------------------------------------------------------------- item 2: class_weights alias
ALIAS_LOSSES = [
    (CrossEntropyLoss, {}),
    (BCEWithLogitsLoss, {}),
    (DiceLoss, {}),
    (FocalLoss, {}),
    (CombinedLoss, {}),
    (BCEDiceLoss, {}),
    (FocalDiceLoss, {}),
]


def test_combined_loss_call_from_the_class_weight_script():
    w = torch.tensor([0.5, 1.0, 2.0])
    loss_fn = CombinedLoss(
        ce_weight=0.6,
        dice_weight=0.4,
        smooth=1.0,
        ignore_index=255,
        class_weights=w,
        square_denominator=False,
    )
    assert loss_fn.weight.tolist() == w.tolist()
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 5)
    target = torch.randint(0, 3, (2, 4, 5))
    target[0, 0, 0] = 255
    same = CombinedLoss(0.6, 0.4, weight=w, smooth=1.0, ignore_index=255)
    assert loss_fn(logits, target).item() == pytest.approx(same(logits, target).item())
    # the CE part is torch's weighted CE
    ce_only = CombinedLoss(1.0, 0.0, class_weights=w, ignore_index=255)
    ref = F.cross_entropy(logits, target, weight=w, ignore_index=255)
    assert ce_only(logits, target).item() == pytest.approx(ref.item(), rel=1e-5)


@pytest.mark.parametrize(("cls", "kw"), ALIAS_LOSSES)
def test_class_weights_is_an_alias_of_weight_everywhere(cls, kw):
    loss = cls(class_weights=[1.0, 2.0, 3.0], **kw)
    assert loss.weight.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ConfigError, match="both weight= and class_weights="):
        cls(weight=[1.0, 2.0, 3.0], class_weights=[1.0, 2.0, 3.0], **kw)


def test_class_weights_in_a_config_and_beside_build_loss_weight():
    loss = build_loss({"name": "DiceLoss", "class_weights": [1.0, 2.0]}, weight=[5.0, 5.0])
    assert loss.weight.tolist() == [1.0, 2.0]  # the config's own weights win, as for weight:
    with pytest.raises(ConfigError, match="both weight= and class_weights="):
        build_loss({"name": "CombinedLoss", "weight": [1.0, 2.0], "class_weights": [1.0, 2.0]})
