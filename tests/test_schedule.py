"""LossStageScheduler: the staged BCE:Dice state machine (anchors trap 17) and its config errors."""

from __future__ import annotations

import copy
import io
import logging
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from classweights.errors import ConfigError  # noqa: E402
from classweights.metrics import DiceMetric  # noqa: E402
from classweights.schedule import LossStageScheduler  # noqa: E402

EXAMPLE_YAML = Path(__file__).resolve().parents[1] / "examples" / "staged_loss.yaml"
HAND = ["Radius", "Ulna", "Capitate", "Pisiform", "Trapezoid"]


def mixed(w_bce, w_dice, bce="BCEWithLogitsLoss", dice="DiceLoss"):
    return {
        "loss_name": "Mixed",
        "loss_parameter": {
            "losses": [{"name": bce, "weight": w_bce}, {"name": dice, "weight": w_dice}]
        },
    }


def make_config(n=1, stage3=True, **stage2_overrides):
    """The issue's config; ``n`` = consecutive_epochs of every stage."""
    cfg = {
        **mixed(0.3, 0.7),
        "loss_switch": {
            "loss_stages": {
                "stage2": {
                    "enabled": True,
                    "lr_multiplier": 1.0,
                    "conditions": {
                        "global_dice_threshold": 0.955,
                        "class_dice_thresholds": {"Pisiform": 0.85, "Trapezoid": 0.88},
                        "consecutive_epochs": n,
                    },
                    "loss": mixed(0.2, 0.8),
                },
                "stage3": {
                    "conditions": {
                        "global_dice_threshold": 0.965,
                        "class_dice_thresholds": {"Pisiform": 0.89, "Trapezoid": 0.91},
                        "consecutive_epochs": n,
                    },
                    "loss": mixed(0.1, 0.9),
                },
            }
        },
    }
    if not stage3:
        del cfg["loss_switch"]["loss_stages"]["stage3"]
    cfg["loss_switch"]["loss_stages"]["stage2"].update(stage2_overrides)
    return cfg


def dice(avg, pisiform, trapezoid):
    return {
        "avg_dice": avg,
        "class_dice": {
            "Radius": 0.99,
            "Ulna": 0.98,
            "Capitate": 0.97,
            "Pisiform": pisiform,
            "Trapezoid": trapezoid,
        },
    }


HIT2 = dice(0.956, 0.86, 0.89)  # meets stage 2 only
HIT3 = dice(0.970, 0.90, 0.92)  # meets stage 2 and stage 3
MISS = dice(0.950, 0.86, 0.89)  # global threshold missed
MISS_CLASS = dice(0.990, 0.84, 0.99)  # Pisiform missed


class StandInMixed(nn.Module):
    """A tiny weighted sum of BCE and soft Dice with the MixedLoss contract (for state tests)."""

    def __init__(self, config):
        super().__init__()
        comps = config["loss_parameter"]["losses"]
        self.names = [c["name"] for c in comps]
        self.weights = [float(c["weight"]) for c in comps]
        self.register_buffer("pos_weight", torch.ones(1))

    def set_weights(self, weights):
        self.weights = [float(w) for w in weights]

    def forward(self, logits, target):
        bce = nn.functional.binary_cross_entropy_with_logits(logits, target)
        p = logits.sigmoid()
        soft_dice = 1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
        return self.weights[0] * bce + self.weights[1] * soft_dice


def sched(cfg=None, **kwargs):
    kwargs.setdefault("loss_factory", StandInMixed)
    kwargs.setdefault("class_names", HAND)
    return LossStageScheduler(make_config() if cfg is None else cfg, **kwargs)


def run(s, seq, start=0):
    return [s.step(m, epoch) for epoch, m in enumerate(seq, start=start)]


# ---------------------------------------------------------------- trap 17 (a)-(c), (f)
def test_n_minus_1_hits_then_miss_resets_the_count():
    s = sched(make_config(n=3))
    assert run(s, [HIT2, HIT2, MISS]) == [False, False, False]
    assert (s.stage, s.consecutive) == (1, 0)
    assert run(s, [HIT2, HIT2], start=3) == [False, False]  # the count restarted at the miss
    assert s.stage == 1
    assert s.step(HIT2, 5) is True
    assert s.stage == 2


