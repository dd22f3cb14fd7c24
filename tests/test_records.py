"""One `.pth` reader (classweights/records.py): the losses and the cache read files alike."""

from __future__ import annotations

import pytest
import torch

from classweights.cache.record import load_record
from classweights.errors import ClassWeightsError, ConfigError
from classweights.losses import as_weight_tensor
from classweights.records import read_pth


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_bare_tensor_and_a_record_read_the_same(tmp_path):
    torch.save(torch.tensor([0.5, 2.0]), tmp_path / "bare.pth")
    torch.save({"weights": torch.tensor([0.5, 2.0]), "method": "x"}, tmp_path / "rec.pth")
    for name in ("bare.pth", "rec.pth"):
        assert read_pth(tmp_path / name)["weights"].tolist() == [0.5, 2.0]
        assert load_record(tmp_path / name)["weights"].tolist() == [0.5, 2.0]
        assert as_weight_tensor(tmp_path / name, 2).tolist() == [0.5, 2.0]


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
