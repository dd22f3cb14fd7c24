"""Issue 31, "silently wrong today": a staged loss keeps its class weights at every stage, and a
checkpoint saved after a switch loads into a fresh model (StagedLoss, stable state_dict keys).

References are independent: ``F.cross_entropy(weight=w)`` (a focal loss with ``gamma=0`` is
weighted cross entropy term for term), ``F.binary_cross_entropy_with_logits`` with a
channel-broadcast ``pos_weight``, and the lr a hand multiplication gives.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from classweights.errors import ConfigError  # noqa: E402
from classweights.losses import FocalLoss, StagedLoss, build_loss  # noqa: E402
from classweights.schedule import LR_FACTOR_KEY, LossStageScheduler  # noqa: E402

W = [1.0, 4.0, 0.5]
GEN = torch.Generator().manual_seed(0)
LOGITS = torch.randn(2, 3, 5, 6, generator=GEN)
TARGET = torch.randint(0, 3, (2, 5, 6), generator=GEN)


def ce_to_focal(lr_multiplier=1.0):
    """Stage 1 CE, stage 2 swaps CE for Focal (gamma=0: weighted CE, term for term)."""
    return {
        "loss_name": "Mixed",
        "loss_parameter": {"losses": [{"name": "CrossEntropyLoss", "weight": 1.0}]},
        "loss_switch": {
            "loss_stages": {
                "stage2": {
                    "lr_multiplier": lr_multiplier,
                    "conditions": {"global_dice_threshold": 0.5},
                    "loss": {
                        "loss_name": "Mixed",
                        "loss_parameter": {
                            "losses": [{"name": "FocalLoss", "weight": 1.0, "params": {"gamma": 0}}]
                        },
                    },
                }
            }
        },
    }


def reference():
    return F.cross_entropy(LOGITS, TARGET, weight=torch.tensor(W)).item()


def test_a_stage_that_rebuilds_the_loss_keeps_the_class_weights():
    s = LossStageScheduler(ce_to_focal(), weight=W)
    assert s.loss(LOGITS, TARGET).item() == pytest.approx(reference(), rel=1e-6)
    assert s.step({"avg_dice": 0.9}, 0) is True
    (focal,) = s.loss.losses
    assert isinstance(focal, FocalLoss) and focal.weight.tolist() == W
    assert s.loss(LOGITS, TARGET).item() == pytest.approx(reference(), rel=1e-6)
    unweighted = F.cross_entropy(LOGITS, TARGET).item()
    assert abs(unweighted - reference()) > 1e-3  # the weights matter on this batch


def test_build_loss_of_a_staged_config_gives_every_stage_the_weights(tmp_path):
    np.save(tmp_path / "w.npy", np.array(W))
    for weight in (W, torch.tensor(W), np.array(W), tmp_path / "w.npy", str(tmp_path / "w.npy")):
        staged = build_loss(ce_to_focal(), weight=weight)
        assert isinstance(staged, StagedLoss) and staged.numbers == [1, 2]
        for number in staged.numbers:
            staged.set_stage(number)
            got = staged(LOGITS, TARGET).item()
            assert got == pytest.approx(reference(), rel=1e-6), (weight, number)


def test_pos_weight_reaches_a_rebuilt_bce_stage():
    cfg = {
        "loss_name": "Mixed",
        "loss_parameter": {
            "losses": [{"name": "BCEWithLogitsLoss", "weight": 0.5}, {"name": "Dice", "weight": 0.5}]
        },
        "loss_switch": {
            "loss_stages": {
                "stage2": {
                    "conditions": {"global_dice_threshold": 0.5},
                    "loss": {"loss_name": "BCEWithLogitsLoss"},
                }
            }
        },
    }
    pw = torch.tensor([2.0, 5.0, 1.5])
    target = (torch.rand(2, 3, 5, 6, generator=GEN) > 0.6).float()
    expected = F.binary_cross_entropy_with_logits(LOGITS, target, pos_weight=pw.view(3, 1, 1))
    for given in (pw, pw.view(3, 1, 1)):  # load_weights(spatial_dims=2) gives (C, 1, 1)
        s = LossStageScheduler(cfg, pos_weight=given)
        s.step({"avg_dice": 0.9}, 0)
        assert s.loss.pos_weight.tolist() == pw.tolist()
        assert s.loss(LOGITS, target).item() == pytest.approx(expected.item(), rel=1e-6)


class Net(nn.Module):
    def __init__(self, weight):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.loss_fn = build_loss(ce_to_focal(), weight=weight)


def test_a_checkpoint_saved_after_the_switch_loads_strictly_into_a_fresh_model(tmp_path):
    model = Net(W)
    keys_at_stage_1 = sorted(model.state_dict())
    s = LossStageScheduler(ce_to_focal(), loss=model.loss_fn)
    s.step({"avg_dice": 0.9}, 0)
    assert sorted(model.state_dict()) == keys_at_stage_1  # stable keys
    torch.save(model.state_dict(), tmp_path / "ckpt.pth")

    fresh = Net(W)
    assert fresh.loss_fn.current_stage == 1
    fresh.load_state_dict(torch.load(tmp_path / "ckpt.pth", weights_only=True))  # strict
    assert fresh.loss_fn.current_stage == 2 and int(fresh.loss_fn.stage) == 2
    assert isinstance(fresh.loss_fn.current.losses[0], FocalLoss)
    assert fresh.loss_fn(LOGITS, TARGET).item() == pytest.approx(reference(), rel=1e-6)


def test_a_checkpoint_at_a_stage_the_config_lacks_is_refused():
    staged = build_loss(ce_to_focal(), weight=W)
    state = staged.state_dict()
    state["stage"] = torch.tensor(7)
    with pytest.raises(RuntimeError, match="checkpoint is at stage 7"):
        build_loss(ce_to_focal(), weight=W).load_state_dict(state)


def test_the_scheduler_drives_the_models_staged_loss_and_checks_its_stages():
    model = Net(W)
    s = LossStageScheduler(ce_to_focal(), loss=model.loss_fn)
    assert s.staged_loss is model.loss_fn
    s.step({"avg_dice": 0.9}, 0)
    assert model.loss_fn.current_stage == 2
    other = build_loss({"name": "Dice", "loss_switch": {"loss_stages": {}}})
    with pytest.raises(ConfigError, match=r"StagedLoss has stages \[1\] but this config"):
        LossStageScheduler(ce_to_focal(), loss=other)


def test_a_plain_stage_one_module_is_deprecated_but_works():
    from classweights.losses import MixedLoss, CrossEntropyLoss

    first = MixedLoss([CrossEntropyLoss(weight=W)], [1.0])
    with pytest.warns(DeprecationWarning, match="pass weight=/pos_weight="):
        s = LossStageScheduler(ce_to_focal(), loss=first, weight=W)
    assert s.loss is first
    s.step({"avg_dice": 0.9}, 0)
    assert s.loss(LOGITS, TARGET).item() == pytest.approx(reference(), rel=1e-6)


def test_weights_cannot_reach_a_custom_factory():
    with pytest.raises(ConfigError, match="cannot reach a custom loss_factory"):
        LossStageScheduler(ce_to_focal(), weight=W, loss_factory=lambda c: nn.Identity())


# ---------------------------------------------------------------- lr on resume
def _opt(lr=0.1):
    return torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)


@pytest.mark.parametrize("order", ["optimizer first", "scheduler first", "fresh optimizer"])
def test_a_resumed_stage_change_is_applied_to_the_lr_exactly_once(order):
    opt = _opt()
    s = LossStageScheduler(ce_to_focal(lr_multiplier=0.5), weight=W, optimizer=opt)
    s.step({"avg_dice": 0.9}, 0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    opt_state, sched_state = opt.state_dict(), s.state_dict()

    new_opt = _opt()
    resumed = LossStageScheduler(ce_to_focal(lr_multiplier=0.5), weight=W, optimizer=new_opt)
    if order == "optimizer first":
        new_opt.load_state_dict(opt_state)
        resumed.load_state_dict(sched_state)
    elif order == "scheduler first":
        resumed.load_state_dict(sched_state)
        new_opt.load_state_dict(opt_state)
    else:  # only the model and the schedule were restored: the fresh optimizer gets the lr
        resumed.load_state_dict(sched_state)
    assert new_opt.param_groups[0]["lr"] == pytest.approx(0.05)
    assert new_opt.param_groups[0][LR_FACTOR_KEY] == pytest.approx(0.5)
    assert resumed.sync_lr() == 1.0  # idempotent
    assert new_opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_staged_loss_holds_callables_and_refuses_unknown_stages():
    staged = StagedLoss({1: lambda x, y: x.sum(), 3: nn.L1Loss()})
    assert staged.numbers == [1, 3] and staged(torch.ones(2), None).item() == 2.0
    with pytest.raises(ConfigError, match="stage 2 is not a stage of this loss"):
        staged.set_stage(2)
    staged.set_stage(3)
    assert staged(torch.ones(2), torch.zeros(2)).item() == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "stage=3" in repr(staged)
