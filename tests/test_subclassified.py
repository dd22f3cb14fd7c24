"""Tests of SubclassifiedLoss against independent references.

References: ``F.cross_entropy`` (K=1), a slow per-pixel Python/NumPy loop of the whole
update (nearest feature position, cosine assignment, EMA, the weight formula written
literally with the overall mean loss), hand-built mode data, ``F.interpolate`` (nearest).
"""

from __future__ import annotations

import math
import socket

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from classweights.errors import ConfigError, UnknownLabelError
from classweights.losses.subclassified import SubclassifiedLoss

IGN = 255


def make_batch(seed, n=2, c=4, hh=8, ww=10, fd=6, h=3, w=5, ignore_frac=0.2):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, hh, ww, generator=g)
    target = torch.randint(0, c, (n, hh, ww), generator=g)
    target[torch.rand(n, hh, ww, generator=g) < ignore_frac] = IGN
    feats = torch.randn(n, fd, h, w, generator=g)
    return logits, target, feats


# --------------------------------------------------------------------------- naive reference
class NaiveSubclass:
    """Per-pixel loops in float64 NumPy; mirrors the documented semantics, shares no code."""

    def __init__(self, centroids, ks, momentum, base_weight=None):
        self.cent = np.array(centroids, dtype=np.float64)  # (C, Kmax, F), unit rows
        c, kmax, _ = self.cent.shape
        self.ks, self.m = ks, momentum
        self.base = np.ones(c) if base_weight is None else np.asarray(base_weight, np.float64)
        self.counts = np.zeros((c, kmax))
        self.mean_loss = np.zeros((c, kmax))
        self.slot_seen = np.zeros((c, kmax), dtype=int)
        self.class_seen = np.zeros(c, dtype=int)

    def assign(self, target, feats):
        n, hh, ww = target.shape
        _, _, h, w = feats.shape
        out = np.full((n, hh, ww), -1)
        for i in range(n):
            for y in range(hh):
                for x in range(ww):
                    c = int(target[i, y, x])
                    if c == IGN:
                        continue
                    f = feats[i, :, y * h // hh, x * w // ww].astype(np.float64)
                    f = f / np.linalg.norm(f)
                    sims = [float(f @ self.cent[c, k]) for k in range(self.ks[c])]
                    out[i, y, x] = int(np.argmax(sims))
        return out

    def step(self, logits, target, feats):
        logp = torch.log_softmax(logits.double(), 1).numpy()
        t, fe = target.numpy(), feats.numpy()
        sub = self.assign(t, fe)
        c_n, kmax, fd = self.cent.shape
        cnt, lsum, fsum = np.zeros((c_n, kmax)), np.zeros((c_n, kmax)), np.zeros((c_n, kmax, fd))
        n, hh, ww = t.shape
        _, _, h, w = fe.shape
        for i in range(n):
            for y in range(hh):
                for x in range(ww):
                    c, k = int(t[i, y, x]), sub[i, y, x]
                    if c == IGN:
                        continue
                    f = fe[i, :, y * h // hh, x * w // ww].astype(np.float64)
                    cnt[c, k] += 1
                    lsum[c, k] += -logp[i, c, y, x]
                    fsum[c, k] += f / np.linalg.norm(f)
        m = self.m
        for c in range(c_n):
            if cnt[c].sum() > 0:
                first = self.class_seen[c] == 0
                self.counts[c] = cnt[c] if first else m * self.counts[c] + (1 - m) * cnt[c]
                self.class_seen[c] += 1
            for k in range(kmax):
                if cnt[c, k] == 0:
                    continue
                mean = lsum[c, k] / cnt[c, k]
                first = self.slot_seen[c, k] == 0
                self.mean_loss[c, k] = mean if first else m * self.mean_loss[c, k] + (1 - m) * mean
                new = m * self.cent[c, k] + (1 - m) * fsum[c, k] / cnt[c, k]
                self.cent[c, k] = new / np.linalg.norm(new)
                self.slot_seen[c, k] += 1
        return sub

    def weights(self):
        """Literal formula: (1/freq) * (avg_loss / overall_avg), share-weighted mean 1 per class."""
        c_n, kmax = self.counts.shape
        seen = self.slot_seen > 0
        overall = (self.counts * self.mean_loss).sum() / self.counts.sum()
        w = np.ones((c_n, kmax))
        for c in range(c_n):
            if self.ks[c] == 1 or self.counts[c].sum() == 0:
                continue
            share = self.counts[c] / self.counts[c].sum()
            raw = {
                k: (1 / share[k]) * (self.mean_loss[c, k] / overall)
                for k in range(self.ks[c])
                if seen[c, k]
            }
            norm = sum(share[k] * r for k, r in raw.items())
            for k, r in raw.items():
                w[c, k] = r / norm
        return w

    def loss(self, logits, target, sub):
        logp = torch.log_softmax(logits.double(), 1).numpy()
        w, t = self.weights(), target.numpy()
        num = den = 0.0
        for i, y, x in zip(*np.nonzero(t != IGN), strict=True):
            c = t[i, y, x]
            v = self.base[c] * w[c, sub[i, y, x]]
            num += v * -logp[i, c, y, x]
            den += v
        return num / den


def unit_centroids(c, kmax, fd, seed):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(c, kmax, fd, generator=g), dim=-1)


def test_matches_naive_loop_over_three_steps():
    ks, base = [1, 3, 2, 3], [0.5, 1.0, 2.0, 1.5]
    cent = unit_centroids(4, 3, 6, seed=1)
    loss = SubclassifiedLoss(4, num_subclasses=ks, momentum=0.5, base_weight=base)
    loss.centroids = cent.clone()
    loss.initialized.fill_(True)
    naive = NaiveSubclass(cent.numpy(), ks, 0.5, base)
    for step in range(3):
        logits, target, feats = make_batch(10 + step)
        before = loss.assign_subclasses(target, feats)
        got = loss(logits, target, feats)
        sub = naive.step(logits, target, feats)
        np.testing.assert_array_equal(before.numpy(), sub)
        np.testing.assert_allclose(loss.counts.numpy(), naive.counts, rtol=1e-5)
        np.testing.assert_allclose(loss.mean_loss.numpy(), naive.mean_loss, rtol=1e-5)
        np.testing.assert_allclose(loss.centroids.numpy(), naive.cent, atol=1e-5)
        np.testing.assert_allclose(loss.subclass_weights().numpy(), naive.weights(), rtol=1e-4)
        assert got.item() == pytest.approx(naive.loss(logits, target, sub), rel=1e-5)


# ------------------------------------------------------------------------------- K = 1 == CE
@pytest.mark.parametrize("base", [None, [0.2, 1.0, 3.0, 0.7]])
@pytest.mark.parametrize("k", [1, {0: 1}, [1, 1, 1, 1]])
def test_k1_equals_weighted_ce(base, k):
    loss = SubclassifiedLoss(4, num_subclasses=k, base_weight=base)
    weight = None if base is None else torch.tensor(base)
    for step in range(3):
        logits, target, feats = make_batch(step)
        x = logits.clone().requires_grad_(True)
        ref_x = logits.clone().requires_grad_(True)
        got = loss(x, target, feats)
        ref = F.cross_entropy(ref_x, target, weight=weight, ignore_index=IGN)
        got.backward()
        ref.backward()
        torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(x.grad, ref_x.grad, rtol=1e-5, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 5),
    hh=st.integers(1, 9),
    ww=st.integers(1, 9),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    fd=st.integers(1, 5),
    seed=st.integers(0, 99),
)
def test_k1_equals_ce_any_shape(n, c, hh, ww, h, w, fd, seed):
    logits, target, feats = make_batch(seed, n, c, hh, ww, fd, h, w, ignore_frac=0.3)
    if (target != IGN).sum() == 0:
        return
    got = SubclassifiedLoss(c, num_subclasses=1)(logits, target, feats)
    torch.testing.assert_close(got, F.cross_entropy(logits, target, ignore_index=IGN))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 999), h=st.integers(1, 7), w=st.integers(1, 7))
