"""One reader of weight files (`WeightRecord.load`): the losses, `show`, `explain`, `match` and
the cache read files alike, and a record without a valid checksum is refused on every path
(issue 28 item 2: the losses skipped the checksum `show` verified, and deleting the
``checksum`` key passed everywhere)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from classweights.cache.record import load_record
from classweights.errors import ClassWeightsError, ConfigError
from classweights.losses import CrossEntropyLoss, as_weight_tensor, build_loss
from classweights.records import WeightRecord, read_pth, record_checksum
from classweights.stats import ClassStats


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _record(tmp_path, name="w.pth", ignore_index=255):
    stats = ClassStats.from_counts([[300, 100]], ignore_index=ignore_index)
    record = WeightRecord.build(stats, np.array([0.5, 1.5]), "sqrt_inv_freq", {"normalize": "mean"})
    return record.save(tmp_path / name)


def _edited(path, change):
    """The record at ``path`` with ``change(dict)`` applied and saved back unsealed."""
    obj = torch.load(path, weights_only=True)
    change(obj)
    torch.save(obj, path)
    return path


def _readers(path):
    """Every way a weight file reaches the library (each must say the same)."""
    return {
        "WeightRecord.load": lambda: WeightRecord.load(path).weights,
        "load_record": lambda: load_record(path)["weights"],
        "as_weight_tensor": lambda: as_weight_tensor(path, 2),
        "loss(weight=file)": lambda: CrossEntropyLoss(weight=path).weight,
        "build_loss(weight=file)": lambda: build_loss({"name": "CE", "weight": str(path)}).weight,
        "from_record": lambda: CrossEntropyLoss.from_record(path).weight,
    }


def test_a_sealed_record_reads_the_same_everywhere(tmp_path):
    path = _record(tmp_path)
    for name, read in _readers(path).items():
        assert np.asarray(read()).tolist() == [0.5, 1.5], name


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda o: o.pop("checksum"), id="checksum-deleted"),
        pytest.param(lambda o: o.__setitem__("weights", torch.tensor([9.0, 1.5])), id="weights-edited"),
        pytest.param(lambda o: o.__setitem__("ignore_index", 0), id="ignore-index-edited"),
        pytest.param(lambda o: o.__setitem__("checksum", "0" * 32), id="checksum-forged"),
    ],
)
def test_an_unverifiable_record_is_refused_on_every_path(tmp_path, change):
    path = _edited(_record(tmp_path), change)
    messages = set()
    for name, read in _readers(path).items():
        with pytest.raises(ClassWeightsError) as e:
            read()
        messages.add(str(e.value))
        assert str(path) in str(e.value), name
    assert len(messages) == 1, messages  # one reader, one message
    show = subprocess.run(
        [sys.executable, "-m", "classweights.cli", "show", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert show.returncode == 2 and show.stderr.strip() == f"error: {messages.pop()}"


def test_a_bare_tensor_is_an_export_checked_for_finite_values(tmp_path):
    torch.save(torch.tensor([0.5, 2.0]), tmp_path / "bare.pth")
    assert read_pth(tmp_path / "bare.pth")["weights"].tolist() == [0.5, 2.0]
    assert WeightRecord.load(tmp_path / "bare.pth").weights.tolist() == [0.5, 2.0]
    assert as_weight_tensor(tmp_path / "bare.pth", 2).tolist() == [0.5, 2.0]
    torch.save(torch.tensor([0.5, float("nan")]), tmp_path / "nan.pth")
    with pytest.raises(ClassWeightsError, match="not a list of finite numbers"):
        as_weight_tensor(tmp_path / "nan.pth", 2)


@pytest.mark.parametrize(
    ("suffix", "content"),
    [(".json", "[1.0, NaN]"), (".json", "[[1.0, 2.0]]"), (".yaml", "[]"), (".npy", np.ones((2, 2)))],
)
def test_exports_without_a_checksum_are_checked_for_shape_and_finite_values(
    tmp_path, suffix, content
):
    path = tmp_path / f"w{suffix}"
    if suffix == ".npy":
        np.save(path, content)
    else:
        path.write_text(content)
    for name, read in _readers(path).items():
        with pytest.raises(ClassWeightsError, match="not a list of finite numbers"):
            read()
        assert name


def test_the_checksum_is_over_every_field(tmp_path):
    path = _record(tmp_path)
    obj = torch.load(path, weights_only=True)
    assert obj["checksum"] == record_checksum(obj)
    assert WeightRecord.load(path).verify().checksum == obj["checksum"]


def test_a_loss_built_from_a_record_ignores_what_the_counts_ignored(tmp_path):
    path = _record(tmp_path, ignore_index=255)
    assert CrossEntropyLoss.from_record(path).ignore_index == 255
    assert CrossEntropyLoss.from_record(path, ignore_index=7).ignore_index == 7  # explicit wins
    exported = tmp_path / "w.json"
    exported.write_text(json.dumps({"weights": [0.5, 1.5], "ignore_index": 255}))
    assert CrossEntropyLoss.from_record(exported).ignore_index == 255


@pytest.mark.parametrize("case", ["missing", "pickled", "no_weights"])
def test_both_callers_refuse_a_bad_file_with_the_same_line(tmp_path, case):
    path = tmp_path / f"{case}.pth"
    if case == "pickled":
        torch.save({"weights": torch.ones(2), "x": _Payload(str(tmp_path / "pwned"))}, path)
    elif case == "no_weights":
        torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(ConfigError) as from_losses:
        as_weight_tensor(path, 2)
    with pytest.raises(ClassWeightsError) as from_cache:
        load_record(path)
    assert str(from_losses.value) == str(from_cache.value)
    assert str(from_cache.value).startswith(str(path))
    assert not (tmp_path / "pwned").exists()
    assert not os.path.exists(tmp_path / "pwned")


def test_a_focal_alpha_record_becomes_the_focal_losss_alpha(tmp_path):
    """As build_loss(dataset=...) does: a focal_alpha vector is alpha, never the class weight
    (from_record used to pass it as weight=, weighting the wrong term and leaving alpha unset)."""
    from classweights.losses import FocalLoss

    stats = ClassStats.from_counts([[300, 100]], ignore_index=255)
    record = WeightRecord.build(stats, np.array([0.25, 0.75]), "focal_alpha", {})
    loss = FocalLoss.from_record(record.save(tmp_path / "alpha.pth"), mode="multilabel")
    assert loss.weight is None
    assert loss.alpha.tolist() == [0.25, 0.75]
