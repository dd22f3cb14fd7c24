"""Issue 31, mmsegmentation 1.2.x: the exported recipe (a small registered loss) computes
PyTorch's weighted cross entropy with labels holding the ignore value, where mmseg 1.2.2's own
``CrossEntropyLoss`` with ``class_weight`` raises ``IndexError: index 255`` (#3734/#3492, read
in its source: mmcv's compiled builds cannot be installed here).

mmseg cannot be imported, so ``mmseg.registry.MODELS`` is a stand-in registry (a dict and a
decorator); the loss itself runs as printed. Reference: ``F.cross_entropy(weight=w,
ignore_index=255)``.
"""

from __future__ import annotations

import ast
import sys
import types

import numpy as np
import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from classweights.cli import cli  # noqa: E402
from classweights.export import MMSEG_CHECKED  # noqa: E402
from classweights.synthetic import write_pngs  # noqa: E402


class Registry:
    """What the recipe uses of mmengine's Registry: ``register_module()`` and ``build``."""

    def __init__(self):
        self.modules = {}

    def register_module(self):
        def add(cls):
            self.modules[cls.__name__] = cls
            return cls

        return add

    def build(self, cfg):
        cfg = dict(cfg)
        return self.modules[cfg.pop("type")](**cfg)


@pytest.fixture
def mmseg_registry(monkeypatch):
    registry = Registry()
    mmseg = types.ModuleType("mmseg")
    mmseg.registry = types.ModuleType("mmseg.registry")
    mmseg.registry.MODELS = registry
    monkeypatch.setitem(sys.modules, "mmseg", mmseg)
    monkeypatch.setitem(sys.modules, "mmseg.registry", mmseg.registry)
    return registry


def exported(tmp_path):
    write_pngs(tmp_path / "masks", 3, 24, 32, seed=1)
    args = ["compute", str(tmp_path / "masks"), "--num-classes", "19", "--ignore-index", "255"]
    r = CliRunner().invoke(cli, [*args, "--export", "mmseg", "--no-cache"])
    assert r.exit_code == 0, r.output
    return r.stdout


def test_the_exported_loss_is_weighted_cross_entropy_with_ignored_labels(tmp_path, mmseg_registry):
    text = exported(tmp_path)
    namespace: dict = {}
    exec(compile(text, "loss_decode.py", "exec"), namespace)  # the whole export, as printed
    cfg = namespace["loss_decode"]
    loss = mmseg_registry.build(cfg)
    w = torch.tensor(cfg["class_weight"], dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 19, 6, 8, generator=g)
    label = torch.randint(0, 19, (2, 6, 8), generator=g)
    label[:, :2] = 255  # ignore_index, as mmseg's padded crops hold (seg_pad_val)
    got = loss(logits, label, weight=None, ignore_index=255)
    ref = F.cross_entropy(logits, label, weight=w, ignore_index=255)
    assert got.item() == pytest.approx(ref.item(), rel=1e-5)
    assert loss.loss_name.startswith("loss_")  # mmseg adds only loss_* terms to the total
    with pytest.raises(IndexError):  # what mmseg 1.2.2 does with these labels: w[label]
        w[label]


def test_the_recipe_reads_an_npy_file_and_names_the_versions(tmp_path, mmseg_registry):
    text = exported(tmp_path)
    namespace: dict = {}
    exec(compile(text, "loss_decode.py", "exec"), namespace)
    cls = namespace["ClassWeightedCELoss"]
    np.save(tmp_path / "w.npy", np.array([1.0, 2.0, 3.0]))
    assert cls(str(tmp_path / "w.npy")).class_weight.tolist() == [1.0, 2.0, 3.0]
    assert MMSEG_CHECKED["1.x"] in text and MMSEG_CHECKED["0.x"] in text
    tree = ast.parse(text)  # the 0.x form is named, in a comment
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "avg_non_ignore"]
    assert "avg_non_ignore=True" in text
