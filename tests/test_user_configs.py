"""Issue 18: the configs and calls users already have keep working."""

from __future__ import annotations

import logging

import numpy as np
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
    build_loss,
)

# ---------------------------------------------------------------- item 2: class_weights alias
ALIAS_LOSSES = [
    (CrossEntropyLoss, {}),
    (BCEWithLogitsLoss, {}),
    (DiceLoss, {}),
    (FocalLoss, {}),
    (CombinedLoss, {}),
    (BCEDiceLoss, {}),
    (FocalDiceLoss, {}),
]


def test_combined_loss_call_from_the_class_weight_script():
    w = torch.tensor([0.5, 1.0, 2.0])
    with pytest.warns(DeprecationWarning, match="pass weight="):  # works for a release
        loss_fn = CombinedLoss(
            ce_weight=0.6,
            dice_weight=0.4,
            smooth=1.0,
            ignore_index=255,
            class_weights=w,
            square_denominator=False,
        )
    assert loss_fn.weight.tolist() == w.tolist()
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 5)
    target = torch.randint(0, 3, (2, 4, 5))
    target[0, 0, 0] = 255
    same = CombinedLoss(0.6, 0.4, weight=w, smooth=1.0, ignore_index=255)
    assert loss_fn(logits, target).item() == pytest.approx(same(logits, target).item())
    # the CE part is torch's weighted CE
    ce_only = CombinedLoss(1.0, 0.0, weight=w, ignore_index=255)
    ref = F.cross_entropy(logits, target, weight=w, ignore_index=255)
    assert ce_only(logits, target).item() == pytest.approx(ref.item(), rel=1e-5)


@pytest.mark.parametrize(("cls", "kw"), ALIAS_LOSSES)
def test_class_weights_is_an_alias_of_weight_everywhere(cls, kw):
    """Aliases live in build_loss's config parsing (issue 29); a constructor still takes
    class_weights= for a release, saying so."""
    with pytest.warns(DeprecationWarning, match=r"class_weights=\.\.\.\) is deprecated"):
        loss = cls(class_weights=[1.0, 2.0, 3.0], **kw)
    assert loss.weight.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ConfigError, match="both weight= and class_weights="):
        cls(weight=[1.0, 2.0, 3.0], class_weights=[1.0, 2.0, 3.0], **kw)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # a config says it without a warning
        name = cls.__name__
        built = build_loss({"name": name, "class_weights": [1.0, 2.0, 3.0], **kw})
    assert built.weight.tolist() == [1.0, 2.0, 3.0]


def test_class_weights_in_a_config_and_beside_build_loss_weight():
    loss = build_loss({"name": "DiceLoss", "class_weights": [1.0, 2.0]}, weight=[5.0, 5.0])
    assert loss.weight.tolist() == [1.0, 2.0]  # the config's own weights win, as for weight:
    with pytest.raises(ConfigError, match="both weight= and class_weights="):
        build_loss({"name": "CombinedLoss", "weight": [1.0, 2.0], "class_weights": [1.0, 2.0]})


# ---------------------------------------------------------------- item 1: empty stage1
ISSUE_STAGED_YAML = """
loss_name: Mixed
loss_parameter:
  losses:
    - name: BCEWithLogitsLoss
      weight: 0.3
    - name: DiceLoss
      weight: 0.7
loss_switch:
  loss_stages:
    stage1:        # empty: stage 1 is the top-level loss_name / loss_parameter
    stage2:
      enabled: true
      lr_multiplier: 1.0
      conditions:
        global_dice_threshold: 0.9550
        class_dice_thresholds: {Pisiform: 0.85, Trapezoid: 0.88}
        consecutive_epochs: 1
      loss:
        loss_name: Mixed
        loss_parameter:
          losses: [{name: BCEWithLogitsLoss, weight: 0.2}, {name: DiceLoss, weight: 0.8}]
    stage3:
      enabled: true
      lr_multiplier: 1.0
      conditions:
        global_dice_threshold: 0.9650
        class_dice_thresholds: {Pisiform: 0.89, Trapezoid: 0.91}
        consecutive_epochs: 1
      loss:
        loss_name: Mixed
        loss_parameter:
          losses: [{name: BCEWithLogitsLoss, weight: 0.1}, {name: DiceLoss, weight: 0.9}]
"""
CLASSES = ["Pisiform", "Trapezoid"]


def _metrics(avg, pis, tra):
    return {"avg_dice": avg, "class_dice": {"Pisiform": pis, "Trapezoid": tra}}


@pytest.mark.parametrize("form", ["file", "string"])
def test_staged_config_with_empty_stage1_runs_all_stages(tmp_path, form):
    from classweights.schedule import LossStageScheduler

    path = tmp_path / "staged.yaml"
    path.write_text(ISSUE_STAGED_YAML, encoding="utf-8")
    src = path if form == "file" else ISSUE_STAGED_YAML
    s = LossStageScheduler.from_yaml(src, class_names=CLASSES)
    assert [st.number for st in s.stages] == [1, 2, 3]
    assert s.loss.components == [("BCEWithLogitsLoss", 0.3), ("DiceLoss", 0.7)]
    assert s.step(_metrics(0.956, 0.86, 0.89), 0)
    assert s.loss.components == [("BCEWithLogitsLoss", 0.2), ("DiceLoss", 0.8)]
    assert s.step(_metrics(0.97, 0.9, 0.92), 1)
    assert s.loss.components == [("BCEWithLogitsLoss", 0.1), ("DiceLoss", 0.9)]


