"""Focal loss against torchvision's sigmoid formula, F.cross_entropy and a per-pixel loop."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from classweights.errors import ConfigError
from classweights.losses import FocalDiceLoss, FocalLoss, focal_loss


def torchvision_sigmoid_focal(inputs, targets, alpha=0.25, gamma=2.0, reduction="mean"):
    """``torchvision.ops.sigmoid_focal_loss`` written out (torchvision is not installable here)."""
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def naive_softmax_focal(x, y, gamma, alpha=None, weight=None, ignore_index=None):
    """Per-pixel Python loop: sum of a_y w_y (1 - p_y)^gamma (-log p_y) / sum of w_y."""
    n, c = x.shape[:2]
    xs = x.reshape(n, c, -1).tolist()
    ys = y.reshape(n, -1).tolist()
    num = den = 0.0
    for i in range(n):
        for s in range(len(ys[i])):
            t = ys[i][s]
            if t == ignore_index:
                continue
            logits = [xs[i][k][s] for k in range(c)]
            m = max(logits)
            lse = m + math.log(sum(math.exp(v - m) for v in logits))
            logp = logits[t] - lse
            a = 1.0 if alpha is None else alpha[t]
            w = 1.0 if weight is None else weight[t]
            num += a * w * (1 - math.exp(logp)) ** gamma * (-logp)
            den += w
    return num / den if den else 0.0


def _mc(seed=0, n=2, c=4, h=3, w=5, ignore=255, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g, dtype=dtype) * 2
    y = torch.randint(0, c, (n, h, w), generator=g)
    y[torch.rand(y.shape, generator=g) < 0.2] = ignore
    return x, y


def _ml(seed=0, shape=(2, 3, 4, 5), dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=dtype) * 2
    t = (torch.rand(*shape, generator=g) > 0.6).to(dtype)
    return x, t


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [0.25, 0.875])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_trap9_sigmoid_focal_equals_torchvision_formula(gamma, alpha, reduction):
    x, t = _ml()
    ours = focal_loss(x, t, "multilabel", gamma=gamma, alpha=alpha, reduction=reduction)
    ref = torchvision_sigmoid_focal(x, t, alpha=alpha, gamma=gamma, reduction=reduction)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)


def test_trap9_binary_focal_equals_torchvision_formula():
    x, t = _ml(shape=(3, 1, 4, 4))
    ref = torchvision_sigmoid_focal(x, t, alpha=0.25, gamma=2.0)
    torch.testing.assert_close(FocalLoss("binary", alpha=0.25).double()(x, t[:, 0]), ref)


def test_trap9_gamma0_no_alpha_is_bce():
    x, t = _ml()
    torch.testing.assert_close(
        focal_loss(x, t, "multilabel", gamma=0.0), F.binary_cross_entropy_with_logits(x, t)
    )


def test_trap9_sigmoid_alpha_vector_is_per_channel_positive_factor():
    x, t = _ml()
    alpha = [0.125, 0.5, 0.75]
    ref = (
        torch.stack(
            [
                torchvision_sigmoid_focal(x[:, k], t[:, k], alpha=alpha[k], reduction="sum")
                for k in range(3)
            ]
        ).sum()
        / x.numel()
    )
    torch.testing.assert_close(focal_loss(x, t, "multilabel", alpha=alpha), ref)


@pytest.mark.parametrize("weighted", [False, True])
def test_trap10_multiclass_gamma0_is_cross_entropy_not_one_vs_rest(weighted):
    """Trap 10 (and 9): softmax focal with gamma=0 is (weighted) CE, not per-class BCE."""
    x, y = _mc()
    w = torch.tensor([0.5, 2.0, 1.0, 4.0], dtype=torch.float64) if weighted else None
    ours = focal_loss(x, y, gamma=0.0, weight=w, ignore_index=255)
    ref = F.cross_entropy(x, y, weight=w, ignore_index=255)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    valid = y != 255
    one_vs_rest = F.binary_cross_entropy_with_logits(
        x.movedim(1, -1)[valid], F.one_hot(y[valid], 4).double()
    )
    assert not torch.isclose(ours, one_vs_rest)


@pytest.mark.parametrize("gamma", [0.5, 2.0, 3.0])
def test_multiclass_focal_matches_naive_with_alpha_and_weight(gamma):
    x, y = _mc(seed=3)
    alpha = [0.375, 1.0, 2.0, 0.625]
    weight = [1.0, 0.5, 3.0, 2.0]
    ours = focal_loss(
        x,
        y,
        gamma=gamma,
        alpha=alpha,
        weight=torch.tensor(weight, dtype=torch.float64),
        ignore_index=255,
    )
    ref = naive_softmax_focal(x, y, gamma, alpha=alpha, weight=weight, ignore_index=255)
    assert ours.item() == pytest.approx(ref, rel=1e-10)


def test_multiclass_scalar_alpha_is_background_one_minus_alpha():
    x, y = _mc(seed=4)
    ours = focal_loss(x, y, gamma=2.0, alpha=0.25, ignore_index=255)
    ref = naive_softmax_focal(x, y, 2.0, alpha=[0.75, 0.25, 0.25, 0.25], ignore_index=255)
    assert ours.item() == pytest.approx(ref, rel=1e-10)


def test_focal_weight_scale_invariance():
    """Trap 5 for focal: w and k*w give the same loss; ones equal no weight."""
    x, y = _mc(seed=5)
    w = torch.tensor([0.2, 1.0, 3.0, 0.7], dtype=torch.float64)
    a = focal_loss(x, y, weight=w, ignore_index=255)
    torch.testing.assert_close(a, focal_loss(x, y, weight=w * 37.5, ignore_index=255))
    torch.testing.assert_close(
        focal_loss(x, y, weight=torch.ones(4, dtype=torch.float64), ignore_index=255),
        focal_loss(x, y, ignore_index=255),
    )
    xm, tm = _ml()
    wm = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(
        focal_loss(xm, tm, "multilabel", weight=wm), focal_loss(xm, tm, "multilabel", weight=wm * 9)
    )


def test_trap11_from_logits_false():
    x, y = _mc(seed=6)
    torch.testing.assert_close(
        focal_loss(x.softmax(1), y, ignore_index=255, from_logits=False),
        focal_loss(x, y, ignore_index=255),
    )
    xm, tm = _ml()
    torch.testing.assert_close(
        focal_loss(xm.sigmoid(), tm, "multilabel", alpha=0.25, from_logits=False),
        focal_loss(xm, tm, "multilabel", alpha=0.25),
    )


def test_trap3_focal_ignore_equals_valid_pixels_only():
    x, y = _mc(seed=7, ignore=255)
    valid = y != 255
    ours = focal_loss(x, y, gamma=2.0, ignore_index=255)
    xv = x.movedim(1, -1)[valid]  # (K, C)
    ref = focal_loss(xv.T[None], y[valid][None], gamma=2.0)
    torch.testing.assert_close(ours, ref)


def test_reduction_none_shape_and_zero_at_ignored():
    x, y = _mc(seed=8)
    out = focal_loss(x, y, ignore_index=255, reduction="none")
    assert out.shape == y.shape
    assert torch.equal(out[y == 255], torch.zeros_like(out[y == 255]))


def test_focal_errors():
    with pytest.raises(ConfigError, match="gamma must be >= 0"):
        FocalLoss(gamma=-1)
    with pytest.raises(ConfigError, match=r"scalar alpha must be in \[0, 1\]"):
        FocalLoss(alpha=1.5)
    with pytest.raises(ConfigError, match="C >= 2"):
        focal_loss(torch.zeros(1, 1, 3), torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ConfigError, match="alpha has 2 values"):
        focal_loss(torch.zeros(1, 3, 2), torch.zeros(1, 2, dtype=torch.long), alpha=[0.5, 0.5])


@pytest.mark.parametrize("mode", ["multiclass", "multilabel"])
def test_focal_dice_combination_is_sum_of_parts(mode):
    from classweights.losses import dice_loss

    if mode == "multiclass":
        x, y = _mc(seed=9)
    else:
        x, y = _ml(seed=9)
    w = torch.tensor([1.0, 2.0, 0.5, 1.5][: x.shape[1]], dtype=torch.float64)
    combo = FocalDiceLoss(
        focal_weight=0.7,
        dice_weight=0.3,
        gamma=2.0,
        alpha=0.25,
        weight=w,
        ignore_index=255,
        mode=mode,
    ).double()(x, y)
    ref = 0.7 * torchvision_like_focal(x, y, mode, w) + 0.3 * dice_loss(
        x, y, mode, weight=w, ignore_index=255
    )
    torch.testing.assert_close(combo, ref)


def torchvision_like_focal(x, y, mode, w):
    if mode == "multiclass":
        c = x.shape[1]
        return torch.tensor(
            naive_softmax_focal(
                x, y, 2.0, alpha=[0.75] + [0.25] * (c - 1), weight=w.tolist(), ignore_index=255
            ),
            dtype=torch.float64,
        )
    per = torchvision_sigmoid_focal(x, y, alpha=0.25, gamma=2.0, reduction="none")
    wv = w.view(1, -1, 1, 1).expand_as(per)
    return (per * wv).sum() / wv.sum()
