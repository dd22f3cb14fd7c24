"""Issue 31, torchmetrics: ``DiceScore`` (a ``torchmetrics.Metric``) gives DiceMetric's numbers,
merges exactly across processes, and is NaN after a non-finite logit.

References: per-class counts from NumPy (``2 tp / (pred + target)``), ``DiceMetric`` (the
issue asks for its numbers exactly), and one process seeing every batch (for the DDP merge).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchmetrics", reason="torchmetrics is in the test extra (CI installs it)")

import torch.multiprocessing as mp  # noqa: E402

from classweights.errors import ConfigError  # noqa: E402
from classweights.integrations import DiceScore  # noqa: E402
from classweights.metrics import DiceMetric  # noqa: E402

C, IGN = 4, 255


def batches(seed, n=5, mode="multiclass"):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        logits = torch.randn(2, C, 6, 7, generator=g)
        if mode == "multiclass":
            target = torch.randint(0, C, (2, 6, 7), generator=g)
            target[torch.rand(2, 6, 7, generator=g) < 0.1] = IGN
        else:
            target = (torch.rand(2, C, 6, 7, generator=g) < 0.3).long()
        out.append((logits, target))
    return out


def numpy_dice(data, mode="multiclass"):
    tp, pred, true = np.zeros(C), np.zeros(C), np.zeros(C)
    for logits, target in data:
        x, t = logits.numpy(), target.numpy()
        if mode == "multiclass":
            p, valid = x.argmax(1), t != IGN
            for c in range(C):
                tp[c] += ((p == c) & (t == c) & valid).sum()
                pred[c] += ((p == c) & valid).sum()
                true[c] += ((t == c) & valid).sum()
        else:
            p = 1 / (1 + np.exp(-x)) > 0.5
            for c in range(C):
                tp[c] += (p[:, c] & (t[:, c] == 1)).sum()
                pred[c] += p[:, c].sum()
                true[c] += (t[:, c] == 1).sum()
    return 2 * tp / (pred + true)


@pytest.mark.parametrize("mode", ["multiclass", "multilabel"])
def test_same_numbers_as_dice_metric_and_a_numpy_count(mode):
    data = batches(0, mode=mode)
    ignore = IGN if mode == "multiclass" else None
    macro = DiceScore(C, mode, ignore_index=ignore)
    none = DiceScore(C, mode, ignore_index=ignore, average="none")
    ref = DiceMetric(C, mode, ignore_index=ignore)
    for logits, target in data:
        macro.update(logits, target)
        none.update(logits, target)
        ref.update(logits, target)
    expected = ref.compute()
    per_class = none.compute()
    assert per_class.shape == (C,) and per_class.dtype == torch.float64
    assert per_class.tolist() == list(expected["class_dice"].values())  # exactly
    assert macro.compute().item() == expected["avg_dice"]  # exactly
    np.testing.assert_allclose(per_class.numpy(), numpy_dice(data, mode), rtol=1e-12)


def test_background_zero_division_and_class_names_as_dice_metric():
    logits = torch.zeros(1, C, 2, 2)
    logits[:, 1] = 1.0  # predicts class 1 everywhere; classes 2 and 3 absent from both
    target = torch.tensor([[[0, 1], [1, 1]]])
    names = ["bg", "a", "b", "c"]
    kw = {"include_background": False, "zero_division": 1.0, "class_names": names}
    m, ref = DiceScore(C, **kw), DiceMetric(C, **kw)
    m.update(logits, target)
    ref.update(logits, target)
    assert m.compute().item() == ref.compute()["avg_dice"]
    assert {k: v.item() for k, v in m.class_dice().items()} == ref.compute()["class_dice"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_logit_makes_every_value_nan_until_reset(bad):
    data = batches(1)
    m = DiceScore(C, ignore_index=IGN)
    none = DiceScore(C, ignore_index=IGN, average="none")
    for i, (logits, target) in enumerate(data):
        if i == 2:
            logits = logits.clone()
            logits[0, 1, 0, 0] = bad
        m.update(logits, target)
        none.update(logits, target)
    assert math.isnan(m.compute().item()) and torch.isnan(none.compute()).all()
    assert all(math.isnan(v.item()) for v in none.class_dice().values())
    m.reset()
    m.update(*data[0])
    assert math.isfinite(m.compute().item())


def test_forward_gives_the_batch_value_and_accumulates():
    data = batches(2)
    m, ref = DiceScore(C, ignore_index=IGN), DiceMetric(C, ignore_index=IGN)
    for logits, target in data:
        one = DiceMetric(C, ignore_index=IGN)
        one.update(logits, target)
        assert m(logits, target).item() == one.compute()["avg_dice"]
        ref.update(logits, target)
    assert m.compute().item() == ref.compute()["avg_dice"]


def test_states_move_and_reset_and_bad_arguments_are_refused():
    m = DiceScore(C, ignore_index=IGN).to(torch.device("cpu"))
    assert {"tp", "pred_sum", "target_sum", "nonfinite"} <= set(m._defaults)
    logits, target = batches(3, n=1)[0]
    m.update(logits, target)
    m.reset()
    assert int(m.tp.sum()) == 0 and int(m.nonfinite) == 0
    with pytest.raises(ConfigError, match="average must be one of macro, none"):
        DiceScore(C, average="micro")
    with pytest.raises(ConfigError, match="num_classes"):
        DiceScore(0)


# ---------------------------------------------------------------- DDP merge (2 processes)
def _rank(rank, world, port, out_dir):
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        m = DiceScore(C, ignore_index=IGN, average="none")
        for i, (logits, target) in enumerate(batches(4, n=6)):
            if i % world == rank:
                m.update(logits, target)
        torch.save(m.compute(), os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_the_ddp_merge_equals_one_process_seeing_every_batch(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_rank, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    ref = DiceMetric(C, ignore_index=IGN)
    for logits, target in batches(4, n=6):
        ref.update(logits, target)
    expected = list(ref.compute()["class_dice"].values())
    for rank in (0, 1):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert got.tolist() == expected
