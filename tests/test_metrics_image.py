"""DiceMetric(average="image"): per-image Dice, then the mean (issue 18 item 5).

References: a hand-computed case, a NumPy loop written from MONAI's documented rules
(``DiceMetric(ignore_empty=True)``: an image whose target lacks a class gives NaN for it,
NaN is left out of every mean; ``reduction="mean"`` averages classes per image, then
images; ``"mean_batch"`` averages each class over images), MONAI's ``DiceMetric`` and
torchmetrics' ``dice_score(aggregation_level="samplewise")`` when they are installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from classweights.errors import ConfigError
from classweights.metrics import DiceMetric


def _logits(pred, c):
    """Multiclass logits whose argmax is ``pred`` (N, *spatial)."""
    return F.one_hot(torch.as_tensor(pred), c).movedim(-1, 1).float() * 4.0 - 2.0


def naive_image_dice(pred, target, c, *, ignore_index=None, ignore_empty=True, fg_only=False):
    """(class_dice, avg_dice) from per-image loops over index masks (N, *spatial)."""
    pred, target = np.asarray(pred), np.asarray(target)
    n = len(pred)
    table = np.full((n, c), np.nan)
    for i in range(n):
        for k in range(c):
            valid = np.ones(target[i].shape, bool)
            if ignore_index is not None:
                valid = target[i] != ignore_index
            t = (target[i] == k) & valid
            p = (pred[i] == k) & valid
            tsum, psum, tp = t.sum(), p.sum(), (t & p).sum()
            if tsum > 0:
                table[i, k] = 2 * tp / (psum + tsum)
            elif not ignore_empty:
                table[i, k] = 1.0 if psum == 0 else 0.0
    class_dice = [np.nan if np.all(np.isnan(col)) else np.nanmean(col) for col in table.T]
    scored = table[:, 1:] if fg_only else table
    means = [np.nanmean(r) for r in scored if not np.all(np.isnan(r))]
    return class_dice, (np.mean(means) if means else np.nan)


def test_hand_computed_case():
    target = torch.tensor([[[0, 0, 1, 1]], [[0, 0, 0, 0]]])
    pred = torch.tensor([[[0, 1, 1, 1]], [[0, 0, 0, 2]]])
    m = DiceMetric(3, average="image")
    m.update(_logits(pred, 3), target)
    out = m.compute()
    # image 0: class 0 2*1/(1+2), class 1 2*2/(3+2), class 2 absent in both -> NaN
    # image 1: class 0 2*3/(3+4); class 1 absent in both; class 2 only predicted -> NaN (MONAI)
    c0 = (2 / 3 + 6 / 7) / 2
    assert out["class_dice"]["0"] == pytest.approx(c0)
    assert out["class_dice"]["1"] == pytest.approx(4 / 5)
    assert math.isnan(out["class_dice"]["2"])
    assert out["avg_dice"] == pytest.approx(((2 / 3 + 4 / 5) / 2 + 6 / 7) / 2)
    # ignore_empty=False (MONAI's other choice): both empty -> 1, only predicted -> 0
    m = DiceMetric(3, average="image", ignore_empty=False)
    m.update(_logits(pred, 3), target)
    out = m.compute()
    assert out["class_dice"]["1"] == pytest.approx((4 / 5 + 1.0) / 2)
    assert out["class_dice"]["2"] == pytest.approx((1.0 + 0.0) / 2)
    assert out["avg_dice"] == pytest.approx(((2 / 3 + 4 / 5 + 1) / 3 + (6 / 7 + 1 + 0) / 3) / 2)
    # the default stays the dataset-level Dice: class 0 is 2*4/(4+6)
    g = DiceMetric(3)
    g.update(_logits(pred, 3), target)
    assert g.compute()["class_dice"]["0"] == pytest.approx(0.8)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ignore_empty", [True, False])
def test_multiclass_matches_the_numpy_loop(seed, ignore_empty):
    rng = np.random.default_rng(seed)
    c = 4
    target = rng.choice(c, size=(7, 5, 6), p=[0.6, 0.3, 0.08, 0.02])
    target[rng.random(target.shape) < 0.1] = 255
    pred = np.where(rng.random(target.shape) < 0.7, target % c, rng.integers(0, c, target.shape))
    for include_background in (True, False):
        m = DiceMetric(
            c,
            ignore_index=255,
            average="image",
            ignore_empty=ignore_empty,
            include_background=include_background,
        )
        for lo, hi in ((0, 3), (3, 4), (4, 7)):  # uneven batches: a per-image mean ignores them
            m.update(_logits(pred[lo:hi], c), torch.as_tensor(target[lo:hi]))
        out = m.compute()
        ref_cls, ref_avg = naive_image_dice(
            pred, target, c, ignore_index=255, ignore_empty=ignore_empty,
            fg_only=not include_background,
        )  # fmt: skip
        np.testing.assert_allclose(list(out["class_dice"].values()), ref_cls, rtol=1e-12)
        assert out["avg_dice"] == pytest.approx(ref_avg, rel=1e-12)


def test_multilabel_matches_the_numpy_loop():
    rng = np.random.default_rng(5)
    n, c = 6, 3
    target = (rng.random((n, c, 4, 5)) < np.array([0.5, 0.1, 0.0])[None, :, None, None]).astype(
        np.int64
    )
    pred = np.where(rng.random(target.shape) < 0.8, target, 1 - target)
    m = DiceMetric(c, mode="multilabel", average="image")
    m.update(torch.as_tensor(pred * 4.0 - 2.0), torch.as_tensor(target))
    out = m.compute()
    # per channel, a binary problem: class k present where the channel is 1
    table = np.full((n, c), np.nan)
    for i in range(n):
        for k in range(c):
            t, p = target[i, k] == 1, pred[i, k] == 1
            if t.sum():
                table[i, k] = 2 * (t & p).sum() / (t.sum() + p.sum())
    ref_cls = [np.nanmean(col) if not np.all(np.isnan(col)) else np.nan for col in table.T]
    ref_avg = np.mean([np.nanmean(r) for r in table if not np.all(np.isnan(r))])
    np.testing.assert_allclose(list(out["class_dice"].values()), ref_cls, rtol=1e-12)
    assert math.isnan(out["class_dice"]["2"])  # never in a target: zero_division
    assert out["avg_dice"] == pytest.approx(ref_avg, rel=1e-12)


def test_reset_and_errors():
    m = DiceMetric(2, average="image")
    m.update(_logits(torch.tensor([[1, 1]]), 2), torch.tensor([[1, 1]]))
    assert m.compute()["avg_dice"] == 1.0
    m.reset()
    m.update(_logits(torch.tensor([[0, 0]]), 2), torch.tensor([[1, 1]]))
    assert m.compute()["class_dice"]["1"] == 0.0
    with pytest.raises(ConfigError, match="average must be one of global, image"):
        DiceMetric(2, average="images")


def test_against_monai_dice_metric():
    monai_metrics = pytest.importorskip("monai.metrics")
    rng = np.random.default_rng(11)
    c = 4
    target = rng.choice(c, size=(8, 6, 6), p=[0.6, 0.3, 0.08, 0.02])
    pred = np.where(rng.random(target.shape) < 0.6, target, rng.integers(0, c, target.shape))
    pred[0] = 3  # class 3 predicted where the target has none: MONAI ignores it
    onehot = lambda a: F.one_hot(torch.as_tensor(a), c).movedim(-1, 1)  # noqa: E731
    for include_background in (True, False):
        for ignore_empty in (True, False):
            ref = monai_metrics.DiceMetric(
                include_background=include_background, ignore_empty=ignore_empty
            )
            ref(y_pred=onehot(pred), y=onehot(target))
            mean = ref.aggregate("mean").item()
            per_class = ref.aggregate("mean_batch").tolist()
            m = DiceMetric(
                c,
                average="image",
                include_background=include_background,
                ignore_empty=ignore_empty,
            )
            m.update(_logits(pred, c), torch.as_tensor(target))
            out = m.compute()
            ours = list(out["class_dice"].values())[0 if include_background else 1 :]
            np.testing.assert_allclose(ours, per_class, rtol=1e-6)
            assert out["avg_dice"] == pytest.approx(mean, rel=1e-6)


def test_per_image_values_against_torchmetrics():
    tm = pytest.importorskip("torchmetrics.functional.segmentation")
    rng = np.random.default_rng(12)
    c = 3
    target = rng.choice(c, size=(6, 5, 5), p=[0.6, 0.3, 0.1])
    pred = np.where(rng.random(target.shape) < 0.6, target, rng.integers(0, c, target.shape))
    per_image = tm.dice_score(
        torch.as_tensor(pred), torch.as_tensor(target), num_classes=c, average="none",
        input_format="index", aggregation_level="samplewise",
    ).double()  # fmt: skip
    # torchmetrics gives 0 where only the prediction has the class; MONAI's rule is NaN
    present = F.one_hot(torch.as_tensor(target), c).flatten(1, 2).sum(1) > 0
    per_image = torch.where(present, per_image, torch.nan)
    m = DiceMetric(c, average="image")
    m.update(_logits(pred, c), torch.as_tensor(target))
    out = m.compute()
    np.testing.assert_allclose(
        list(out["class_dice"].values()), per_image.nanmean(0).tolist(), rtol=1e-6
    )
    assert out["avg_dice"] == pytest.approx(per_image.nanmean(1).mean().item(), rel=1e-6)
