"""Issue 31, smp / MONAI users: each row of the side-by-side table in docs/losses.md
("Coming from smp or MONAI"), checked against MONAI itself (installed) or, for
segmentation_models_pytorch (not installed), against its documented formulas written out here:

    smp DiceLoss: p = softmax (multiclass) or sigmoid (binary), t one-hot, sums over the batch
    and the pixels; dice_c = (2 I_c + smooth) / max(P_c + G_c + smooth, eps), smooth=0,
    eps=1e-7; loss_c = 1 - dice_c (log_loss: -log(max(dice_c, eps))), times 0 where the class
    has no target pixel; `classes=` keeps those entries; the loss is their plain mean.
    smp FocalLoss(mode="multiclass"): for each class the binary sigmoid focal term
    (1 - p_t)^gamma * BCE, averaged over the pixels, summed over the classes.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
monai_losses = pytest.importorskip("monai.losses", reason="MONAI is in the test extra")

import torch.nn.functional as F  # noqa: E402

from classweights.losses import BCEWithLogitsLoss, DiceLoss, FocalLoss  # noqa: E402

C = 4
G = torch.Generator().manual_seed(7)
X = torch.randn(3, C, 5, 6, generator=G)
Y = torch.randint(0, C, (3, 5, 6), generator=G)
W = torch.tensor([0.5, 1.0, 2.0, 4.0])
MONAI_SMOOTH = 1e-5


def onehot(y, c=C):
    return F.one_hot(y, c).permute(0, 3, 1, 2).float()


def smp_dice(x, y, *, classes=None, log_loss=False, binary=False, smooth=0.0, eps=1e-7):
    p = torch.sigmoid(x) if binary else x.softmax(1)
    t = y.float() if binary else onehot(y, x.shape[1])
    dims = (0, 2, 3)
    inter, card = (p * t).sum(dims), (p + t).sum(dims)
    dice = (2 * inter + smooth) / (card + smooth).clamp_min(eps)
    loss = -torch.log(dice.clamp_min(eps)) if log_loss else 1 - dice
    loss = loss * (t.sum(dims) > 0).float()
    if classes is not None:
        loss = loss[classes]
    return loss.mean()


def sigmoid_focal(x, t, gamma=2.0):
    bce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    return (1 - torch.exp(-bce)).pow(gamma) * bce


def smp_focal_multiclass(x, y, gamma=2.0):
    return sum(sigmoid_focal(x[:, c], (y == c).float(), gamma).mean() for c in range(x.shape[1]))


def close(a, b, rel=1e-5):
    assert float(a) == pytest.approx(float(b), rel=rel, abs=1e-7)


# ---------------------------------------------------------------- index targets, smoothing
def test_index_targets_and_smoothing_equal_monai_onehot_softmax():
    monai = monai_losses.DiceLoss(to_onehot_y=True, softmax=True)(X, Y[:, None])
    close(DiceLoss(smooth=MONAI_SMOOTH)(X, Y), monai)
    close(DiceLoss(smooth=MONAI_SMOOTH)(X, Y[:, None]), monai)  # (N, 1, H, W) works too


# ---------------------------------------------------------------- per sample or batch
def test_batch_dice_equals_monai_batch_and_smp():
    monai = monai_losses.DiceLoss(to_onehot_y=True, softmax=True, batch=True)(X, Y[:, None])
    close(DiceLoss(smooth=MONAI_SMOOTH, batch=True)(X, Y), monai)
    assert all((Y == c).any() for c in range(C))  # every class present: smp's mask is all 1
    close(DiceLoss(smooth=0, batch=True)(X, Y), smp_dice(X, Y))


# ---------------------------------------------------------------- class weights
def test_monai_class_weights_are_ours_times_their_mean():
    monai = monai_losses.DiceLoss(to_onehot_y=True, softmax=True, weight=W)(X, Y[:, None])
    close(DiceLoss(smooth=MONAI_SMOOTH, weight=W)(X, Y) * W.mean(), monai)
    # a weighted mean: only ratios matter
    close(DiceLoss(weight=W)(X, Y), DiceLoss(weight=W * 7)(X, Y))


# ---------------------------------------------------------------- include_background
def test_include_background_equals_monai_and_smp_classes():
    monai = monai_losses.DiceLoss(to_onehot_y=True, softmax=True, include_background=False)(
        X, Y[:, None]
    )
    close(DiceLoss(smooth=MONAI_SMOOTH, include_background=False)(X, Y), monai)
    smp = smp_dice(X, Y, classes=list(range(1, C)))
    close(DiceLoss(smooth=0, batch=True, include_background=False)(X, Y), smp)


# ---------------------------------------------------------------- absent classes
def test_absent_classes_smp_monai_and_ours():
    y = Y.clone()
    y[y == 3] = 0  # class 3 has no target pixel in the batch
    x = X.clone()
    x[:, 3] += 2.0  # ... but gets probability mass: false positives
    k = len(y.unique())
    smp = smp_dice(x, y)  # absent class: loss 0, still in the mean over C
    close(DiceLoss(smooth=0, batch=True)(x, y) * k / C, smp)
    monai = monai_losses.DiceLoss(to_onehot_y=True, softmax=True)(x, y[:, None])
    close(DiceLoss(smooth=MONAI_SMOOTH)(x, y), monai)  # penalised false positives, as MONAI
    per_sample = monai_losses.DiceLoss(to_onehot_y=True, softmax=True, reduction="none")(
        x, y[:, None]
    )
    assert (per_sample[:, 3] > 0.9).all()  # the absent class costs ~1 in MONAI and in ours
    # smooth=0: absent classes leave the mean (neither smp nor MONAI)
    p, t = x.softmax(1), onehot(y)
    dice = 2 * (p * t).sum((2, 3)) / (p + t).sum((2, 3))
    present = t.sum((2, 3)) > 0
    ref = torch.stack([(1 - dice[n][present[n]]).mean() for n in range(x.shape[0])]).mean()
    close(DiceLoss(smooth=0)(x, y), ref)


# ---------------------------------------------------------------- log_loss
def test_smp_log_loss_is_minus_log_of_one_minus_our_binary_batch_dice():
    x = torch.randn(3, 1, 5, 6, generator=G)
    t = (torch.rand(3, 1, 5, 6, generator=G) > 0.6).float()
    ours = DiceLoss(mode="binary", smooth=0, batch=True)(x, t)
    close(-torch.log(1 - ours), smp_dice(x, t, binary=True, log_loss=True))


# ---------------------------------------------------------------- reductions
def test_reductions_against_monai():
    kw = {"to_onehot_y": True, "softmax": True}
    none = monai_losses.DiceLoss(reduction="none", **kw)(X, Y[:, None])
    assert none.shape == (3, C, 1, 1)
    ours = DiceLoss(smooth=MONAI_SMOOTH, reduction="none")(X, Y)
    assert ours.shape == (3,)
    torch.testing.assert_close(ours, none.mean(1).flatten(), rtol=1e-5, atol=1e-7)
    close(DiceLoss(smooth=MONAI_SMOOTH, reduction="sum")(X, Y), none.mean(1).sum())


# ---------------------------------------------------------------- focal normalisation
def test_focal_against_monai_and_smp():
    monai_sigmoid = monai_losses.FocalLoss(to_onehot_y=True)(X, Y[:, None])
    multilabel = FocalLoss(mode="multilabel")(X, onehot(Y))
    close(multilabel, monai_sigmoid)
    monai_softmax = monai_losses.FocalLoss(to_onehot_y=True, use_softmax=True)(X, Y[:, None])
    close(FocalLoss()(X, Y) / C, monai_softmax)
    monai_weighted = monai_losses.FocalLoss(to_onehot_y=True, use_softmax=True, weight=W)(
        X, Y[:, None]
    )
    close(FocalLoss(alpha=W)(X, Y) / C, monai_weighted)
    close(multilabel * C, smp_focal_multiclass(X, Y))


# ---------------------------------------------------------------- BCE pos_weight (C, 1, 1)
def test_bce_takes_the_pos_weight_shaped_for_torch_bce():
    """``load_weights(..., method="pos_weight", spatial_dims=2)`` returns ``(C, 1, 1)`` for
    ``nn.BCEWithLogitsLoss``; ours takes the same tensor."""
    pw = torch.tensor([2.0, 5.0, 1.5, 0.5]).reshape(-1, 1, 1)
    t = onehot(Y)
    ref = torch.nn.BCEWithLogitsLoss(pos_weight=pw)(X, t)
    ours = BCEWithLogitsLoss(pos_weight=pw)
    assert ours.pos_weight.shape == (C,)
    close(ours(X, t), ref, rel=1e-6)