def test_a_missed_class_threshold_is_a_miss():
    s = sched(make_config(n=2))
    assert run(s, [HIT2, MISS_CLASS, HIT2]) == [False, False, False]
    assert (s.stage, s.consecutive) == (1, 1)


def test_n_hits_advance_exactly_once_and_change_weights_in_place():
    s = sched(make_config(n=2))
    loss = s.loss
    loss.pos_weight.fill_(3.0)
    assert loss.weights == [0.3, 0.7]
    assert run(s, [HIT2, HIT2]) == [False, True]
    assert s.stage == 2
    assert s.consecutive == 0
    assert s.loss is loss
    assert loss.weights == [0.2, 0.8]
    assert loss.pos_weight.item() == 3.0  # ...so buffers such as pos_weight survive
    assert s.history == [
        {
            "epoch": 1,
            "from_stage": 1,
            "to_stage": 2,
            "lr_multiplier": 1.0,
            "metrics": {"avg_dice": 0.956, "Pisiform": 0.86, "Trapezoid": 0.89},
        }
    ]


def test_never_regresses_and_weights_always_sum_to_one():
    s = sched()
    seq = [MISS, HIT2, MISS, MISS_CLASS, HIT3, dice(0.1, 0.1, 0.1), dice(0.0, 0.0, 0.0), MISS]
    stages = []
    for epoch, m in enumerate(seq):
        s.step(m, epoch)
        stages.append(s.stage)
        assert math.isclose(sum(s.loss.weights), 1.0)
    assert stages == [1, 2, 2, 2, 3, 3, 3, 3]
    assert s.loss.weights == [0.1, 0.9]


def test_one_stage_per_step_even_when_later_stages_hold():
    s = sched()
    assert s.step(HIT3, 10) is True
    assert s.stage == 2
    assert s.step(HIT3, 11) is True
    assert s.stage == 3
    assert s.step(HIT3, 12) is False
    assert s.stage == 3


def test_disabled_stage_is_skipped():
    s = sched(make_config(enabled=False))
    assert s.step(HIT2, 0) is False  # stage 2's thresholds no longer matter
    assert s.step(HIT3, 1) is True
    assert s.stage == 3
    assert s.loss.weights == [0.1, 0.9]
    assert s.history[0]["from_stage"] == 1
    assert s.history[0]["to_stage"] == 3


def test_any_number_of_stages():
    cfg = mixed(0.5, 0.5)
    stages = {}
    for k in range(2, 8):
        w = round(0.5 - 0.05 * (k - 1), 2)
        stages[f"stage{k}"] = {
            "conditions": {"global_dice_threshold": 0.5 + 0.05 * k},
            "loss": mixed(w, round(1 - w, 2)),
        }
    cfg["loss_switch"] = {"loss_stages": stages}
    s = sched(cfg)
    run(s, [{"avg_dice": 1.0}] * 10)
    assert s.stage == 7
    assert [h["epoch"] for h in s.history] == [0, 1, 2, 3, 4, 5]
    assert s.loss.weights == [0.2, 0.8]


def test_stage_without_loss_keeps_the_loss():
    cfg = make_config(lr_multiplier=0.5)
    del cfg["loss_switch"]["loss_stages"]["stage2"]["loss"]
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    s = sched(cfg, optimizer=opt)
    s.step(HIT2, 0)
    assert s.stage == 2
    assert s.loss.weights == [0.3, 0.7]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_components_that_change_rebuild_the_loss_on_the_same_device():
    cfg = make_config()
    cfg["loss_switch"]["loss_stages"]["stage2"]["loss"] = mixed(0.2, 0.8, bce="FocalLoss")
    s = sched(cfg)
    s.loss.eval()
    old = s.loss
    s.step(HIT2, 0)
    assert s.loss is not old
    assert s.loss.names == ["FocalLoss", "DiceLoss"]
    assert s.loss.weights == [0.2, 0.8]
    assert not s.loss.training


