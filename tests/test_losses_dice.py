"""Dice loss against a naive per-pixel reference that spells out the documented policy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from classweights.errors import ConfigError
from classweights.losses import DiceLoss, dice_loss


def naive_dice(
    logits,
    target,
    *,
    mode="multiclass",
    smooth=1.0,
    weight=None,
    ignore_index=None,
    square=False,
    batch=False,
    include_background=True,
    from_logits=True,
):
    """Loop over samples, pixels and classes; absent classes as the DiceLoss docstring says."""
    x = np.asarray(logits, dtype=np.float64)
    n, c = x.shape[:2]
    x = x.reshape(n, c, -1)
    if not from_logits:
        p = x
    elif mode == "multiclass":
        e = np.exp(x - x.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    else:
        p = 1 / (1 + np.exp(-x))
    t = np.asarray(target)
    t = t.reshape(n, -1) if mode == "multiclass" else t.reshape(n, c, -1)
    volumes = [list(range(n))] if batch else [[i] for i in range(n)]
    losses = []
    for vol in volumes:
        inter, pred, true = [0.0] * c, [0.0] * c, [0.0] * c
        for i in vol:
            for s in range(x.shape[2]):
                for k in range(c):
                    if mode == "multiclass":
                        if t[i, s] == ignore_index:
                            continue
                        g = 1.0 if t[i, s] == k else 0.0
                    else:
                        if t[i, k, s] == ignore_index:
                            continue
                        g = float(t[i, k, s])
                    q = p[i, k, s]
                    inter[k] += q * g
                    pred[k] += q * q if square else q
                    true[k] += g * g if square else g
        num = den = 0.0
        for k in range(c):
            if k == 0 and not include_background:
                continue
            if smooth == 0 and true[k] == 0:
                continue  # absent class: excluded at smooth=0
            wk = 1.0 if weight is None else float(weight[k])
            num += wk * (1 - (2 * inter[k] + smooth) / (pred[k] + true[k] + smooth))
            den += wk
        losses.append(num / den if den > 0 else 0.0)
    return float(np.mean(losses))


def _multiclass(n=2, c=4, h=3, w=5, seed=0, ignore=None):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, c, (n, h, w), generator=g)
    if ignore is not None:
        y[torch.rand(y.shape, generator=g) < 0.25] = ignore
    return x, y


def _multilabel(n=2, c=3, h=3, w=4, seed=0, ignore=None):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64) * 2
    t = (torch.rand(n, c, h, w, generator=g) > 0.6).double()
    if ignore is not None:
        t[torch.rand(t.shape, generator=g) < 0.2] = ignore
    return x, t


@pytest.mark.parametrize("smooth", [1.0, 0.0, 1e-5])
@pytest.mark.parametrize("square", [False, True])
@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("include_background", [True, False])
def test_multiclass_matches_naive(smooth, square, batch, include_background):
    x, y = _multiclass(ignore=255)
    y[1, :, :] = torch.where(y[1] == 2, 0, y[1])  # class 2 absent from sample 1
    w = [1.0, 2.0, 0.5, 3.0]
    kw = dict(smooth=smooth, square_denominator=square, batch=batch)
    ours = dice_loss(
        x, y, weight=torch.tensor(w), ignore_index=255, include_background=include_background, **kw
    )
    ref = naive_dice(
        x,
        y,
        weight=w,
        ignore_index=255,
        square=square,
        batch=batch,
        smooth=smooth,
        include_background=include_background,
    )
    assert ours.item() == pytest.approx(ref, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("smooth", [1.0, 0.0])
@pytest.mark.parametrize("square", [False, True])
@pytest.mark.parametrize("batch", [False, True])
def test_multilabel_matches_naive(smooth, square, batch):
    x, t = _multilabel(ignore=255)
    t[0, 1] = torch.where(t[0, 1] == 1, 0.0, t[0, 1])  # channel 1 absent from sample 0
    w = [0.2, 1.0, 4.0]
    ours = dice_loss(
        x,
        t,
        "multilabel",
        weight=torch.tensor(w, dtype=torch.float64),
        ignore_index=255,
        smooth=smooth,
        square_denominator=square,
        batch=batch,
    )
    ref = naive_dice(
        x,
        t,
        mode="multilabel",
        weight=w,
        ignore_index=255,
        smooth=smooth,
        square=square,
        batch=batch,
    )
    assert ours.item() == pytest.approx(ref, rel=1e-10, abs=1e-12)


def test_binary_matches_naive_and_soft_labels():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)
    t = torch.rand(3, 4, 4, generator=g, dtype=torch.float64)  # soft labels
    ours = DiceLoss(mode="binary")(x, t)
    assert ours.item() == pytest.approx(naive_dice(x, t[:, None], mode="binary"), rel=1e-10)


def test_hand_computed_single_pixel():
    # one pixel, 2 classes, logits 0 -> p = 0.5; label 0
    # class 0: (2*0.5 + 1) / (0.5 + 1 + 1) = 0.8 -> 0.2 ; class 1: 1 / 1.5 -> 1/3
    x = torch.zeros(1, 2, 1, 1)
    loss = dice_loss(x, torch.zeros(1, 1, 1, dtype=torch.long))
    assert loss.item() == pytest.approx((0.2 + 1 / 3) / 2, rel=1e-6)


# ---- trap 6: absent-class policy ---------------------------------------------------------
def _perfect(y, c, scale=60.0, dtype=torch.float64):
    return torch.nn.functional.one_hot(y, c).movedim(-1, 1).to(dtype) * scale


@pytest.mark.parametrize("smooth", [1.0, 0.0])
def test_trap6_absent_class_not_predicted_gives_zero(smooth):
    """Class 2 absent from the target and predicted with ~0 probability -> loss 0."""
    y = torch.tensor([[[0, 1, 1, 0], [1, 0, 0, 1]]])
    x = _perfect(y, 3)
    assert dice_loss(x, y, smooth=smooth).item() == pytest.approx(0.0, abs=1e-12)


def test_trap6_absent_class_predicted_is_penalised_with_smooth():
    """smooth > 0: mass on an absent class costs P / (P + smooth), counted in the class mean."""
    y = torch.tensor([[[0, 0, 1, 1]]])
    x = _perfect(y, 3)
    x[0, 2, 0, 0] = 200.0  # pixel 0 predicted as the absent class 2
    loss = dice_loss(x, y, smooth=1.0).item()
    # class 0: I=1, P=1, G=2 -> 1 - 3/4 ; class 1: 0 ; class 2: P=1 -> 1 - 1/2
    assert loss == pytest.approx((0.25 + 0.0 + 0.5) / 3, rel=1e-9)


def test_trap6_absent_class_excluded_at_smooth_zero():
    """smooth = 0: an absent class is left out of the mean (its weight too)."""
    y = torch.tensor([[[0, 0, 1, 1]]])
    x = _perfect(y, 3)
    x[0, 2, 0, 0] = 200.0
    loss = dice_loss(x, y, smooth=0.0, weight=torch.tensor([1.0, 1.0, 100.0])).item()
    # class 0: 1 - 2/3 ; class 1: 0 ; class 2 absent -> excluded
    assert loss == pytest.approx((1 / 3 + 0.0) / 2, rel=1e-9)


def test_trap6_nothing_present_at_smooth_zero_is_zero_with_zero_grad():
    x = torch.randn(1, 3, 2, 2, requires_grad=True)
    y = torch.full((1, 2, 2), 255)
    loss = dice_loss(x, y, smooth=0.0, ignore_index=255)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(x.grad, torch.zeros_like(x))


# ---- trap 12: batch vs per-sample --------------------------------------------------------
def test_trap12_per_sample_is_mean_of_single_samples_and_batch_is_concatenation():
    x, y = _multiclass(n=2, ignore=255)
    y[1] = torch.where(y[1] == 3, 1, y[1])  # sample 2 lacks class 3
    per_sample = dice_loss(x, y, ignore_index=255)
    singles = [dice_loss(x[i : i + 1], y[i : i + 1], ignore_index=255) for i in range(2)]
    torch.testing.assert_close(per_sample, torch.stack(singles).mean())
    batch = dice_loss(x, y, ignore_index=255, batch=True)
    # one volume: the two samples side by side along the width
    cat = dice_loss(
        torch.cat([x[0], x[1]], dim=-1)[None], torch.cat([y[0], y[1]], -1)[None], ignore_index=255
    )
    torch.testing.assert_close(batch, cat)
    assert not torch.allclose(batch, per_sample)


def test_reduction_none_gives_per_sample_losses():
    x, y = _multiclass(n=3)
    out = dice_loss(x, y, reduction="none")
    assert out.shape == (3,)
    torch.testing.assert_close(out.sum(), dice_loss(x, y, reduction="sum"))
    assert dice_loss(x, y, batch=True, reduction="none").shape == (1,)


# ---- trap 5: weights are a normalised mean -----------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    w=st.lists(st.floats(0.01, 50.0), min_size=4, max_size=4),
    k=st.floats(0.001, 1000.0),
    mode=st.sampled_from(["multiclass", "multilabel"]),
)
def test_trap5_weight_scale_invariance_and_range(w, k, mode):
    if mode == "multiclass":
        x, y = _multiclass(c=4, ignore=255)
    else:
        x, y = _multilabel(c=4, ignore=255)
    wt = torch.tensor(w, dtype=torch.float64)
    a = dice_loss(x, y, mode, weight=wt, ignore_index=255)
    b = dice_loss(x, y, mode, weight=wt * k, ignore_index=255)
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert 0.0 <= a.item() <= 1.0


def test_trap5_unit_weights_equal_unweighted():
    x, y = _multiclass(ignore=255)
    torch.testing.assert_close(
        dice_loss(x, y, weight=torch.ones(4), ignore_index=255), dice_loss(x, y, ignore_index=255)
    )


# ---- trap 3: ignore index ----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["multiclass", "multilabel"])
def test_trap3_ignored_pixels_equal_cropped_input(mode):
    """Labels 255 with C=3: the loss equals the loss on the labelled columns only."""
    if mode == "multiclass":
        x, y = _multiclass(n=1, c=3, h=4, w=6)
        y_ign = y.clone()
        y_ign[..., 4:] = 255
    else:
        x, y = _multilabel(n=1, c=3, h=4, w=6)
        y_ign = y.clone()
        y_ign[..., 4:] = 255
    ours = dice_loss(x, y_ign, mode, ignore_index=255)
    cropped = dice_loss(x[..., :4], y[..., :4], mode, ignore_index=255)
    torch.testing.assert_close(ours, cropped)


def test_trap3_ignored_pixels_get_zero_gradient():
    x, y = _multiclass(n=1, c=3)
    y[..., :2] = 255
    x = x.requires_grad_()
    dice_loss(x, y, ignore_index=255).backward()
    assert torch.equal(x.grad[..., :2], torch.zeros_like(x.grad[..., :2]))
    assert x.grad[..., 2:].abs().sum() > 0


# ---- trap 11: probabilities in -----------------------------------------------------------
def test_trap11_from_logits_false_multiclass_and_multilabel():
    x, y = _multiclass(ignore=255)
    torch.testing.assert_close(
        dice_loss(x.softmax(1), y, from_logits=False, ignore_index=255),
        dice_loss(x, y, ignore_index=255),
    )
    x, t = _multilabel()
    torch.testing.assert_close(
        DiceLoss("multilabel", from_logits=False)(x.sigmoid(), t), DiceLoss("multilabel")(x, t)
    )


# ---- errors ------------------------------------------------------------------------------
def test_mode_errors_list_valid_values():
    with pytest.raises(ConfigError, match="multiclass, binary, multilabel"):
        DiceLoss(mode="softmax")
    with pytest.raises(ConfigError, match="1 channel"):
        dice_loss(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), "binary")
    with pytest.raises(ConfigError, match="C >= 2"):
        dice_loss(torch.zeros(1, 1, 2), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ConfigError, match="smooth must be >= 0"):
        DiceLoss(smooth=-1)
    with pytest.raises(ConfigError, match="multilabel"):
        dice_loss(torch.zeros(1, 3, 2), torch.zeros(1, 2))  # float target in multiclass


def test_smooth_value_by_formula():
    x, y = _multiclass()
    for s in (0.5, 10.0):
        assert dice_loss(x, y, smooth=s).item() == pytest.approx(naive_dice(x, y, smooth=s))
    assert not math.isclose(dice_loss(x, y, smooth=0.5).item(), dice_loss(x, y, smooth=10).item())