def test_pixel_weights_mean_one_and_loss_is_their_weighted_mean(seed, h, w):
    logits, target, feats = make_batch(seed, h=h, w=w, ignore_frac=0.3)
    loss = SubclassifiedLoss(4, num_subclasses=3, base_weight=[1.0, 2.0, 0.5, 1.0])
    loss(logits, target, feats)
    loss.eval()
    pw = loss.pixel_weights(target, feats)
    valid = target != IGN
    assert pw[valid].mean().item() == pytest.approx(1.0, rel=1e-5)
    assert (pw[~valid] == 0).all()
    ce = F.cross_entropy(logits, target, reduction="none", ignore_index=IGN)
    expect = (pw * ce).sum() / valid.sum()
    assert loss(logits, target, feats).item() == pytest.approx(expect.item(), rel=1e-5)


# ------------------------------------------------------------------------ clustering & init
def three_mode_batch(seed, n=2, c=3, hh=16, ww=16, fd=8):
    """Each class's pixels come from 3 well-separated feature directions (one per block)."""
    g = torch.Generator().manual_seed(seed)
    dirs = F.normalize(torch.randn(c, 3, fd, generator=g), dim=-1)
    target = torch.randint(0, c, (n, hh, ww), generator=g)
    mode = torch.randint(0, 3, (n, hh, ww), generator=g)
    feats = dirs[target, mode].permute(0, 3, 1, 2) * (1 + torch.rand(n, 1, hh, ww, generator=g))
    feats = feats + 0.02 * torch.randn(feats.shape, generator=g)
    return torch.randn(n, c, hh, ww, generator=g), target, feats, dirs, mode