# ---------------------------------------------------------------- step() edge cases
def test_nan_metric_never_advances_and_warns():
    s = sched(make_config(n=2))
    s.step(HIT2, 0)
    with pytest.warns(RuntimeWarning, match=r"non-finite Dice at epoch 1 \(avg_dice=nan\)"):
        assert s.step(dice(float("nan"), 0.9, 0.9), 1) is False
    assert (s.stage, s.consecutive) == (1, 0)  # a NaN is a miss
    with pytest.warns(RuntimeWarning, match="Pisiform=nan"):
        s.step(dice(0.99, float("nan"), 0.99), 2)
    nan_metric = DiceMetric(5, "multilabel", class_names=HAND)
    with pytest.warns(RuntimeWarning, match="before any update"):
        result = nan_metric.compute()  # nothing seen: every Dice is nan
    with pytest.warns(RuntimeWarning, match="non-finite Dice at epoch 3"):
        assert s.step(result, 3) is False
    assert s.stage == 1


def test_same_epoch_twice_is_a_noop_with_a_warning():
    s = sched(make_config(n=2))
    s.step(HIT2, 4)
    with pytest.warns(RuntimeWarning, match="already called for epoch 4"):
        assert s.step(HIT2, 4) is False
    assert s.consecutive == 1
    assert s.step(HIT2, 5) is True


def test_epoch_defaults_to_a_counter():
    s = sched()
    s.step(MISS)
    s.step(HIT2)
    assert s.log_dict() == {
        "val/loss_stage": 2,
        "val/loss_stage_consecutive": 0,
        "val/loss_stage_switch_epoch": 1,
    }


def test_metrics_missing_a_listed_class_is_a_clear_error():
    s = sched(class_names=None)
    with pytest.raises(
        ConfigError,
        match=r"stage2\.conditions\.class_dice_thresholds\.Trapezoid"
        r": the metrics have no Dice for class 'Trapezoid'",
    ):
        s.step({"avg_dice": 0.99, "class_dice": {"Pisiform": 0.99}}, 0)
    with pytest.raises(ConfigError, match=r"needs metrics\['avg_dice'\]"):
        s.step({"class_dice": {"Pisiform": 0.99, "Trapezoid": 0.99}}, 1)


def test_tensor_metrics_and_flat_class_keys_are_accepted():
    s = sched()
    assert (
        s.step({"avg_dice": torch.tensor(0.96), "Pisiform": torch.tensor(0.9), "Trapezoid": 0.9}, 0)
        is True
    )


def test_log_line_and_log_dict(caplog):
    s = sched()
    assert s.log_dict() == {"val/loss_stage": 1, "val/loss_stage_consecutive": 0}
    with caplog.at_level(logging.INFO, logger="classweights.schedule"):
        run(s, [MISS] * 11 + [HIT2])
    assert s.log_dict() == {
        "val/loss_stage": 2,
        "val/loss_stage_consecutive": 0,
        "val/loss_stage_switch_epoch": 11,
    }
    assert s.log_dict(prefix="") == {
        "loss_stage": 2,
        "loss_stage_consecutive": 0,
        "loss_stage_switch_epoch": 11,
    }
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(
        "Stage 1 -> Stage 2 at epoch 11 (avg_dice 0.956 >= 0.955, "
        "Pisiform 0.86 >= 0.85, Trapezoid 0.89 >= 0.88)"
    )
    assert "weights 0.3/0.7 -> 0.2/0.8 (in place)" in line


def test_custom_logger():
    stream = io.StringIO()
    log = logging.getLogger("test_schedule.custom")
    log.addHandler(logging.StreamHandler(stream))
    log.setLevel(logging.INFO)
    s = sched(logger=log)
    s.step(HIT2, 3)
    assert "Stage 1 -> Stage 2 at epoch 3" in stream.getvalue()


# ---------------------------------------------------------------- trap 17 (d): resume
SEQ = [HIT2, MISS, HIT2, HIT2, MISS, HIT3, HIT3, MISS, HIT3, HIT3, HIT3, HIT3]


