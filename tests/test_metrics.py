"""DiceMetric against a naive NumPy Dice over the whole validation set."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from classweights.errors import ConfigError, UnknownLabelError  # noqa: E402
from classweights.metrics import DiceMetric  # noqa: E402


# ---------------------------------------------------------------- naive references
def naive_multiclass_dice(logits_list, target_list, num_classes, ignore_index=None):
    """Concatenate every batch, then count pixel by pixel with plain Python/NumPy."""
    pred = np.concatenate([np.argmax(x, axis=1).ravel() for x in logits_list])
    tgt = np.concatenate([t.ravel() for t in target_list])
    tp = np.zeros(num_classes)
    ps = np.zeros(num_classes)
    ts = np.zeros(num_classes)
    for p, t in zip(pred, tgt, strict=True):
        if ignore_index is not None and t == ignore_index:
            continue
        ps[p] += 1
        ts[t] += 1
        if p == t:
            tp[t] += 1
    return _dice_from_counts(tp, ps, ts)


def naive_multilabel_dice(logits_list, target_list, num_classes, threshold=0.5, ignore_index=None):
    dice_counts = np.zeros((3, num_classes))
    for logits, target in zip(logits_list, target_list, strict=True):
        prob = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        for c in range(num_classes):
            p = prob[:, c].ravel() > threshold
            t = target[:, c].ravel()
            if ignore_index is not None:
                keep = t != ignore_index
                p, t = p[keep], t[keep]
            t = t == 1
            dice_counts[0, c] += np.sum(p & t)
            dice_counts[1, c] += np.sum(p)
            dice_counts[2, c] += np.sum(t)
    return _dice_from_counts(*dice_counts)


def _dice_from_counts(tp, ps, ts):
    dice = [2 * a / (b + c) if b + c > 0 else math.nan for a, b, c in zip(tp, ps, ts, strict=True)]
    present = [d for d in dice if not math.isnan(d)]
    return (sum(present) / len(present) if present else math.nan), dice


def assert_matches(result, expected, names):
    avg, dice = expected
    assert list(result["class_dice"]) == names
    np.testing.assert_allclose(list(result["class_dice"].values()), dice, rtol=1e-12)
    np.testing.assert_allclose(result["avg_dice"], avg, rtol=1e-12)


def random_multiclass(rng, batches, num_classes, ignore_index=None, shape=(3, 5, 7)):
    logits, targets = [], []
    for _ in range(batches):
        n, h, w = rng.integers(1, shape[0] + 1), shape[1], shape[2]
        x = rng.normal(size=(n, num_classes, h, w)).astype(np.float32)
        t = rng.integers(0, num_classes, size=(n, h, w))
        if ignore_index is not None:
            t[rng.random(t.shape) < 0.2] = ignore_index
        logits.append(x)
        targets.append(t)
    return logits, targets


# ---------------------------------------------------------------- multiclass
@pytest.mark.parametrize("ignore_index", [None, 255])
def test_multiclass_matches_naive_over_whole_set(ignore_index):
    rng = np.random.default_rng(0)
    logits, targets = random_multiclass(rng, 6, 4, ignore_index)
    names = ["a", "b", "c", "d"]
    m = DiceMetric(4, "multiclass", ignore_index=ignore_index, class_names=names)
    for x, t in zip(logits, targets, strict=True):
        m.update(torch.from_numpy(x), torch.from_numpy(t))
    assert_matches(m.compute(), naive_multiclass_dice(logits, targets, 4, ignore_index), names)


def test_whole_set_dice_is_not_mean_of_batch_dice():
    # batch 1: class 1 tiny and missed; batch 2: class 1 large and hit.
    x1 = torch.tensor([[[[5.0, 5.0, 5.0, 5.0]], [[0.0, 0.0, 0.0, 0.0]]]])
    t1 = torch.tensor([[[0, 0, 0, 1]]])
    x2 = torch.tensor([[[[0.0, 0.0, 0.0, 5.0]], [[5.0, 5.0, 5.0, 0.0]]]])
    t2 = torch.tensor([[[1, 1, 1, 0]]])
    m = DiceMetric(2, "multiclass")
    m.update(x1, t1)
    m.update(x2, t2)
    # class 1 over both batches: tp 3, pred 3, target 4 -> 6/7 (batch mean would be 0.5)
    assert m.compute()["class_dice"]["1"] == pytest.approx(6 / 7)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), splits=st.integers(1, 5))
def test_batch_split_invariance(seed, splits):
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.normal(size=(6, 3, 4, 4)).astype(np.float32))
    t = torch.from_numpy(rng.integers(0, 3, size=(6, 4, 4)))
    whole = DiceMetric(3)
    whole.update(x, t)
    parts = DiceMetric(3)
    for xs, ts in zip(x.tensor_split(splits), t.tensor_split(splits), strict=True):
        parts.update(xs, ts)
    assert parts.tp.tolist() == whole.tp.tolist()
    assert parts.pred_sum.tolist() == whole.pred_sum.tolist()
    assert parts.target_sum.tolist() == whole.target_sum.tolist()


def test_absent_class_is_nan_and_left_out_of_mean():
    x = torch.tensor([[[[5.0, 5.0]], [[0.0, 0.0]], [[0.0, 0.0]]]])
    t = torch.tensor([[[0, 0]]])
    m = DiceMetric(3)
    m.update(x, t)
    r = m.compute()
    assert r["class_dice"]["0"] == 1.0
    assert math.isnan(r["class_dice"]["1"])
    assert math.isnan(r["class_dice"]["2"])
    assert r["avg_dice"] == 1.0
    m1 = DiceMetric(3, zero_division=1.0)
    m1.update(x, t)
    assert m1.compute()["class_dice"]["2"] == 1.0


def test_include_background_false_drops_class0_from_mean_only():
    x = torch.tensor([[[[5.0, 0.0]], [[0.0, 5.0]]]])
    t = torch.tensor([[[0, 0]]])
    m = DiceMetric(2, include_background=False)
    m.update(x, t)
    r = m.compute()
    assert r["class_dice"]["0"] == pytest.approx(2 / 3)
    assert r["avg_dice"] == 0.0  # class 1: tp 0, pred 1, target 0


def test_reset_and_compute_before_update_warns():
    m = DiceMetric(2)
    m.update(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
    m.reset()
    assert m.tp.tolist() == [0, 0]
    with pytest.warns(RuntimeWarning, match="before any update"):
        r = m.compute()
    assert math.isnan(r["avg_dice"])


def test_3d_volumes():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 4, 5, 6)).astype(np.float32)
    t = rng.integers(0, 3, size=(2, 4, 5, 6))
    m = DiceMetric(3)
    m.update(torch.from_numpy(x), torch.from_numpy(t))
    assert_matches(m.compute(), naive_multiclass_dice([x], [t], 3), ["0", "1", "2"])


# ---------------------------------------------------------------- multilabel
@pytest.mark.parametrize(("threshold", "ignore_index"), [(0.5, None), (0.3, 255), (0.8, None)])
def test_multilabel_matches_naive_over_whole_set(threshold, ignore_index):
    rng = np.random.default_rng(1)
    logits, targets = [], []
    for _ in range(5):
        n = rng.integers(1, 4)
        logits.append(rng.normal(size=(n, 3, 6, 5)).astype(np.float32))
        t = (rng.random((n, 3, 6, 5)) < [[[[0.05]], [[0.5]], [[0.9]]]]).astype(np.int64)
        if ignore_index is not None:
            t[rng.random(t.shape) < 0.1] = ignore_index
        targets.append(t)
    names = ["Pisiform", "Radius", "Ulna"]
    m = DiceMetric(
        3, "multilabel", ignore_index=ignore_index, class_names=names, threshold=threshold
    )
    for x, t in zip(logits, targets, strict=True):
        m.update(torch.from_numpy(x), torch.from_numpy(t).float())
    expected = naive_multilabel_dice(logits, targets, 3, threshold, ignore_index)
    assert_matches(m.compute(), expected, names)


def test_multilabel_overlapping_channels_counted_independently():
    x = torch.full((1, 2, 1, 3), 4.0)  # every channel predicts every pixel
    t = torch.tensor([[[[1, 1, 0]], [[0, 1, 1]]]])
    m = DiceMetric(2, "multilabel")
    m.update(x, t)
    assert m.compute()["class_dice"] == {"0": 0.8, "1": 0.8}


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": 2, "mode": "binary"}, "multiclass, multilabel"),
        ({"num_classes": 2, "threshold": 1.0}, "threshold"),
        ({"num_classes": 2, "class_names": ["a"]}, "2"),
        ({"num_classes": 2, "class_names": ["a", "a"]}, "repeated: a"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        DiceMetric(**kwargs)


def test_bad_inputs():
    m = DiceMetric(2)
    with pytest.raises(ConfigError, match=r"\(N, 2, \*spatial\)"):
        m.update(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
    with pytest.raises(UnknownLabelError, match=r"\[7\]"):
        m.update(torch.zeros(1, 2, 2, 2), torch.tensor([[[0, 7], [1, 0]]]))
    ml = DiceMetric(2, "multilabel")
    with pytest.raises(UnknownLabelError, match=r"0 or 1"):
        ml.update(torch.zeros(1, 2, 1, 1), torch.tensor([[[[2.0]], [[0.0]]]]))


# ---------------------------------------------------------------- distributed
def _ddp_worker(rank, world, init_file, logits, targets, out):
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world
    )
    try:
        m = DiceMetric(3)
        for i in range(rank, len(logits), world):  # each rank sees a different shard
            m.update(torch.from_numpy(logits[i]), torch.from_numpy(targets[i]))
        local = m.tp.clone()
        result = m.compute()
        assert torch.equal(m.tp, local)  # compute() does not overwrite local counts
        torch.save(result, f"{out}.{rank}")
    finally:
        torch.distributed.destroy_process_group()


def test_distributed_all_reduce_matches_whole_set(tmp_path):
    import torch.multiprocessing as mp

    rng = np.random.default_rng(7)
    logits, targets = random_multiclass(rng, 4, 3)
    out = tmp_path / "result"
    mp.spawn(_ddp_worker, args=(2, tmp_path / "init", logits, targets, str(out)), nprocs=2)
    expected = naive_multiclass_dice(logits, targets, 3)
    for rank in range(2):
        assert_matches(torch.load(f"{out}.{rank}", weights_only=True), expected, ["0", "1", "2"])


# ---------------------------------------------------------------- non-finite logits
def _finite_batch(mode):
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.normal(size=(2, 3, 4, 5)).astype(np.float32))
    if mode == "multiclass":
        return x, torch.from_numpy(rng.integers(0, 3, size=(2, 4, 5)))
    return x, torch.from_numpy(rng.integers(0, 2, size=(2, 3, 4, 5)).astype(np.float32))


def _loss(mode, logits, target):
    """The reference: what a loss over the same logits gives (F.cross_entropy / BCE)."""
    f = torch.nn.functional
    if mode == "multiclass":
        return f.cross_entropy(logits, target).item()
    return f.binary_cross_entropy_with_logits(logits, target).item()


@pytest.mark.parametrize("mode", ["multiclass", "multilabel"])
@pytest.mark.parametrize("average", ["global", "image"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_logit_makes_every_dice_nan(mode, average, bad):
    x, t = _finite_batch(mode)
    nan_logits = torch.full_like(x, bad)
    assert not math.isfinite(_loss(mode, nan_logits, t))  # a loss over them is not finite
    m = DiceMetric(3, mode, average=average)
    m.update(nan_logits, t)  # all-NaN logits used to score 0.857 as a real prediction
    out = m.compute()
    assert math.isnan(out["avg_dice"])
    assert all(math.isnan(v) for v in out["class_dice"].values())
    # one non-finite logit among finite batches poisons the window, as it does the loss
    m.reset()
    m.update(x, t)
    finite = m.compute()
    assert not math.isnan(finite["avg_dice"])
    y = x.clone()
    y[1, 2, 3, 4] = bad
    if bad != -math.inf:  # one -inf logit of a non-target class leaves a loss finite; the
        assert not math.isfinite(_loss(mode, y, t))  # rule is any non-finite logit
    m.update(y, t)
    assert int(m.nonfinite) == 1
    out = m.compute()
    assert math.isnan(out["avg_dice"])
    assert all(math.isnan(v) for v in out["class_dice"].values())
    m.reset()  # a new window starts clean
    m.update(x, t)
    assert m.compute() == finite


def _ddp_nonfinite_worker(rank, world, init_file, average, out):
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world
    )
    try:
        m = DiceMetric(3, average=average)
        x, t = _finite_batch("multiclass")
        if rank == 1:
            x[0, 0, 0, 0] = math.nan  # only rank 1 sees the overflow
        m.update(x, t)
        torch.save(m.compute(), f"{out}.{rank}")
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.parametrize("average", ["global", "image"])
def test_a_non_finite_logit_on_one_rank_is_nan_on_every_rank(tmp_path, average):
    import torch.multiprocessing as mp

    out = tmp_path / "result"
    mp.spawn(_ddp_nonfinite_worker, args=(2, tmp_path / "init", average, str(out)), nprocs=2)
    for rank in range(2):
        result = torch.load(f"{out}.{rank}", weights_only=True)
        assert math.isnan(result["avg_dice"]), rank
        assert all(math.isnan(v) for v in result["class_dice"].values()), rank


def test_public_names_keep_their_import_path():
    """``classweights.metrics`` became a package (issue 29); its names stay where they were."""
    import typing

    from classweights.metrics import DICE_AVERAGES, DICE_MODES, DiceAverage, DiceMode

    assert typing.get_args(DiceMode) == DICE_MODES == ("multiclass", "multilabel")
    assert typing.get_args(DiceAverage) == DICE_AVERAGES == ("global", "image")
    with pytest.raises(ConfigError, match="mode must be one of multiclass, multilabel"):
        DiceMetric(2, mode="binary")