def test_centroids_start_from_data_and_recover_modes():
    logits, target, feats, dirs, mode = three_mode_batch(0)
    loss = SubclassifiedLoss(3, num_subclasses=3)
    loss(logits, target, feats)
    cos = torch.einsum("ckf,cjf->ckj", loss.centroids, dirs)  # centroid k vs true mode j
    assert (cos.max(2).values > 0.95).all()  # every centroid sits on a true mode
    assert all(len(set(cos[c].argmax(1).tolist())) == 3 for c in range(3))  # all modes found
    sub = loss.assign_subclasses(target, feats)
    for c in range(3):  # the subclass partition equals the true mode partition
        m = target == c
        pairs = set(zip(sub[m].tolist(), mode[m].tolist(), strict=True))
        assert len(pairs) == 3


def test_class_first_seen_later_is_initialised_then():
    logits, target, feats = make_batch(2)
    first = torch.where(target == 2, IGN, target)  # class 2 absent from the first batch
    loss = SubclassifiedLoss(4, num_subclasses=2, momentum=0.5)
    loss(logits, first, feats)
    assert loss.initialized.tolist() == [True, True, False, True]
    assert (loss.centroids[2] == 0).all()
    loss(logits, target, feats)
    assert loss.initialized.all()
    torch.testing.assert_close(loss.centroids[2].norm(dim=-1), torch.ones(2))
    assert loss.class_updates.tolist() == [2, 2, 1, 2]


def test_deterministic_assignments_under_fixed_seed():
    logits, target, feats = make_batch(3, hh=12, ww=12, fd=5, h=6, w=6)
    runs = []
    for _ in range(2):
        loss = SubclassifiedLoss(4, num_subclasses=3, seed=7)
        loss(logits, target, feats)
        runs.append((loss.centroids.clone(), loss.assign_subclasses(target, feats)))
    torch.testing.assert_close(runs[0][0], runs[1][0], rtol=0, atol=0)
    assert torch.equal(runs[0][1], runs[1][1])
    assert ((runs[0][1] >= 0) & (runs[0][1] < 3))[target != IGN].all()


def test_low_resolution_features_equal_nearest_upsampling():
    logits, target, feats = make_batch(5, hh=12, ww=16, h=3, w=4)
    up = F.interpolate(feats, size=(12, 16), mode="nearest")  # integer ratios: exact
    cent = unit_centroids(4, 3, 6, seed=2)
    a, b = SubclassifiedLoss(4, num_subclasses=3), SubclassifiedLoss(4, num_subclasses=3)
    for m in (a, b):
        m.centroids = cent.clone()
        m.initialized.fill_(True)
    assert torch.equal(a.assign_subclasses(target, feats), b.assign_subclasses(target, up))
    assert a(logits, target, feats).item() == pytest.approx(b(logits, target, up).item())
    torch.testing.assert_close(a.centroids, b.centroids)
    torch.testing.assert_close(a.counts, b.counts)


