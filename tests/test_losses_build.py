"""build_loss from dicts, YAML strings and files; registry; weight inputs; from_cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from classweights import ClassStats
from classweights.errors import ConfigError
from classweights.weights import ClassWeightsWarning
from classweights.losses import (
    BCEDiceLoss,
    BCEWithLogitsLoss,
    CombinedLoss,
    CrossEntropyLoss,
    DiceLoss,
    FocalDiceLoss,
    FocalLoss,
    MixedLoss,
    as_weight_tensor,
    available_losses,
    build_loss,
    pos_weight_from_stats,
    register_loss,
)

SEED_YAML = """
loss_name: Mixed
loss_parameter:
  losses:
    - {name: BCEWithLogitsLoss, weight: 0.3}
    - {name: DiceLoss, weight: 0.7}
"""


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("CrossEntropyLoss", CrossEntropyLoss),
        ("BCEWithLogitsLoss", BCEWithLogitsLoss),
        ("DiceLoss", DiceLoss),
        ("FocalLoss", FocalLoss),
        ("CombinedLoss", CombinedLoss),
        ("CEDiceLoss", CombinedLoss),
        ("DiceCELoss", CombinedLoss),
        ("BCEDiceLoss", BCEDiceLoss),
        ("FocalDiceLoss", FocalDiceLoss),
        ("dice", DiceLoss),  # case-insensitive alias
    ],
)
def test_every_name_builds(name, cls):
    assert type(build_loss({"name": name})) is cls
    assert type(build_loss({"loss_name": name, "loss_parameter": {}})) is cls


def test_seed_config_yaml_string_dict_and_file(tmp_path):
    path = tmp_path / "loss.yaml"
    path.write_text(SEED_YAML)
    import yaml

    for cfg in (SEED_YAML, yaml.safe_load(SEED_YAML), path, str(path)):
        loss = build_loss(cfg)
        assert isinstance(loss, MixedLoss)
        assert loss.components == [("BCEWithLogitsLoss", 0.3), ("DiceLoss", 0.7)]
        assert loss.losses[1].mode == "multilabel"  # BCE in the mix implies sigmoid outputs


def test_seed_config_value_matches_parts():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 4, generator=g)
    t = (torch.rand(2, 3, 4, 4, generator=g) > 0.5).float()
    loss = build_loss(SEED_YAML)(x, t)
    expected = 0.3 * F.binary_cross_entropy_with_logits(x, t) + 0.7 * DiceLoss("multilabel")(x, t)
    torch.testing.assert_close(loss, expected)


def test_arguments_top_level_and_nested():
    loss = build_loss({"name": "DiceLoss", "mode": "multilabel", "loss_parameter": {"smooth": 0.5}})
    assert (loss.mode, loss.smooth) == ("multilabel", 0.5)
    with pytest.raises(ConfigError, match="both at the top level and in loss_parameter"):
        build_loss({"name": "DiceLoss", "smooth": 1, "loss_parameter": {"smooth": 2}})


def test_unknown_loss_error_names_it_and_lists_valid():
    with pytest.raises(ConfigError, match=r"unknown loss 'DiceLos' \(did you mean 'DiceLoss'\?\)"):
        build_loss({"name": "DiceLos"})
    with pytest.raises(ConfigError, match=r"valid losses: .*CombinedLoss.*FocalLoss"):
        build_loss("NoSuchLoss")


def test_unknown_argument_error_names_it_and_lists_valid():
    with pytest.raises(
        ConfigError,
        match=r"DiceLoss got unknown argument\(s\) \['smoth'\]; "
        r"valid arguments: .*smooth",
    ):
        build_loss({"name": "DiceLoss", "smoth": 1.0})
    with pytest.raises(ConfigError, match=r"Mixed got unknown argument\(s\) \['foo'\]"):
        build_loss({"loss_name": "Mixed", "loss_parameter": {"losses": ["DiceLoss"], "foo": 1}})


def test_mixed_component_class_weights_go_under_params():
    cfg = {
        "loss_name": "Mixed",
        "loss_parameter": {
            "mode": "multiclass",
            "ignore_index": 255,
            "losses": [
                {"name": "CrossEntropyLoss", "weight": 0.5, "params": {"weight": [1.0, 2.0]}},
                {"name": "DiceLoss", "weight": 0.5},
            ],
        },
    }
    loss = build_loss(cfg)
    assert loss.losses[0].weight.tolist() == [1.0, 2.0]
    assert loss.losses[0].ignore_index == 255
    assert loss.losses[1].ignore_index == 255
    with pytest.raises(ConfigError, match="mixing factor"):
        build_loss(
            {
                "loss_name": "Mixed",
                "loss_parameter": {"losses": [{"name": "DiceLoss", "weight": [1, 2]}]},
            }
        )


def test_build_with_class_weight_and_stats():
    stats = ClassStats.from_counts([[10, 2, 0], [6, 2, 1]], image_total=[20, 20], multilabel=True)
    loss = build_loss(SEED_YAML, weight=[1.0, 2.0, 3.0], stats=stats)
    # positives 16, 4, 1 of 40 labelled pixels -> negatives / positives
    assert loss.losses[0].pos_weight.tolist() == pytest.approx([24 / 16, 36 / 4, 39 / 1])
    assert loss.losses[1].weight.tolist() == [1.0, 2.0, 3.0]
    auto = build_loss({"name": "BCEWithLogitsLoss", "pos_weight": "auto"}, stats=stats)
    assert auto.pos_weight.tolist() == pytest.approx([1.5, 9.0, 39.0])
    with pytest.raises(ConfigError, match="needs build_loss"):
        build_loss({"name": "BCEWithLogitsLoss", "pos_weight": "auto"})


def test_pos_weight_from_stats_absent_channel_and_single_label_error():
    stats = ClassStats.from_counts([[5, 0]], image_total=[10], multilabel=True)
    with pytest.warns(ClassWeightsWarning, match="no positives"):
        assert pos_weight_from_stats(stats).tolist() == [1.0, 1.0]
    with pytest.warns(ClassWeightsWarning, match="no positives"):
        assert BCEWithLogitsLoss(pos_weight=stats).pos_weight.tolist() == [1.0, 1.0]
    with pytest.raises(ConfigError, match="multi-label statistics"):
        pos_weight_from_stats(ClassStats.from_counts([[5, 5]]))


@pytest.fixture
def registry(monkeypatch):
    """Registrations made by a test disappear after it."""
    from classweights.losses import registry as registry_module

    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))


def test_register_loss_and_lazy_entries(registry):
    register_loss("MyFocal", FocalLoss)
    assert "MyFocal" in available_losses()
    assert isinstance(build_loss({"name": "MyFocal", "gamma": 1.0}), FocalLoss)
    with pytest.raises(ConfigError, match="already registered"):
        register_loss("MyFocal", DiceLoss)
    register_loss("MyFocal", DiceLoss, overwrite=True)
    assert isinstance(build_loss("MyFocal"), DiceLoss)
    register_loss("Broken", "classweights.losses.no_such_module:Nope")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        build_loss("Broken")
    with pytest.raises(ConfigError, match=r"package\.module:Attribute"):
        register_loss("Bad", "not-a-path")


def test_subclassified_loss_is_registered_lazily():
    assert "SubclassifiedLoss" in available_losses()
    pytest.importorskip("classweights.losses.subclassified", reason="written by another room")
    loss = build_loss({"name": "SubclassifiedLoss", "num_classes": 3})
    assert type(loss).__name__ == "SubclassifiedLoss"


def test_the_build_module_keeps_its_names_and_shares_the_one_registry(registry):
    """``classweights.losses.build`` still names the registry's functions (issue 29 split them
    into ``losses/registry.py``): a name registered through it is buildable everywhere."""
    from classweights.losses.build import available_losses as listed_by_build
    from classweights.losses.build import build_loss as build_by_build
    from classweights.losses.build import register_loss as register_by_build

    register_by_build("ViaBuildModule", DiceLoss)
    assert "ViaBuildModule" in available_losses()
    assert isinstance(build_loss("ViaBuildModule"), DiceLoss)
    assert isinstance(build_by_build({"name": "viabuildmodule"}), DiceLoss)
    assert listed_by_build() == available_losses()


def test_yaml_errors_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        build_loss("name: [unclosed")
    with pytest.raises(ConfigError, match="does not exist"):
        build_loss(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="exactly one of 'name' or 'loss_name'"):
        build_loss({"smooth": 1.0})


# ---- weight inputs -----------------------------------------------------------------------
def test_weight_accepts_tensor_array_list_and_pth(tmp_path):
    expected = [0.5, 1.0, 2.0]
    torch.save(torch.tensor(expected), tmp_path / "w.pth")
    from classweights.records import record_checksum

    record = {"weights": torch.tensor(expected), "method": "x"}
    record["checksum"] = record_checksum(record)  # a record dict is read only when sealed
    torch.save(record, tmp_path / "wd.pth")
    for value in (
        torch.tensor(expected),
        np.array(expected),
        expected,
        tmp_path / "w.pth",
        str(tmp_path / "wd.pth"),
    ):
        assert as_weight_tensor(value, 3).tolist() == expected
        assert DiceLoss(weight=value).weight.tolist() == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1.0, 2.0], "has 2 values but the loss has 3 classes"),
        ([[1.0, 2.0, 3.0]], "1-D vector"),
        ([1.0, -1.0, 1.0], ">= 0"),
        ([1.0, float("inf"), 1.0], "non-finite"),
        ([0.0, 0.0, 0.0], "all zero"),
        (2.0, "single number"),
        ("missing.pth", "does not exist"),
    ],
)
def test_weight_errors(value, message):
    with pytest.raises(ConfigError, match=message):
        as_weight_tensor(value, 3)


def test_pth_dict_without_weights_key(tmp_path):
    torch.save({"w": torch.ones(3)}, tmp_path / "bad.pth")
    with pytest.raises(ConfigError, match="no 'weights' entry"):
        as_weight_tensor(tmp_path / "bad.pth", 3)


def test_from_cache_builds_the_loss_with_cached_weights(tmp_path):
    cache = pytest.importorskip("classweights.cache", reason="classweights.cache not built yet")
    from PIL import Image

    masks = tmp_path / "masks"
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        m = rng.choice([0, 0, 0, 1, 2, 255], size=(16, 24)).astype(np.uint8)
        Image.fromarray(m).save(masks / f"m{i}.png")
    kw = dict(num_classes=3, ignore_index=255, cache_dir=tmp_path / "cache")
    loss = DiceLoss.from_cache(masks, method="inverse_freq", loss_kwargs={"smooth": 0.5}, **kw)
    expected = cache.load_weights(masks, method="inverse_freq", **kw)
    assert torch.equal(loss.weight, expected)
    assert loss.ignore_index == 255
    assert loss.smooth == 0.5
    combined = CombinedLoss.from_cache(masks, method="inverse_freq", **kw)
    assert torch.equal(combined.weight, expected)


def test_import_classweights_does_not_import_torch_but_losses_does():
    import subprocess
    import sys

    code = (
        "import sys, classweights; a = 'torch' in sys.modules; "
        "import classweights.losses; print(a, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
