"""Cross entropy and BCE equal PyTorch's own losses, and stay finite where PyTorch does not."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from classweights.errors import ConfigError
from classweights.losses import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    binary_cross_entropy_with_logits,
    cross_entropy,
)


def _inputs(shape=(2, 4, 5, 6), ignore=255, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=dtype) * 3
    y = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    y[torch.rand(y.shape, generator=g) < 0.2] = ignore
    return x, y


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.7])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_trap4_weighted_ce_equals_torch(label_smoothing, reduction, weighted):
    """Trap 4: the weighted mean divides by sum w[y] over labelled pixels, as F.cross_entropy."""
    x, y = _inputs()
    w = torch.tensor([0.5, 2.0, 1.0, 3.5], dtype=torch.float64) if weighted else None
    ours = cross_entropy(x, y, w, 255, reduction, label_smoothing)
    ref = F.cross_entropy(
        x, y, weight=w, ignore_index=255, reduction=reduction, label_smoothing=label_smoothing
    )
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_trap4_weighted_ce_float32_module_and_gradient():
    x, y = _inputs(dtype=torch.float32)
    w = [0.5, 2.0, 1.0, 3.5]
    x1 = x.clone().requires_grad_()
    x2 = x.clone().requires_grad_()
    ours = CrossEntropyLoss(weight=w, ignore_index=255, label_smoothing=0.2)(x1, y)
    ref = F.cross_entropy(x2, y, weight=torch.tensor(w), ignore_index=255, label_smoothing=0.2)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(x1.grad, x2.grad)


def test_trap4_weighted_mean_denominator_by_hand():
    # two pixels, classes 0 and 1 with weights 1 and 3: mean = (1*l0 + 3*l1) / 4
    x = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]])
    y = torch.tensor([[0, 1]])
    l0 = torch.log1p(torch.exp(torch.tensor(-2.0)))
    l1 = torch.log1p(torch.exp(torch.tensor(-1.0)))
    expected = (l0 + 3 * l1) / 4
    torch.testing.assert_close(cross_entropy(x, y, torch.tensor([1.0, 3.0])), expected)


def test_ce_3d_and_default_ignore_index():
    x, y = _inputs(shape=(2, 3, 2, 3, 4), ignore=-100)
    torch.testing.assert_close(cross_entropy(x, y), F.cross_entropy(x, y))


def test_ce_accepts_n1hw_target():
    x, y = _inputs(ignore=255)
    torch.testing.assert_close(
        cross_entropy(x, y.unsqueeze(1), ignore_index=255), F.cross_entropy(x, y, ignore_index=255)
    )


def test_ce_confident_wrong_prediction_does_not_underflow():
    # p_y = exp(-200) underflows float32; the loss must still be the exact 200-ish value
    x = torch.tensor([[[200.0, 0.0], [0.0, 5.0], [-1.0, 1.0]]])
    y = torch.tensor([[1, 0]])
    torch.testing.assert_close(cross_entropy(x, y), F.cross_entropy(x, y))
    torch.testing.assert_close(
        cross_entropy(x, y, label_smoothing=0.3), F.cross_entropy(x, y, label_smoothing=0.3)
    )


def test_ce_label_out_of_range_is_a_clear_error():
    x = torch.zeros(1, 3, 2)
    with pytest.raises(ConfigError, match=r"labels \[255\] outside 0..2.*ignore_index=-100"):
        cross_entropy(x, torch.tensor([[0, 255]]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_equals_torch_with_channel_pos_weight(reduction):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
    t = (torch.rand(2, 3, 4, 5, generator=g) > 0.6).double()
    pw = torch.tensor([1.0, 4.0, 0.5], dtype=torch.float64)
    w = torch.tensor([2.0, 1.0, 0.3], dtype=torch.float64)
    ours = binary_cross_entropy_with_logits(x, t, w, pw, reduction=reduction)
    ref = F.binary_cross_entropy_with_logits(
        x, t, weight=w.view(3, 1, 1), pos_weight=pw.view(3, 1, 1), reduction=reduction
    )
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_trap8_pos_weight_acts_on_channels_even_when_width_equals_c():
    """Trap 8: (B, C, H, W) with W == C: torch's (C,) pos_weight would weight the width axis."""
    g = torch.Generator().manual_seed(2)
    c = 3
    x = torch.randn(2, c, 4, c, generator=g, dtype=torch.float64)
    t = (torch.rand(2, c, 4, c, generator=g) > 0.5).double()
    pw = torch.tensor([1.0, 5.0, 0.2], dtype=torch.float64)
    # manual per-channel formula
    manual = torch.zeros((), dtype=torch.float64)
    for ch in range(c):
        xc, tc = x[:, ch], t[:, ch]
        manual += -(pw[ch] * tc * F.logsigmoid(xc) + (1 - tc) * F.logsigmoid(-xc)).sum()
    manual /= x.numel()
    ours = BCEWithLogitsLoss(pos_weight=pw).double()(x, t)
    torch.testing.assert_close(ours, manual)
    wrong_axis = F.binary_cross_entropy_with_logits(x, t, pos_weight=pw)  # torch: last axis
    assert not torch.allclose(ours, wrong_axis)


def test_bce_ignore_index_leaves_elements_out():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 2, 3, 4, generator=g)
    t = (torch.rand(1, 2, 3, 4, generator=g) > 0.5).float()
    t_ign = t.clone()
    t_ign[0, 1, 2, :] = 255
    keep = t_ign != 255
    ref = F.binary_cross_entropy_with_logits(x[keep], t[keep])
    torch.testing.assert_close(binary_cross_entropy_with_logits(x, t_ign, ignore_index=255), ref)


def test_bce_binary_target_without_channel_axis():
    x = torch.randn(2, 1, 3, 3)
    t = (torch.rand(2, 3, 3) > 0.5).float()
    torch.testing.assert_close(
        binary_cross_entropy_with_logits(x, t), F.binary_cross_entropy_with_logits(x[:, 0], t)
    )


def test_bce_target_out_of_range_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"in \[0, 1\].*255"):
        binary_cross_entropy_with_logits(torch.zeros(1, 1, 2), torch.tensor([[[1.0, 255.0]]]))