def test_per_class_k_by_name_masks_unused_slots():
    names = ["road", "car", "sky", "person"]
    loss = SubclassifiedLoss(4, num_subclasses={"car": 3, 3: 2}, class_names=names)
    assert loss.num_subclasses == (1, 3, 1, 2)
    logits, target, feats = make_batch(8)
    loss(logits, target, feats)
    sub = loss.assign_subclasses(target, feats)
    limit = torch.tensor(loss.num_subclasses)[target.clamp(max=3)]
    assert (sub[target != IGN] < limit[target != IGN]).all()
    w = loss.subclass_weights()
    assert w[0].tolist() == [1.0, 1.0, 1.0]
    assert w[3, 2].item() == 1.0


# ----------------------------------------------------------------------------- edge cases
def test_empty_and_unseen_subclasses_get_finite_neutral_weight():
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    target[0, 0, 0] = 1  # class 1: one pixel; class 2: never seen
    feats = torch.ones(1, 3, 4, 4)  # class 0: one distinct feature, K=3 -> 2 empty slots
    loss = SubclassifiedLoss(3, num_subclasses=3)
    out = loss(torch.randn(1, 3, 4, 4), target, feats)
    assert torch.isfinite(out)
    w = loss.subclass_weights()
    assert torch.isfinite(w).all()
    assert w[2].tolist() == [1.0, 1.0, 1.0]  # unseen class
    assert (loss.slot_updates[0] > 0).sum() == 1
    assert w[0][loss.slot_updates[0] == 0].eq(1).all()
    # a seen subclass whose EMA share decayed to (sub)normal or zero stays finite
    loss.counts[0] = torch.tensor([1.0, 1e-45, 0.0])
    loss.mean_loss[0] = torch.tensor([0.5, 3.0, 2.0])
    loss.slot_updates[0] = torch.tensor([5, 5, 5])
    assert torch.isfinite(loss.subclass_weights()).all()
    assert torch.isfinite(loss.pixel_weights(target, feats)).all()


def test_ignored_pixels_take_no_part():
    """Garbage features and logits under ignored pixels change nothing."""
    logits, target, feats = make_batch(4, hh=8, ww=8, h=4, w=4, ignore_frac=0.0)
    target[:, :4, :4] = IGN  # whole feature positions (2x2 label blocks) ignored
    feats2, logits2 = feats.clone(), logits.clone()
    feats2[:, :, :2, :2] = 1e4 * torch.randn(2, 6, 2, 2)
    logits2[:, :, :4, :4] = -1e4
    a, b = SubclassifiedLoss(4, num_subclasses=3), SubclassifiedLoss(4, num_subclasses=3)
    for _ in range(3):
        la, lb = a(logits, target, feats), b(logits2, target, feats2)
        assert la.item() == pytest.approx(lb.item(), rel=1e-6)
    for name in ("centroids", "counts", "mean_loss", "slot_updates"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name))
    assert a.counts.sum().item() == pytest.approx((target != IGN).sum().item())


def test_all_ignored_batch_returns_zero_with_zero_grads():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.full((2, 4, 4), IGN)
    loss = SubclassifiedLoss(3, num_subclasses=2, base_weight=[1.0, 2.0, 3.0])
    out = loss(logits, target, torch.randn(2, 5, 2, 2))
    out.backward()
    assert out.item() == 0.0
    assert torch.isfinite(logits.grad).all()
    assert (logits.grad == 0).all()
    assert loss.counts.sum() == 0
    assert not loss.initialized.any()