@pytest.mark.parametrize("cut", range(1, len(SEQ)))
def test_state_dict_round_trip_reproduces_the_same_switches(cut, tmp_path):
    ref = sched(make_config(n=2))
    ref_steps = run(ref, SEQ)
    assert ref_steps.count(True) == 2  # both switches happen in the uninterrupted run

    first = sched(make_config(n=2))
    steps = run(first, SEQ[:cut])
    torch.save({"sched": first.state_dict()}, tmp_path / "ckpt.pth")  # plain types only
    state = torch.load(tmp_path / "ckpt.pth", weights_only=True)["sched"]

    resumed = sched(make_config(n=2))
    resumed.load_state_dict(state)
    assert (resumed.stage, resumed.consecutive) == (first.stage, first.consecutive)
    assert resumed.loss.weights == first.loss.weights  # the loss follows the stage
    steps += run(resumed, SEQ[cut:], start=cut)
    assert steps == ref_steps
    assert resumed.history == ref.history
    assert resumed.log_dict() == ref.log_dict()


def test_mid_count_state_is_kept():
    s = sched(make_config(n=3))
    run(s, [HIT2, HIT2])
    state = copy.deepcopy(s.state_dict())
    assert state["consecutive"] == 2
    assert state["last_epoch"] == 1
    t = sched(make_config(n=3))
    t.load_state_dict(state)
    assert t.step(HIT2, 2) is True  # the third consecutive hit, counted across the resume
    u = sched(make_config(n=3))
    u.load_state_dict(state)
    with pytest.warns(RuntimeWarning, match="already called for epoch 1"):
        assert u.step(HIT2, 1) is False  # a replayed epoch is ignored
    assert u.consecutive == 2


def test_load_state_dict_rejects_foreign_state():
    s = sched()
    with pytest.raises(ConfigError, match="version"):
        s.load_state_dict({"stage": 2})
    bad = s.state_dict() | {"stage": 5}
    with pytest.raises(ConfigError, match="stage 5"):
        s.load_state_dict(bad)


# ---------------------------------------------------------------- lr multiplier
def _cosine_lrs(base_lrs, epochs, eta_min):
    params = [nn.Parameter(torch.zeros(1)) for _ in base_lrs]
    opt = torch.optim.AdamW(
        [{"params": [p], "lr": lr} for p, lr in zip(params, base_lrs, strict=True)]
    )
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=eta_min)
    return opt, cos


@pytest.mark.parametrize("pass_optimizer", [True, False])
def test_lr_multiplier_scales_optimizer_and_cosine_scheduler(pass_optimizer):
    base, m, epochs, switch = [1e-3, 1e-2], 0.5, 10, 4
    opt, cos = _cosine_lrs(base, epochs, eta_min=0.0)
    s = sched(
        make_config(lr_multiplier=m), optimizer=opt if pass_optimizer else None, lr_scheduler=cos
    )
    ref_opt, ref_cos = _cosine_lrs([m * b for b in base], epochs, eta_min=0.0)
    for epoch in range(epochs):
        opt.step()
        ref_opt.step()
        before = [g["lr"] for g in opt.param_groups]
        switched = s.step(HIT2 if epoch == switch else MISS, epoch)
        after = [g["lr"] for g in opt.param_groups]
        if switched:
            assert after == pytest.approx([m * lr for lr in before], rel=1e-12)
            assert cos.base_lrs == pytest.approx([m * b for b in base], rel=1e-12)
            assert cos.get_last_lr() == pytest.approx(after, rel=1e-12)
        if epoch >= switch:  # the cosine curve continues from the scaled value
            assert after == pytest.approx([g["lr"] for g in ref_opt.param_groups], rel=1e-9)
        cos.step()
        ref_cos.step()
    assert s.history[0]["epoch"] == switch


def test_lr_multiplier_with_eta_min_ends_at_eta_min():
    opt, cos = _cosine_lrs([1e-3], 6, eta_min=1e-6)
    s = sched(make_config(lr_multiplier=0.1), optimizer=opt, lr_scheduler=cos)
    for epoch in range(6):
        opt.step()
        before = opt.param_groups[0]["lr"]
        if s.step(HIT2 if epoch == 2 else MISS, epoch):
            assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * before)
        cos.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-6)