@pytest.mark.parametrize("stage1", ["", " null", " {}"])
def test_stage1_empty_null_or_empty_mapping(stage1):
    from classweights.schedule import LossStageScheduler

    text = ISSUE_STAGED_YAML.replace(
        "    stage1:        # empty: stage 1 is the top-level loss_name / loss_parameter",
        f"    stage1:{stage1}",
    )
    assert f"stage1:{stage1}\n" in text
    s = LossStageScheduler.from_yaml(text, class_names=CLASSES)
    assert [st.number for st in s.stages] == [1, 2, 3]


def test_stage1_with_content_is_still_refused():
    from classweights.schedule import LossStageScheduler

    text = ISSUE_STAGED_YAML.replace(
        "    stage1:        # empty: stage 1 is the top-level loss_name / loss_parameter",
        "    stage1: {enabled: true}",
    )
    with pytest.raises(ConfigError, match=r"loss_stages\.stage1: stage keys are stage2"):
        LossStageScheduler.from_yaml(text)


def test_build_loss_of_the_whole_staged_config_builds_every_stage(tmp_path):
    """A staged config builds one StagedLoss (issue 31): stage 1 current, every stage held."""
    from classweights.losses import MixedLoss, StagedLoss

    for cfg in (ISSUE_STAGED_YAML, __import__("yaml").safe_load(ISSUE_STAGED_YAML)):
        loss = build_loss(cfg)
        assert isinstance(loss, StagedLoss) and isinstance(loss.current, MixedLoss)
        assert loss.current.components == [("BCEWithLogitsLoss", 0.3), ("DiceLoss", 0.7)]
        assert loss.numbers == [1, 2, 3]
    path = tmp_path / "staged.yaml"
    path.write_text(ISSUE_STAGED_YAML, encoding="utf-8")
    staged = build_loss(path)
    assert staged.current.components == [("BCEWithLogitsLoss", 0.3), ("DiceLoss", 0.7)]
    staged.set_stage(3)
    assert staged.current.components[0][1] == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="loss_switch must be a mapping"):
        build_loss({"name": "DiceLoss", "loss_switch": "stage2"})


# ---------------------------------------------------------------- item 3: focal + Dice keys
FOCAL_YAML = """
loss:
  use_focal: true
  focal_alpha: 0.25
  focal_gamma: 2.0
  dice_weight: 1.0
  use_class_weights: true
"""


def _masks(tmp_path):
    """Three 4x6 label masks saved as .npy files; returns the folder and all labels."""
    rng = np.random.default_rng(3)
    folder = tmp_path / "masks"
    folder.mkdir()
    masks = [rng.choice(3, size=(4, 6), p=[0.7, 0.2, 0.1]).astype(np.uint8) for _ in range(3)]
    masks[0][0, :3] = 2  # every class present
    for i, m in enumerate(masks):
        np.save(folder / f"m{i}.npy", m)
    return folder, np.concatenate([m.ravel() for m in masks])


def test_focal_dice_keys_with_a_dataset_use_its_cached_class_weights(tmp_path):
    from sklearn.utils.class_weight import compute_class_weight

    folder, labels = _masks(tmp_path)
    opts = {"method": "inverse_freq", "normalize": "none", "num_classes": 3,
            "cache_dir": tmp_path / "cache"}  # fmt: skip
    loss = build_loss(FOCAL_YAML, dataset=folder, dataset_options=opts)
    assert isinstance(loss, FocalDiceLoss)
    assert loss.gamma == 2.0
    assert loss.alpha.item() == pytest.approx(0.25)
    assert loss.dice_weight == 1.0
    balanced = compute_class_weight("balanced", classes=np.arange(3), y=labels)
    np.testing.assert_allclose(loss.weight.numpy(), balanced, rtol=1e-6)
    # the same loss by its own name and arguments
    ref = FocalDiceLoss(alpha=0.25, gamma=2.0, dice_weight=1.0, weight=balanced)
    torch.manual_seed(0)
    logits, target = torch.randn(2, 3, 4, 6), torch.randint(0, 3, (2, 4, 6))
    assert loss(logits, target).item() == pytest.approx(ref(logits, target).item(), rel=1e-6)
    # a second build reads the cache (same numbers)
    again = build_loss(FOCAL_YAML, dataset=folder, dataset_options=opts)
    assert again.weight.tolist() == loss.weight.tolist()


def test_use_class_weights_without_a_dataset_names_what_is_missing():
    with pytest.raises(ConfigError, match="use_class_weights: true needs the dataset"):
        build_loss(FOCAL_YAML)
    loss = build_loss(FOCAL_YAML, weight=[1.0, 2.0, 3.0])  # explicit weights also work
    assert loss.weight.tolist() == [1.0, 2.0, 3.0]


def test_focal_keys_other_forms():
    off = build_loss({"use_focal": False, "focal_gamma": 2.0, "dice_weight": 0.4})
    assert isinstance(off, CombinedLoss)
    assert off.dice_weight == 0.4
    assert off.weight is None
    plain = build_loss({"loss": {"use_focal": True, "use_class_weights": False}})
    assert isinstance(plain, FocalDiceLoss)
    assert plain.weight is None
    with pytest.raises(ConfigError, match="use_focal must be true or false"):
        build_loss({"use_focal": "yes"})
    with pytest.raises(ConfigError, match="unknown argument"):
        build_loss({"use_focal": True, "focal_gama": 2.0})
