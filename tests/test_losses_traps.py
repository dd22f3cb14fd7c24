"""The traps of docs anchors-losses §10 that cut across every loss (1, 2, 7, 14, 15, 16).

Traps with a loss-specific reference live beside it: 3, 5, 6, 11, 12 in
``test_losses_dice.py`` / ``test_losses_focal.py``; 4, 8 in ``test_losses_ce.py``;
9, 10 in ``test_losses_focal.py``; 13 in ``test_losses_combined.py``.
"""

from __future__ import annotations

import pytest
import torch

from classweights.errors import ConfigError
from classweights.losses import (
    BCEDiceLoss,
    BCEWithLogitsLoss,
    CombinedLoss,
    CrossEntropyLoss,
    DiceLoss,
    FocalDiceLoss,
    FocalLoss,
    MixedLoss,
)


def _mixed(**kw):
    return MixedLoss([BCEWithLogitsLoss(**kw), DiceLoss(mode="multilabel", **kw)], [0.3, 0.7])


# (id, factory taking ignore_index, target kind)
CASES = [
    ("ce", lambda **kw: CrossEntropyLoss(**kw), "mc"),
    ("ce-smooth", lambda **kw: CrossEntropyLoss(label_smoothing=0.1, **kw), "mc"),
    ("bce", lambda **kw: BCEWithLogitsLoss(pos_weight=[2.0, 0.5, 1.0], **kw), "ml"),
    ("dice-mc", lambda **kw: DiceLoss(**kw), "mc"),
    ("dice-mc-s0-sq", lambda **kw: DiceLoss(smooth=0.0, square_denominator=True, **kw), "mc"),
    ("dice-mc-batch-nobg", lambda **kw: DiceLoss(batch=True, include_background=False, **kw), "mc"),
    ("dice-ml", lambda **kw: DiceLoss("multilabel", **kw), "ml"),
    ("dice-ml-s0", lambda **kw: DiceLoss("multilabel", smooth=0.0, **kw), "ml"),
    ("dice-bin", lambda **kw: DiceLoss("binary", **kw), "bin"),
    ("focal-mc", lambda **kw: FocalLoss(alpha=0.25, weight=[1.0, 2.0, 0.5], **kw), "mc"),
    ("focal-mc-g05", lambda **kw: FocalLoss(gamma=0.5, **kw), "mc"),
    ("focal-ml", lambda **kw: FocalLoss("multilabel", alpha=0.25, **kw), "ml"),
    ("focal-bin", lambda **kw: FocalLoss("binary", **kw), "bin"),
    ("combined", lambda **kw: CombinedLoss(weight=[1.0, 2.0, 3.0], **kw), "mc"),
    ("combined-s0", lambda **kw: CombinedLoss(smooth=0.0, label_smoothing=0.1, **kw), "mc"),
    ("bce-dice", lambda **kw: BCEDiceLoss(pos_weight=[2.0, 1.0, 1.0], **kw), "ml"),
    ("focal-dice-mc", lambda **kw: FocalDiceLoss(weight=[1.0, 2.0, 3.0], **kw), "mc"),
    ("focal-dice-ml", lambda **kw: FocalDiceLoss(mode="multilabel", **kw), "ml"),
    ("mixed", _mixed, "ml"),
]
IDS = [c[0] for c in CASES]


def make(kind, shape=(2, 3, 4, 5), *, seed=0, dtype=torch.float32, ignore=None, fill=None):
    """Logits and a target of ``kind``: mc (indices), ml (0/1 channels), bin (1 channel)."""
    g = torch.Generator().manual_seed(seed)
    n, c, *sp = shape
    if kind == "bin":
        c = 1
    x = (torch.randn(n, c, *sp, generator=g) * 2).to(dtype)
    if kind == "mc":
        y = torch.randint(0, c, (n, *sp), generator=g)
    else:
        y = (torch.rand(n, c, *sp, generator=g) > 0.6).float()
    if fill is not None:
        y = torch.full_like(y, fill)
    if ignore is not None:
        y[torch.rand(y.shape, generator=g) < 0.25] = ignore
    return x, y


# ---- traps 1 and 2: all ignored -> 0, finite and zero gradients ---------------------------
@pytest.mark.parametrize(("name", "factory", "kind"), CASES, ids=IDS)
def test_trap1_trap2_every_pixel_ignored_gives_zero_and_zero_grad(name, factory, kind):
    x, y = make(kind)
    y = torch.full_like(y, 255)
    x.requires_grad_()
    loss = factory(ignore_index=255)(x, y)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(x.grad).all()
    assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize(("name", "factory", "kind"), CASES, ids=IDS)
@pytest.mark.parametrize("fill", [0, 1, "absent"])
def test_finite_with_all_zero_all_one_targets_and_absent_classes(name, factory, kind, fill):
    x, y = make(kind, seed=1)
    if fill == "absent":  # class / channel 2 nowhere in the target
        y = y.clamp(max=1) if kind == "mc" else y.index_fill(1, torch.tensor([0]), 0.0)
    else:
        y = torch.full_like(y, fill)
    x.requires_grad_()
    loss = factory()(x, y)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(x.grad).all()


