"""CE + Dice, BCE + Dice and MixedLoss: sums of independently checked parts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_losses_dice import naive_dice

from classweights.errors import ConfigError
from classweights.losses import (
    BCEDiceLoss,
    BCEWithLogitsLoss,
    CombinedLoss,
    DiceLoss,
    MixedLoss,
)


def _mc(seed=0, n=2, c=4, shape=(3, 5)):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, *shape, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, c, (n, *shape), generator=g)
    y[torch.rand(y.shape, generator=g) < 0.2] = 255
    return x, y


def _ml(seed=0, shape=(2, 3, 4, 5)):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=torch.float64) * 2
    t = (torch.rand(*shape, generator=g) > 0.6).double()
    return x, t


W4 = torch.tensor([1.0, 2.0, 0.5, 4.0], dtype=torch.float64)


def test_combined_equals_weighted_ce_plus_naive_dice():
    x, y = _mc()
    loss = CombinedLoss(weight=W4, ignore_index=255, label_smoothing=0.125).double()(x, y)
    ce = F.cross_entropy(x, y, weight=W4, ignore_index=255, label_smoothing=0.125)
    dice = naive_dice(x, y, weight=W4.tolist(), ignore_index=255)
    assert loss.item() == pytest.approx(0.6 * ce.item() + 0.4 * dice, rel=1e-10)


def test_trap13_combined_lambda_zero_gives_each_part():
    """Trap 13: with one factor 0 the compound equals the plain other loss (activation once)."""
    x, y = _mc(seed=1)
    ce_only = CombinedLoss(ce_weight=1.0, dice_weight=0.0, weight=W4, ignore_index=255).double()
    dice_only = CombinedLoss(ce_weight=0.0, dice_weight=1.0, weight=W4, ignore_index=255).double()
    torch.testing.assert_close(ce_only(x, y), F.cross_entropy(x, y, weight=W4, ignore_index=255))
    torch.testing.assert_close(
        dice_only(x, y).item(), naive_dice(x, y, weight=W4.tolist(), ignore_index=255)
    )


def test_trap13_bce_dice_lambda_zero_gives_each_part():
    x, t = _ml(seed=2)
    pw = torch.tensor([2.0, 0.5, 1.0], dtype=torch.float64)
    bce_only = BCEDiceLoss(bce_weight=1.0, dice_weight=0.0, pos_weight=pw).double()
    dice_only = BCEDiceLoss(bce_weight=0.0, dice_weight=1.0).double()
    torch.testing.assert_close(
        bce_only(x, t), F.binary_cross_entropy_with_logits(x, t, pos_weight=pw.view(3, 1, 1))
    )
    assert dice_only(x, t).item() == pytest.approx(naive_dice(x, t, mode="multilabel"), rel=1e-10)
    both = BCEDiceLoss(pos_weight=pw).double()(x, t)
    expected = 0.3 * bce_only(x, t) + 0.7 * dice_only(x, t)
    torch.testing.assert_close(both, expected)


def test_trap13_gradient_of_combined_is_sum_of_gradients():
    x, y = _mc(seed=3)
    xa = x.clone().requires_grad_()
    CombinedLoss(weight=W4, ignore_index=255).double()(xa, y).backward()
    xb = x.clone().requires_grad_()
    ce = F.cross_entropy(xb, y, weight=W4, ignore_index=255)
    dice = DiceLoss(weight=W4, ignore_index=255).double()(xb, y)
    (0.6 * ce + 0.4 * dice).backward()
    torch.testing.assert_close(xa.grad, xb.grad)


def test_trap14_combined_background_excluded_keeps_c_weights_for_ce():
    x, y = _mc(seed=4)
    loss = CombinedLoss(weight=W4, ignore_index=255, include_background=False).double()(x, y)
    ce = F.cross_entropy(x, y, weight=W4, ignore_index=255)
    dice = naive_dice(x, y, weight=W4.tolist(), ignore_index=255, include_background=False)
    assert loss.item() == pytest.approx(0.6 * ce.item() + 0.4 * dice, rel=1e-10)
    with pytest.raises(ConfigError, match="pass 4 values"):
        CombinedLoss(weight=W4[1:], include_background=False)(x.float(), y.clamp(max=3))


def test_combined_options_are_validated():
    with pytest.raises(ConfigError, match="pos_weight is for mode"):
        CombinedLoss(pos_weight=[1.0, 2.0])
    with pytest.raises(ConfigError, match="ce_weight must be >= 0"):
        CombinedLoss(ce_weight=-0.1)
    with pytest.raises(ConfigError, match="BCEDiceLoss is for"):
        BCEDiceLoss(mode="multiclass")


# ---- MixedLoss ---------------------------------------------------------------------------
def _mixed():
    return MixedLoss([BCEWithLogitsLoss(), DiceLoss(mode="multilabel")], [0.3, 0.7])


def test_mixed_is_weighted_sum_and_set_weights_changes_it():
    x, t = _ml(seed=5)
    mixed = _mixed().double()
    bce = F.binary_cross_entropy_with_logits(x, t)
    dice = naive_dice(x, t, mode="multilabel")
    assert mixed(x, t).item() == pytest.approx(0.3 * bce.item() + 0.7 * dice, rel=1e-10)
    mixed.set_weights([0.2, 0.8])
    assert mixed.weights == [0.2, 0.8]
    assert mixed.components == [("BCEWithLogitsLoss", 0.2), ("DiceLoss", 0.8)]
    assert mixed(x, t).item() == pytest.approx(0.2 * bce.item() + 0.8 * dice, rel=1e-10)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([0.5], "2 losses"),
        ([0.5, float("nan")], "finite"),
        ([-0.1, 1.1], ">= 0"),
        ([0.0, 0.0], "not all zero"),
        (["a", 1], "numbers"),
    ],
)
def test_mixed_weights_are_validated(weights, message):
    with pytest.raises(ConfigError, match=message):
        _mixed().set_weights(weights)
    with pytest.raises(ConfigError, match=message):
        MixedLoss([BCEWithLogitsLoss(), DiceLoss(mode="multilabel")], weights)


def test_mixed_weights_survive_state_dict_round_trip():
    a = _mixed()
    a.set_weights([0.1, 0.9])
    b = _mixed()
    b.load_state_dict(a.state_dict())
    assert b.weights == [0.1, 0.9]


def test_mixed_zero_weight_component_is_skipped():
    x, t = _ml(seed=6)
    mixed = _mixed().double()
    mixed.set_weights([0.0, 1.0])
    assert mixed(x, t).item() == pytest.approx(naive_dice(x, t, mode="multilabel"), rel=1e-10)