# ------------------------------------------------------------------- the rare, hard mode
def rare_mode_batch():
    """Class 0: 75 common pixels per image (feature e0, confident), 5 rare (e1, wrong)."""
    n, hh, ww = 2, 10, 10
    target = torch.zeros(n, hh, ww, dtype=torch.long)
    target[:, :, 8:] = 1  # class 1: feature e2, medium confidence
    rare = torch.zeros(n, hh, ww, dtype=torch.bool)
    rare[:, :5, 7] = True
    feats = torch.zeros(n, 3, hh, ww)
    feats[:, 0][(target == 0) & ~rare] = 1
    feats[:, 1][rare] = 1
    feats[:, 2][target == 1] = 1
    logits = torch.zeros(n, 2, hh, ww)
    logits[:, 0][(target == 0) & ~rare] = 3.0
    logits[:, 1][rare] = 2.0
    logits[:, 1][target == 1] = 1.0
    return logits, target, feats, rare


def test_rare_high_loss_mode_gets_larger_weight_hand_formula():
    logits, target, feats, rare = rare_mode_batch()
    loss = SubclassifiedLoss(2, num_subclasses=2)
    loss(logits, target, feats)
    pw = loss.pixel_weights(target, feats)
    common = (target == 0) & ~rare
    assert pw[rare].min() > 5 * pw[common].max()
    # hand formula with the true modes: class 0 modes (common, rare), class 1 one mode
    ce = F.cross_entropy(logits, target, reduction="none").double()
    overall = ce.mean()
    raw = {}
    for name, m in (("common", common), ("rare", rare)):
        freq = m.sum() / (target == 0).sum()
        raw[name] = (1 / freq) * (ce[m].mean() / overall)
    norm = sum(
        raw[k] * ({"common": common, "rare": rare}[k].sum() / (target == 0).sum()) for k in raw
    )
    expect = torch.ones_like(ce)  # class 1: one feature, so one occupied subclass: weight 1
    expect[common], expect[rare] = raw["common"] / norm, raw["rare"] / norm
    expect = expect / expect.mean()  # mean 1 over valid pixels
    torch.testing.assert_close(pw.double(), expect, rtol=1e-4, atol=1e-6)
    assert loss(logits, target, feats).item() == pytest.approx(
        ((expect * ce).sum() / expect.sum()).item(), rel=1e-4
    )


def test_warmup_uses_class_weights_only():
    logits, target, feats, _ = rare_mode_batch()
    base = torch.tensor([1.0, 2.0])
    loss = SubclassifiedLoss(2, num_subclasses=2, warmup_steps=2, base_weight=base)
    ref = F.cross_entropy(logits, target, weight=base).item()
    assert loss(logits, target, feats).item() == pytest.approx(ref)
    assert loss(logits, target, feats).item() == pytest.approx(ref)
    assert loss(logits, target, feats).item() > 1.5 * ref  # rare, hard pixels now weigh more
    assert int(loss.slot_updates.sum()) > 0


def test_update_every_and_eval_mode_freeze_statistics():
    logits, target, feats = make_batch(6)
    loss = SubclassifiedLoss(4, num_subclasses=2, update_every=2)
    for _ in range(3):
        loss(logits, target, feats)
    assert loss.class_updates.max().item() == 2
    assert loss.num_steps.item() == 3
    loss.eval()
    before = {k: v.clone() for k, v in loss.state_dict().items()}
    loss(logits, target, feats)
    for k, v in loss.state_dict().items():
        assert torch.equal(v, before[k]), k


# --------------------------------------------------------------------- state, grads, dist
def test_state_dict_round_trip_and_to():
    batches = [make_batch(s) for s in range(4)]
    a = SubclassifiedLoss(4, num_subclasses=[1, 2, 3, 2], momentum=0.8)
    for b in batches[:2]:
        a(*b)
    sd = a.state_dict()
    assert {"centroids", "counts", "mean_loss", "slot_updates", "num_steps"} <= set(sd)
    b = SubclassifiedLoss(4, num_subclasses=[1, 2, 3, 2], momentum=0.8)
    b.load_state_dict(sd)  # fresh module: lazily shaped centroids are materialised
    for k, v in sd.items():
        assert torch.equal(b.state_dict()[k], v), k
    for batch in batches[2:]:
        assert a(*batch).item() == b(*batch).item()
    torch.testing.assert_close(a.centroids, b.centroids, rtol=0, atol=0)
    c = b.to(torch.float64)
    assert c.counts.dtype == torch.float64
    assert c.centroids.dtype == torch.float64
    assert torch.isfinite(c(*batches[0])).all()