def test_lr_multiplier_without_optimizer_warns():
    with pytest.warns(UserWarning, match="no optimizer"):
        sched(make_config(lr_multiplier=2.0))


def test_mismatched_optimizer_and_scheduler():
    _opt, cos = _cosine_lrs([1e-3], 5, 0.0)
    other, _ = _cosine_lrs([1e-3], 5, 0.0)
    with pytest.raises(ConfigError, match=r"lr_scheduler\.optimizer"):
        sched(optimizer=other, lr_scheduler=cos)


# ---------------------------------------------------------------- config errors
S2 = "loss_switch.loss_stages.stage2"
S3 = "loss_switch.loss_stages.stage3"


def _set(cfg, path, value):
    *keys, last = path
    node = cfg
    for k in keys:
        node = node[k]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return cfg


_DELETE = object()
_ST = ["loss_switch", "loss_stages"]
_C2 = [*_ST, "stage2", "conditions"]
_C3 = [*_ST, "stage3", "conditions"]


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (
            [*_C3, "class_dice_thresholds", "Pisifrom"],
            0.8,
            rf"^{S3}\.conditions\.class_dice_thresholds\.Pisifrom: unknown class \(did you mean "
            r"'Pisiform'\?\); known: Radius, Ulna, Capitate, Pisiform, Trapezoid$",
        ),
        (
            [*_C2, "global_dice_threshold"],
            95.5,
            rf"{S2}\.conditions\.global_dice_threshold: a Dice threshold must be a number in \[0",
        ),
        (
            [*_C2, "class_dice_thresholds", "Trapezoid"],
            -0.1,
            rf"{S2}\.conditions\.class_dice_thresholds\.Trapezoid: .* in \[0",
        ),
        ([*_C2, "global_dice_threshold"], "high", rf"{S2}\.conditions\.global_dice_threshold"),
        ([*_C2, "consecutive_epochs"], 0, rf"{S2}\.conditions\.consecutive_epochs: .* >= 1"),
        (
            [*_C2, "global_dice_treshold"],
            0.9,
            rf"{S2}\.conditions\.global_dice_treshold: unknown key \(did you mean "
            r"'global_dice_threshold'\?\)",
        ),
        ([*_ST, "stage2", "enabled"], "yes", rf"{S2}\.enabled"),
        ([*_ST, "stage2", "lr_multiplier"], 0, rf"{S2}\.lr_multiplier"),
        (
            [*_ST, "stage2", "conditions"],
            {"consecutive_epochs": 2},
            rf"{S2}\.conditions: no condition",
        ),
        (
            [*_ST, "stage2", "loss", "loss_parameter", "losses", 1, "weight"],
            0.9,
            rf"{S2}\.loss\.loss_parameter\.losses: weights \[0\.2, 0\.9\] sum to 1\.1",
        ),
        (
            [*_ST, "stage3", "loss", "loss_parameter", "losses", 0, "weight"],
            -0.1,
            rf"{S3}\.loss\.loss_parameter\.losses\[0\]\.weight",
        ),
        (
            [*_ST, "stage3", "loss", "loss_parameter", "losses"],
            [],
            rf"{S3}\.loss\.loss_parameter\.losses: a Mixed loss needs",
        ),
        (["loss_parameter", "losses", 0, "weight"], 0.5, r"^loss_parameter\.losses: weights"),
        (
            [*_ST, "stage5"],
            {"conditions": {"global_dice_threshold": 0.99}},
            rf"^{_ST[0]}\.loss_stages\.stage5: stage numbering has a gap \(no stage4\)",
        ),
        (  # an empty stage1 means the top-level loss (issue 18); one with content is refused
            [*_ST, "stage1"],
            {"conditions": {"global_dice_threshold": 0.5}},
            r"loss_stages\.stage1: stage keys are stage2, stage3",
        ),
        ([*_ST, "final"], {}, r"loss_stages\.final: stage keys"),
        (["loss_switch", "stages"], {}, r"^loss_switch\.stages: unknown key"),
        (["loss_name"], _DELETE, r"^loss_name: missing"),
    ],
)
def test_config_errors_name_the_key_path(path, value, match):
    cfg = _set(make_config(), path, value)
    with pytest.raises(ConfigError, match=match):
        sched(cfg)