def test_trap2_smooth_zero_empty_class_zero_prediction_has_finite_grad():
    """An absent class predicted with exactly 0 probability at smooth=0: no 0/0 NaN."""
    y = torch.tensor([[[0, 1], [1, 0]]])
    x = torch.nn.functional.one_hot(y, 3).movedim(-1, 1).float() * 5
    x[:, 2] = -torch.inf  # probability exactly 0 on class 2
    x.requires_grad_()
    for loss_fn in (DiceLoss(smooth=0.0), CombinedLoss(smooth=0.0)):
        x.grad = None
        loss = loss_fn(x, y)
        loss.backward()
        assert torch.isfinite(loss)
        assert torch.isfinite(x.grad).all()
    xs = torch.full((1, 2, 2, 2), -30.0, requires_grad=True)  # sigmoid ~ 0 everywhere
    loss = DiceLoss("multilabel", smooth=0.0)(xs, torch.zeros(1, 2, 2, 2))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(xs.grad).all()


# ---- gradcheck ---------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "factory", "kind"), CASES, ids=IDS)
def test_gradcheck_float64(name, factory, kind):
    x, y = make(kind, shape=(2, 3, 2, 3), seed=2, dtype=torch.float64, ignore=255)
    loss_fn = factory(ignore_index=255).double()
    x.requires_grad_()
    assert torch.autograd.gradcheck(lambda inp: loss_fn(inp, y), (x,))


# ---- trap 7: half precision and autocast -------------------------------------------------
FP_CASES = [
    c
    for c in CASES
    if c[0]
    in (
        "ce",
        "bce",
        "dice-mc",
        "dice-ml",
        "dice-bin",
        "focal-mc",
        "focal-ml",
        "combined",
        "bce-dice",
        "focal-dice-mc",
        "mixed",
    )
]


@pytest.mark.parametrize(("name", "factory", "kind"), FP_CASES, ids=[c[0] for c in FP_CASES])
def test_trap7_float16_and_bfloat16_within_1e3_of_float32(name, factory, kind):
    """1x3x512x512 half logits: sums past 65504 must not overflow (smp NaN, MONAI 1.0)."""
    x, y = make(kind, shape=(1, 3, 512, 512), seed=3)
    loss_fn = factory()
    ref = loss_fn(x, y)
    for dtype in (torch.float16, torch.bfloat16):
        xh = x.to(dtype).requires_grad_()
        out = loss_fn(xh, y)
        assert out.dtype == torch.float32  # reduced and returned in float32
        assert abs(out.float().item() - ref.item()) < 1e-3, (dtype, out.item(), ref.item())
        # the reductions run in float32: identical to float32 maths on the rounded logits
        exact = loss_fn(xh.detach().float(), y)
        assert abs(out.float().item() - exact.item()) <= 1e-2 * abs(exact.item()) + 1e-3
        out.backward()
        assert torch.isfinite(xh.grad.float()).all()


@pytest.mark.parametrize(("name", "factory", "kind"), FP_CASES, ids=[c[0] for c in FP_CASES])
def test_trap7_under_autocast_bfloat16(name, factory, kind):
    x, y = make(kind, shape=(1, 3, 128, 128), seed=4)
    c = x.shape[1]
    conv = torch.nn.Conv2d(c, c, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(c).view(c, c, 1, 1))
    loss_fn = factory()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = conv(x)
        assert logits.dtype == torch.bfloat16
        out = loss_fn(logits, y)
        same_fp32 = loss_fn(x, y)  # float32 input inside autocast: nothing is downcast
    out.float().backward()
    assert abs(out.float().item() - loss_fn(x, y).item()) < 1e-3
    assert same_fp32.item() == pytest.approx(loss_fn(x, y).item(), rel=1e-6, abs=1e-7)
    assert torch.isfinite(conv.weight.grad).all()


# ---- trap 14: weights as buffers, lengths ------------------------------------------------
def test_trap14_weights_are_buffers_that_follow_to_and_state_dict():
    loss = CombinedLoss(weight=[1.0, 2.0, 3.0])
    assert "weight" in dict(loss.named_buffers())
    assert loss.state_dict()["weight"].tolist() == [1.0, 2.0, 3.0]
    assert loss.to(torch.float64).weight.dtype == torch.float64
    other = CombinedLoss(weight=[9.0, 9.0, 9.0])
    other.load_state_dict(loss.state_dict())
    assert other.weight.tolist() == [1.0, 2.0, 3.0]
    focal = FocalLoss(alpha=[0.5, 1.0, 2.0], weight=[1.0, 1.0, 2.0])
    assert set(focal.state_dict()) == {"alpha", "weight"}
    bce = BCEWithLogitsLoss(pos_weight=[1.0, 3.0])
    assert bce.to("meta").pos_weight.device.type == "meta"