def test_gradcheck_weighted_ce_path_and_no_feature_gradient():
    logits, target, feats = make_batch(9, n=1, c=3, hh=3, ww=4, fd=4, h=2, w=2)
    loss = SubclassifiedLoss(3, num_subclasses=2, base_weight=[1.0, 0.5, 2.0])
    loss(logits, target, feats)
    loss.eval()
    x = logits.double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: loss(z, target, feats), (x,))
    f = feats.clone().requires_grad_(True)
    out = loss.train()(logits.requires_grad_(True), target, f)
    out.backward()
    assert f.grad is None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_single_process_gloo_group_equals_plain():
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available():
        pytest.skip("torch.distributed unavailable")
    batches = [make_batch(s) for s in range(3)]
    plain = SubclassifiedLoss(4, num_subclasses=3)
    expect = [plain(*b).item() for b in batches]
    dist.init_process_group(
        "gloo", rank=0, world_size=1, init_method=f"tcp://127.0.0.1:{_free_port()}"
    )
    try:
        ddp = SubclassifiedLoss(4, num_subclasses=3)
        got = [ddp(*b).item() for b in batches]
    finally:
        dist.destroy_process_group()
    assert got == pytest.approx(expect, rel=1e-6)
    torch.testing.assert_close(ddp.centroids, plain.centroids)
    torch.testing.assert_close(ddp.counts, plain.counts)


# ------------------------------------------------------------------ hooks and config errors
def test_attach_hook_supplies_features():
    torch.manual_seed(0)
    body = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
    model = torch.nn.Sequential(
        body, torch.nn.ReLU(), torch.nn.Upsample(scale_factor=2), torch.nn.Conv2d(8, 4, 1)
    )
    x, target = torch.randn(2, 3, 8, 8), torch.randint(0, 4, (2, 8, 8))
    hooked, explicit = SubclassifiedLoss(4, 2), SubclassifiedLoss(4, 2)
    with pytest.raises(ConfigError, match="attach"):
        hooked(model(x), target)
    handle = hooked.attach(body)
    out = model(x)
    assert hooked(out, target).item() == pytest.approx(explicit(out, target, body(x)).item())
    handle.remove()


def test_composes_with_mixed_loss_and_build_loss():
    build = pytest.importorskip("classweights.losses.build")
    combined = pytest.importorskip("classweights.losses.combined")
    logits, target, feats = make_batch(1)
    w = torch.tensor([0.5, 1.0, 2.0, 1.0])
    cfg = {"name": "SubclassifiedLoss", "num_classes": 4, "num_subclasses": 1}
    sub = build.build_loss(cfg, weight=w)
    assert isinstance(sub, SubclassifiedLoss)
    torch.testing.assert_close(sub.base_weight, w)
    mixed = combined.MixedLoss([sub], [0.5])
    layer = torch.nn.Identity()
    sub.attach(layer)
    layer(feats)  # the model's forward would run the hooked layer
    expect = 0.5 * F.cross_entropy(logits, target, weight=w, ignore_index=IGN)
    torch.testing.assert_close(mixed(logits, target), expect)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_subclasses": {"bus": 2}, "class_names": ["road", "car"]}, "known names: road, car"),
        ({"num_subclasses": {"car": 2}}, "class_names"),
        ({"num_subclasses": {5: 2}}, "class index"),
        ({"num_subclasses": 0}, "num_subclasses"),
        ({"num_subclasses": [2, 2, 2]}, "one K per class"),
        ({"base_weight": [1.0]}, "base_weight"),
        ({"momentum": 1.0}, "momentum"),
        ({"base_weight": [1.0, 1.0], "weight": [1.0, 1.0]}, "not both"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SubclassifiedLoss(2, **kwargs)


def test_input_errors():
    loss = SubclassifiedLoss(3, num_subclasses=2)
    logits, target, feats = make_batch(0, c=3)
    with pytest.raises(UnknownLabelError, match=r"labels \[7\]"):
        loss(logits, torch.where(target == 0, 7, target), feats)
    loss(logits, target, feats)
    with pytest.raises(ConfigError, match="F=6"):
        loss(logits, target, feats[:, :4])
    with pytest.raises(ConfigError, match="logits"):
        loss(logits[:, :2], target, feats)
    assert math.isfinite(loss(logits, target, feats).item())


# ----------------------------------------------- issue 28 item 12: non-finite activations
STATS = ("centroids", "counts", "mean_loss", "slot_updates", "class_updates", "initialized")


def _same_statistics(a, b):
    for name in STATS:
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=0, atol=1e-6)


