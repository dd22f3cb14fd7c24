"""Issue 18 item 4: a pending stage switch shows its progress in the log and in log_dict()."""

from __future__ import annotations

import logging
import math
import warnings

import pytest

from classweights.schedule import LossStageScheduler

CONFIG = {
    "loss_name": "Dice",
    "loss_switch": {
        "loss_stages": {
            "stage2": {
                "conditions": {
                    "global_dice_threshold": 0.85,
                    "class_dice_thresholds": {"Pisiform": 0.85},
                    "consecutive_epochs": 3,
                }
            }
        }
    },
}


def _m(avg, pis):
    return {"avg_dice": avg, "class_dice": {"Pisiform": pis}}


def _lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "classweights.schedule"]


def test_each_good_epoch_logs_its_count_and_a_miss_logs_the_break(caplog):
    s = LossStageScheduler(CONFIG, loss_factory=lambda c: None)
    seen = []
    with caplog.at_level(logging.INFO, logger="classweights.schedule"):
        for epoch, metrics in enumerate(
            [_m(0.5, 0.5), _m(0.86, 0.9), _m(0.861, 0.87), _m(0.9, 0.84), _m(0.9, 0.9)]
        ):
            s.step(metrics, epoch)
            seen.append(s.log_dict()["val/loss_stage_consecutive"])
    assert _lines(caplog) == [
        "stage 2 condition met (1/3): avg_dice 0.86 >= 0.85, Pisiform 0.9 >= 0.85 (epoch 1)",
        "stage 2 condition met (2/3): avg_dice 0.861 >= 0.85, Pisiform 0.87 >= 0.85 (epoch 2)",
        "stage 2 condition run broken at epoch 3 after 2/3: Pisiform 0.84 < 0.85",
        "stage 2 condition met (1/3): avg_dice 0.9 >= 0.85, Pisiform 0.9 >= 0.85 (epoch 4)",
    ]
    assert seen == [0, 1, 2, 0, 1]  # the log_dict count follows the lines


def test_the_third_good_epoch_switches_with_the_switch_line(caplog):
    s = LossStageScheduler(CONFIG, loss_factory=lambda c: None)
    with caplog.at_level(logging.INFO, logger="classweights.schedule"):
        assert [s.step(_m(0.9, 0.9), e) for e in range(3)] == [False, False, True]
    lines = _lines(caplog)
    assert [line.split(":")[0] for line in lines] == [
        "stage 2 condition met (1/3)",
        "stage 2 condition met (2/3)",
        "Stage 1 -> Stage 2 at epoch 2 (avg_dice 0.9 >= 0.85, Pisiform 0.9 >= 0.85)",
    ]
    assert s.log_dict()["val/loss_stage"] == 2


def test_a_non_finite_metric_breaks_the_run_in_the_log(caplog):
    s = LossStageScheduler(CONFIG, loss_factory=lambda c: None)
    with caplog.at_level(logging.INFO, logger="classweights.schedule"):
        s.step(_m(0.9, 0.9), 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            s.step(_m(0.9, math.nan), 1)
    assert _lines(caplog)[-1] == (
        "stage 2 condition run broken at epoch 1 after 1/3: Pisiform nan is not finite"
    )


def test_many_classes_with_one_threshold_are_summarised(caplog):
    names = ["Radius", "Ulna", "Capitate", "Hamate"]
    cfg = {
        "loss_name": "Dice",
        "loss_switch": {
            "loss_stages": {
                "stage2": {
                    "conditions": {
                        "global_dice_threshold": 0.85,
                        "class_dice_thresholds": dict.fromkeys(names, 0.75),
                        "consecutive_epochs": 3,
                    }
                }
            }
        },
    }
    s = LossStageScheduler(cfg, class_names=names, loss_factory=lambda c: None)
    dice = {"Radius": 0.9, "Ulna": 0.78, "Capitate": 0.8, "Hamate": 0.95}
    with caplog.at_level(logging.INFO, logger="classweights.schedule"):
        s.step({"avg_dice": 0.861, "class_dice": dice}, 0)
    assert _lines(caplog) == [
        "stage 2 condition met (1/3): avg_dice 0.861 >= 0.85, every class >= 0.75 "
        "(lowest Ulna 0.78) (epoch 0)"
    ]


@pytest.mark.parametrize("prefix", ["val/", ""])
def test_log_dict_has_the_count_from_the_start(prefix):
    s = LossStageScheduler(CONFIG, loss_factory=lambda c: None)
    assert s.log_dict(prefix) == {f"{prefix}loss_stage": 1, f"{prefix}loss_stage_consecutive": 0}