def test_trap14_background_excluded_accepts_c_or_c_minus_1_weights():
    x, y = make("mc", shape=(2, 3, 4, 5), seed=5)
    full = DiceLoss(weight=[7.0, 1.0, 2.0], include_background=False)(x, y)
    short = DiceLoss(weight=[1.0, 2.0], include_background=False)(x, y)
    torch.testing.assert_close(full, short)


@pytest.mark.parametrize(
    ("loss_fn", "kind"),
    [
        (CrossEntropyLoss(weight=[1.0, 2.0, 3.0]), "mc"),
        (BCEWithLogitsLoss(weight=[1.0, 2.0, 3.0]), "ml"),
        (BCEWithLogitsLoss(pos_weight=[1.0, 2.0, 3.0]), "ml"),
        (DiceLoss(weight=[1.0, 2.0, 3.0]), "mc"),
        (DiceLoss("multilabel", weight=[1.0, 2.0, 3.0]), "ml"),
        (FocalLoss(weight=[1.0, 2.0, 3.0]), "mc"),
        (FocalLoss(alpha=[1.0, 2.0, 3.0]), "mc"),
        (CombinedLoss(weight=[1.0, 2.0, 3.0]), "mc"),
        (BCEDiceLoss(pos_weight=[1.0, 2.0, 3.0]), "ml"),
        (FocalDiceLoss(weight=[1.0, 2.0, 3.0]), "mc"),
    ],
)
def test_trap14_wrong_weight_length_is_a_clear_error(loss_fn, kind):
    x, y = make(kind, shape=(1, 4, 2, 2))
    with pytest.raises(ConfigError, match=r"has 3 values but the logits have C=4 channels"):
        loss_fn(x, y)


# ---- trap 15: memory layouts and 3-D ------------------------------------------------------
@pytest.mark.parametrize(("name", "factory", "kind"), CASES, ids=IDS)
def test_trap15_channels_last_non_contiguous_and_3d(name, factory, kind):
    x, y = make(kind, shape=(2, 3, 4, 6), seed=6, ignore=255)
    loss_fn = factory(ignore_index=255)
    ref = loss_fn(x, y)
    cl = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(loss_fn(cl, y), ref)
    # transposed spatial axes: non-contiguous logits and target, same pixels
    yt = y.transpose(-1, -2)
    torch.testing.assert_close(loss_fn(x.transpose(-1, -2), yt), ref)
    x3, y3 = make(kind, shape=(2, 3, 2, 3, 4), seed=7, ignore=255)
    out3 = loss_fn(x3, y3)
    cl3 = x3.contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(loss_fn(cl3, y3), out3)
    assert torch.isfinite(out3)


# ---- trap 16: defaults -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (CrossEntropyLoss, "mc"),
        (BCEWithLogitsLoss, "ml"),
        (DiceLoss, "mc"),
        (FocalLoss, "mc"),
        (CombinedLoss, "mc"),
        (BCEDiceLoss, "ml"),
        (FocalDiceLoss, "mc"),
    ],
)
def test_trap16_every_loss_works_with_default_arguments(cls, kind):
    x, y = make(kind)
    loss = cls()(x, y)
    assert loss.ndim == 0
    assert torch.isfinite(loss)
    mixed = MixedLoss([cls()])  # the one loss needing an argument: its list of losses
    torch.testing.assert_close(mixed(x, y), loss)


def test_trap7_literal_case_dice_1x2x512x512_half():
    """The exact smp#463 case: 1x2x512x512 float16 logits (smp gives NaN, MONAI 1.0)."""
    x, y = make("mc", shape=(1, 2, 512, 512), seed=8)
    ref = DiceLoss()(x, y).item()
    half = DiceLoss()(x.half(), y).item()
    assert abs(half - ref) < 1e-3
    assert 0.3 < ref < 0.7


@pytest.mark.parametrize("factory", [DiceLoss, CombinedLoss, FocalLoss, CrossEntropyLoss])
def test_backward_twice_with_retain_graph_gives_the_same_gradient(factory):
    """The fused softmax reuses its buffer for the gradient; a retained graph must recompute."""
    x, y = make("mc", seed=9, ignore=255)
    x.requires_grad_()
    loss = factory(ignore_index=255)(x, y)
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward()
    torch.testing.assert_close(x.grad, 2 * first)


class _CountTorchCalls(torch.overrides.TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def _forward_calls(loss_fn, kind, shape):
    x, y = make(kind, shape=shape, seed=10)
    with _CountTorchCalls() as counter:
        loss_fn(x, y)
    return counter.calls


@pytest.mark.parametrize(("name", "factory", "kind"), CASES, ids=IDS)
def test_no_python_loop_over_classes_or_pixels(name, factory, kind):
    """The number of torch calls in a forward pass does not grow with C, H or W."""
    if any(b is not None and b.ndim == 1 for b in factory().buffers()):
        pytest.skip("fixed-length weight vector; covered by the unweighted cases")
    loss_fn = factory()
    small = _forward_calls(loss_fn, kind, (2, 3, 4, 5))
    assert _forward_calls(loss_fn, kind, (2, 9, 4, 5)) == small
    assert _forward_calls(loss_fn, kind, (2, 3, 16, 20)) == small