@pytest.mark.parametrize("normalize", [True, False])
def test_a_non_finite_step_leaves_the_statistics_as_they_were(normalize):
    """One AMP-overflow step (inf/NaN features and logits, skipped by GradScaler) must not
    poison the running statistics: they equal those of a run that never saw the step."""
    batches = [make_batch(s, ignore_frac=0.1) for s in (11, 12, 13)]
    a = SubclassifiedLoss(4, num_subclasses=3, normalize=normalize)
    b = SubclassifiedLoss(4, num_subclasses=3, normalize=normalize)
    a(*batches[0])
    b(*batches[0])
    logits, target, feats = make_batch(14)
    feats[0] = float("nan")  # every feature position of the step is non-finite
    feats[1, 3] = float("inf")
    logits[0, :, :2] = float("inf")
    bad = b(logits, target, feats)
    assert not torch.isfinite(bad)  # the loss of that step is non-finite, as it should be
    for batch in batches[1:]:
        la, lb = a(*batch), b(*batch)
        assert torch.isfinite(lb) and lb.item() == pytest.approx(la.item(), rel=1e-5)
    _same_statistics(a, b)
    assert torch.isfinite(b.subclass_weights()).all()


def test_non_finite_pixels_count_as_ignored_for_the_statistics():
    """Pixels whose feature position or loss is non-finite leave the statistics exactly as
    if they were labelled ignore_index (the reference), from the first, initialising step on."""
    a = SubclassifiedLoss(4, num_subclasses=2)
    ref = SubclassifiedLoss(4, num_subclasses=2)
    for seed in (21, 22, 23):
        logits, target, feats = make_batch(seed, hh=6, ww=10, h=3, w=5, ignore_frac=0.1)
        feats[0, :, 1, 2] = float("nan")  # feature position (1, 2): label pixels (2..3, 4..5)
        logits[1, :, 0, 0] = float("-inf")  # CE of pixel (1, 0, 0) is inf (or NaN)
        masked = target.clone()
        masked[0, 2:4, 4:6] = IGN
        masked[1, 0, 0] = IGN
        clean_feats = feats.clone()
        clean_feats[0, :, 1, 2] = 1.0
        clean_logits = logits.clone()
        clean_logits[1, :, 0, 0] = 0.0
        a(logits, target, feats)
        ref(clean_logits, masked, clean_feats)
        _same_statistics(a, ref)
    assert a.counts.sum() > 0 and torch.isfinite(a.centroids).all()


def test_ignore_index_defaults_to_torchs_with_a_release_of_grace_for_255():
    """One ignore_index rule (issue 29): raw losses follow PyTorch (-100). The old default 255
    stays ignored for a release when a target holds it, with a DeprecationWarning."""
    import warnings as _w

    from classweights.errors import UnknownLabelError

    logits = torch.randn(1, 3, 4, 4)
    feats = torch.randn(1, 2, 4, 4)
    target = torch.randint(0, 3, (1, 4, 4))
    assert SubclassifiedLoss(3).ignore_index == -100
    voided = target.clone()
    voided[0, 0] = 255
    loss = SubclassifiedLoss(3)
    with pytest.warns(DeprecationWarning, match="pass ignore_index=255"):
        got = loss(logits, voided, feats)
    reference = SubclassifiedLoss(3, ignore_index=255)(logits, voided, feats)
    assert torch.equal(got, reference)
    with _w.catch_warnings():
        _w.simplefilter("error", DeprecationWarning)  # no 255: nothing to say
        SubclassifiedLoss(3)(logits, target, feats)
    with pytest.raises(UnknownLabelError):
        SubclassifiedLoss(3, ignore_index=-100)(logits, voided, feats)
