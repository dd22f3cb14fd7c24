"""Every loss is GPU-ready: compiles without graph breaks, exact second derivatives,
non-finite inputs give non-finite losses, empty batches give a connected zero, and (with a
CUDA device) no host-device sync per step and CUDA-graph capture.

References are independent of the code under test: eager mode (for the compiled graph),
finite differences (``gradgradcheck``) and ``F.cross_entropy``'s own double backward.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

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
    MixedLoss,
)
from classweights.losses.subclassified import SubclassifiedLoss
from classweights.metrics import DiceMetric

C = 4
W = [1.0, 2.0, 0.5, 3.0]

# name -> (factory, target kind); kinds: mc (indices), mc255 (with void 255), ml, ml255, bin
CASES: dict[str, tuple[Callable[[], torch.nn.Module], str]] = {
    "ce": (lambda: CrossEntropyLoss(), "mc"),
    "ce_weight_ignore_smooth": (
        lambda: CrossEntropyLoss(weight=W, ignore_index=255, label_smoothing=0.1),
        "mc255",
    ),
    "ce_sum": (lambda: CrossEntropyLoss(weight=W, reduction="sum"), "mc"),
    "bce_pos_weight_ignore": (
        lambda: BCEWithLogitsLoss(weight=W, pos_weight=[2.0, 1.0, 3.0, 0.5], ignore_index=255),
        "ml255",
    ),
    "dice": (lambda: DiceLoss(), "mc"),
    "dice_weight_ignore_smooth0": (
        lambda: DiceLoss(weight=W, ignore_index=255, smooth=0.0),
        "mc255",
    ),
    "dice_square_batch_nobg": (
        lambda: DiceLoss(square_denominator=True, batch=True, include_background=False),
        "mc",
    ),
    "dice_multilabel": (lambda: DiceLoss(mode="multilabel", weight=W, ignore_index=255), "ml255"),
    "dice_binary": (lambda: DiceLoss(mode="binary", smooth=0.5), "bin"),
    "focal_gamma2_alpha": (
        lambda: FocalLoss(gamma=2.0, alpha=0.25, weight=W, ignore_index=255),
        "mc255",
    ),
    "focal_gamma0": (lambda: FocalLoss(gamma=0.0), "mc"),
    "focal_gamma_half": (lambda: FocalLoss(gamma=0.5), "mc"),
    "focal_multilabel": (
        lambda: FocalLoss(mode="multilabel", alpha=[0.2, 0.4, 0.6, 0.8], ignore_index=255),
        "ml255",
    ),
    "combined": (
        lambda: CombinedLoss(weight=W, ignore_index=255, label_smoothing=0.1),
        "mc255",
    ),
    "combined_dice0": (lambda: CombinedLoss(dice_weight=0.0), "mc"),
    "combined_multilabel": (
        lambda: CombinedLoss(mode="multilabel", pos_weight=[2.0, 1.0, 1.0, 1.0]),
        "ml",
    ),
    "bce_dice_binary": (lambda: BCEDiceLoss(mode="binary"), "bin"),
    "focal_dice": (lambda: FocalDiceLoss(alpha=0.25, weight=W, ignore_index=255), "mc255"),
    "mixed": (
        lambda: MixedLoss([CrossEntropyLoss(ignore_index=255), DiceLoss(ignore_index=255)]),
        "mc255",
    ),
}


def make_inputs(
    kind: str, n: int = 2, size: tuple[int, int] = (5, 6), dtype: torch.dtype = torch.float32,
    seed: int = 0, device: str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    c = 1 if kind == "bin" else C
    x = torch.randn(n, c, *size, generator=g, dtype=dtype)
    if kind.startswith("mc"):
        y = torch.randint(0, C, (n, *size), generator=g)
        if kind == "mc255":
            y[torch.rand(y.shape, generator=g) < 0.2] = 255
    else:
        y = torch.randint(0, 2, (n, c, *size), generator=g).to(dtype)
        if kind == "ml255":
            y[torch.rand(y.shape, generator=g) < 0.2] = 255
    return x.to(device), y.to(device)


def value_and_grad(fn: Callable, x0: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    x = x0.clone().requires_grad_()
    out = fn(x, y)
    (grad,) = torch.autograd.grad(out, x)
    return out.detach(), grad


# ---- torch.compile(fullgraph=True): no graph break, same value and gradient --------------
@pytest.mark.parametrize("name", sorted(CASES))
def test_compiles_fullgraph_and_matches_eager(name: str) -> None:
    factory, kind = CASES[name]
    loss = factory()
    x, y = make_inputs(kind)
    torch._dynamo.reset()
    compiled = torch.compile(loss, fullgraph=True, backend="aot_eager")
    v_c, g_c = value_and_grad(compiled, x, y)
    v_e, g_e = value_and_grad(loss, x, y)
    torch.testing.assert_close(v_c, v_e, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_c, g_e, rtol=1e-5, atol=1e-6)


def _subclassified_after_init(**kw) -> tuple[SubclassifiedLoss, tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(1)
    loss = SubclassifiedLoss(C, num_subclasses=[1, 2, 3, 2], base_weight=W, **kw)
    x = torch.randn(2, C, 8, 8, generator=g)
    y = torch.randint(0, C, (2, 8, 8), generator=g)
    y[0, 0, :3] = 255
    feats = torch.randn(2, 6, 4, 4, generator=g)
    loss(x, y, feats)  # the initialisation batch (every class present): eager
    return loss, (x, y, feats)


@pytest.mark.parametrize("kw", [{}, {"update_every": 2, "warmup_steps": 1}, {"normalize": False}])
def test_subclassified_compiles_after_init(kw: dict) -> None:
    eager, (x, y, feats) = _subclassified_after_init(**kw)
    assert bool(eager.initialized.all())
    twin = copy.deepcopy(eager)
    torch._dynamo.reset()
    compiled = torch.compile(twin, fullgraph=True, backend="aot_eager")
    for _ in range(3):  # several steps: the stateful buffers follow eager mode exactly
        v_c, g_c = value_and_grad(lambda a, b: compiled(a, b, feats), x, y)
        v_e, g_e = value_and_grad(lambda a, b: eager(a, b, feats), x, y)
        torch.testing.assert_close(v_c, v_e, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(g_c, g_e, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(twin.mean_loss, eager.mean_loss)
    torch.testing.assert_close(twin.centroids, eager.centroids)
    assert int(twin.num_steps) == int(eager.num_steps)


def test_compiled_loss_still_refuses_bad_labels() -> None:
    loss = torch.compile(CrossEntropyLoss(ignore_index=255), fullgraph=True, backend="aot_eager")
    x, y = make_inputs("mc")
    torch._dynamo.reset()
    loss(x, y)
    y[0, 0, 0] = 7
    with pytest.raises(RuntimeError, match="outside 0..3"):
        loss(x, y)


def test_validate_false_skips_the_label_check() -> None:
    x, y = make_inputs("ml")
    y[0, 0, 0, 0] = 2.0  # out of range: refused by default, accepted when told not to look
    with pytest.raises(ConfigError, match=r"in \[0, 1\]"):
        BCEWithLogitsLoss()(x, y)
    assert torch.isfinite(BCEWithLogitsLoss(validate=False)(x, y))


# ---- second derivatives -------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradgradcheck_float64(name: str) -> None:
    factory, kind = CASES[name]
    loss = factory().double()
    x, y = make_inputs(kind, n=2, size=(2, 3), dtype=torch.float64, seed=3)
    x.requires_grad_()
    assert torch.autograd.gradcheck(lambda a: loss(a, y), (x,))
    assert torch.autograd.gradgradcheck(lambda a: loss(a, y), (x,))


def test_subclassified_gradgradcheck_float64() -> None:
    loss, (x, y, feats) = _subclassified_after_init()
    loss = loss.double().eval()  # frozen statistics: the same function at every evaluation
    x = x[:, :, :3, :3].double().requires_grad_()
    y = y[:, :3, :3]
    feats = feats.double()
    assert torch.autograd.gradgradcheck(lambda a: loss(a, y, feats), (x,))


def _penalty_grad(fn: Callable, x0: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x0.clone().requires_grad_()
    (g,) = torch.autograd.grad(fn(x, y), x, create_graph=True)
    (gg,) = torch.autograd.grad(g.square().sum(), x)
    return gg


@pytest.mark.parametrize(
    "make",
    [
        lambda: CrossEntropyLoss(weight=[1.0, 2.0, 0.5]),
        lambda: CombinedLoss(dice_weight=0.0, ce_weight=1.0, weight=[1.0, 2.0, 0.5]),
        lambda: FocalLoss(gamma=0.0, weight=[1.0, 2.0, 0.5]),
    ],
    ids=["ce", "combined_dice0", "focal_gamma0"],
)
def test_gradient_penalty_matches_torch_cross_entropy(make: Callable) -> None:
    # issue 21: once_differentiable dropped the softmax-Hessian term (0.0880 vs 0.1004)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (2, 4, 4), generator=g)
    w = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    expected = _penalty_grad(lambda a, b: F.cross_entropy(a, b, weight=w), x, y)
    got = _penalty_grad(make().double(), x, y)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


# ---- issue 16 item 9: non-finite input -> non-finite loss; bad multilabel targets refused --
@pytest.mark.parametrize("name", sorted(CASES))
def test_nan_logit_gives_non_finite_loss(name: str) -> None:
    factory, kind = CASES[name]
    x, y = make_inputs(kind)
    x[0, 0, 1, 1] = float("nan")
    assert not torch.isfinite(factory()(x, y)), "a NaN logit was masked into a finite loss"


@pytest.mark.parametrize(
    "name", [n for n, (_, k) in sorted(CASES.items()) if k.startswith("mc")]
)
def test_inf_logit_gives_non_finite_loss_softmax(name: str) -> None:
    factory, kind = CASES[name]
    x, y = make_inputs(kind)
    x[0, :, 1, 1] = float("inf")  # inf - inf in the softmax, as F.cross_entropy
    assert not torch.isfinite(factory()(x, y))


def test_dice_nan_logit_was_masked_to_one_before() -> None:
    x = torch.zeros(1, 2, 2, 2)
    x[0, 1, 0, 0] = float("nan")
    out = DiceLoss()(x, torch.zeros(1, 2, 2, dtype=torch.long))
    assert torch.isnan(out)  # it used to be 1.0 with a NaN gradient


@pytest.mark.parametrize("bad", [float("nan"), 2.0, -0.5])
@pytest.mark.parametrize(
    "make",
    [
        lambda: BCEWithLogitsLoss(),
        lambda: DiceLoss(mode="multilabel"),
        lambda: FocalLoss(mode="multilabel"),
        lambda: BCEDiceLoss(),
    ],
    ids=["bce", "dice", "focal", "bce_dice"],
)
def test_multilabel_target_outside_unit_interval_refused(make: Callable, bad: float) -> None:
    x, y = make_inputs("ml")
    y[1, 2, 3, 4] = bad
    with pytest.raises(ConfigError, match=r"must be in \[0, 1\]"):
        make()(x, y)


# ---- issue 16 item 10: an empty batch gives a zero connected to the graph -----------------
@pytest.mark.parametrize("name", sorted(CASES))
def test_empty_batch_gives_connected_zero(name: str) -> None:
    factory, kind = CASES[name]
    x, y = make_inputs(kind, n=0)
    x.requires_grad_()
    out = factory()(x, y)
    assert out.shape == () and float(out.detach()) == 0.0
    out.backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_subclassified_empty_batch_gives_connected_zero() -> None:
    loss, _ = _subclassified_after_init()
    x = torch.zeros(0, C, 8, 8, requires_grad=True)
    out = loss(x, torch.zeros(0, 8, 8, dtype=torch.long), torch.zeros(0, 6, 4, 4))
    assert float(out.detach()) == 0.0
    out.backward()
    assert x.grad is not None


# ---- CUDA: zero host-device syncs per step, CUDA-graph capture ----------------------------
cuda = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA device: set_sync_debug_mode and CUDA graphs exist only on GPUs "
    "(the compile tests above catch data-dependent control flow on CPU)",
)


def _no_sync_step(fn: Callable[[], torch.Tensor]) -> None:
    fn()  # warm-up: lazy init, caches, the subclassified loss's initialisation
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        fn()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    torch.cuda.synchronize()


@cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name", sorted(CASES))
def test_no_host_sync_per_step_cuda(name: str, dtype: torch.dtype) -> None:
    factory, kind = CASES[name]
    loss = factory().cuda()
    x0, y = make_inputs(kind, size=(32, 32), device="cuda")
    x = x0.to(dtype).requires_grad_()

    def step() -> torch.Tensor:
        x.grad = None
        out = loss(x, y)
        out.backward()
        return out

    _no_sync_step(step)


@cuda
def test_no_host_sync_subclassified_and_metric_cuda() -> None:
    loss, (x, y, feats) = _subclassified_after_init(update_every=2, warmup_steps=1)
    loss = loss.cuda()
    x, y, feats = x.cuda().requires_grad_(), y.cuda(), feats.cuda()
    _no_sync_step(lambda: loss(x, y, feats).backward())
    metric = DiceMetric(C, ignore_index=255)
    _no_sync_step(lambda: metric.update(x.detach(), y))
    ml = DiceMetric(C, mode="multilabel", ignore_index=255)
    xm, ym = make_inputs("ml255", device="cuda")
    _no_sync_step(lambda: ml.update(xm, ym))


@cuda
@pytest.mark.parametrize("name", ["ce_weight_ignore_smooth", "combined", "dice_multilabel"])
def test_cuda_graph_captures_a_step(name: str) -> None:
    factory, kind = CASES[name]
    loss = factory().cuda()
    x0, y = make_inputs(kind, size=(32, 32), device="cuda")
    x = x0.clone().requires_grad_()
    expected, expected_grad = value_and_grad(loss, x0, y)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            x.grad = None
            loss(x, y).backward()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    x.grad = None
    with torch.cuda.graph(graph):
        out = loss(x, y)
        out.backward()
    graph.replay()
    torch.cuda.synchronize()
    torch.testing.assert_close(out.detach(), expected)
    torch.testing.assert_close(x.grad, expected_grad)


@pytest.mark.parametrize("sync_free", [False, True], ids=["host_fixup", "exp_minus_lse"])
def test_both_softmax_paths_match_log_softmax(sync_free: bool) -> None:
    # the GPU forward (exp(x - logsumexp), no host read) runs here on CPU by request
    from classweights.losses._functional import prepare_labels
    from classweights.losses._softmax import softmax_terms

    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 7, generator=g, dtype=torch.float64) * 40  # some p_y underflow
    y = torch.randint(0, 3, (2, 7), generator=g)
    y[0, 0] = 255
    tgt = prepare_labels(x, y, 255)
    w = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)

    def run(a: torch.Tensor) -> tuple[torch.Tensor, ...]:
        t = softmax_terms(
            a, tgt, need_logp=True, smooth_weight=w, need_smooth=True, need_dice=True,
            sync_free=sync_free,
        )
        return t.logp_t, t.smooth, t.dice.inter, t.dice.pred

    logp = F.log_softmax(x, 1)
    valid = (y != 255).double()
    ref_logp = logp.gather(1, tgt.index.unsqueeze(1)).squeeze(1) * valid
    ref_smooth = -(logp * w.view(1, 3, 1)).sum(1) * valid
    got = run(x)
    torch.testing.assert_close(got[0], ref_logp)
    torch.testing.assert_close(got[1], ref_smooth)
    torch.testing.assert_close(got[3], (logp.exp() * valid.unsqueeze(1)).sum(2))
    xs = (x / 40).requires_grad_()
    assert torch.autograd.gradcheck(run, (xs,))
    assert torch.autograd.gradgradcheck(run, (xs,))