def test_a_stage4_after_stage3_is_accepted():
    cfg = _set(make_config(), [*_ST, "stage4"], {"conditions": {"global_dice_threshold": 0.99}})
    assert [st.number for st in sched(cfg).stages] == [1, 2, 3, 4]


def test_mixedloss_alias_and_component_loss_name_are_validated():
    cfg = make_config()
    cfg["loss_name"] = "MixedLoss"
    cfg["loss_parameter"]["losses"][0] = {"loss_name": "BCEWithLogitsLoss", "weight": 0.4}
    with pytest.raises(ConfigError, match=r"^loss_parameter\.losses: weights \[0\.4, 0\.7\]"):
        sched(cfg)


def test_loss_factory_errors_get_the_stage_path():
    def factory(cfg):
        if cfg["loss_parameter"]["losses"][1]["weight"] == 0.9:
            raise ConfigError("unknown loss 'DiceLos'")
        return StandInMixed(cfg)

    with pytest.raises(ConfigError, match=rf"^{S3}\.loss: cannot build this loss: unknown loss"):
        sched(loss_factory=factory)


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        LossStageScheduler.from_yaml(str(tmp_path / "nope.yaml"), loss_factory=StandInMixed)
    with pytest.raises(ConfigError, match="not valid YAML"):
        LossStageScheduler.from_yaml("loss_name: [Mixed", loss_factory=StandInMixed)


def test_from_yaml_file_and_string(tmp_path):
    s = LossStageScheduler.from_yaml(EXAMPLE_YAML, loss_factory=StandInMixed, class_names=HAND)
    assert [(st.number, st.global_dice_threshold, st.class_dice_thresholds) for st in s.stages] == [
        (1, None, {}),
        (2, 0.955, {"Pisiform": 0.85, "Trapezoid": 0.88}),
        (3, 0.965, {"Pisiform": 0.89, "Trapezoid": 0.91}),
    ]
    t = LossStageScheduler.from_yaml(EXAMPLE_YAML.read_text(), loss_factory=StandInMixed)
    assert t.stages == s.stages


# ---------------------------------------------------------------- the real build_loss
def _real_build_loss():
    losses = pytest.importorskip("classweights.losses")
    if not hasattr(losses, "build_loss"):
        pytest.skip("classweights.losses.build_loss not available yet")
    return losses.build_loss


def test_real_mixed_loss_weights_change_in_place():
    _real_build_loss()
    s = LossStageScheduler.from_yaml(EXAMPLE_YAML, class_names=HAND)
    loss = s.loss
    assert list(loss.weights) == pytest.approx([0.3, 0.7])
    logits = torch.randn(2, 5, 8, 8, generator=torch.Generator().manual_seed(0))
    target = (torch.rand(2, 5, 8, 8, generator=torch.Generator().manual_seed(1)) > 0.7).float()
    before = loss(logits, target).item()
    assert s.step(HIT2, 0) is True
    assert s.loss is loss
    assert list(loss.weights) == pytest.approx([0.2, 0.8])
    after = loss(logits, target).item()
    assert math.isfinite(after)
    assert after != before
    s.step(HIT3, 1)
    assert list(s.loss.weights) == pytest.approx([0.1, 0.9])


def test_real_build_loss_error_gets_the_stage_path():
    _real_build_loss()
    cfg = make_config()
    cfg["loss_switch"]["loss_stages"]["stage3"]["loss"] = mixed(0.1, 0.9, dice="DiceLos")
    with pytest.raises(ConfigError, match=rf"^{S3}\.loss: cannot build this loss"):
        LossStageScheduler(cfg, class_names=HAND)


def test_dice_metric_feeds_the_scheduler():
    metric = DiceMetric(5, "multilabel", class_names=HAND)
    target = torch.zeros(1, 5, 4, 4)
    target[:, :, :2] = 1
    metric.update(target * 20 - 10, target)  # perfect prediction
    s = sched()
    assert s.step(metric.compute(), 0) is True
