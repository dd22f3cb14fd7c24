"""Issue 31, Hydra / OmegaConf: every config reader takes any Mapping/Sequence, weight files and
datasets named in a YAML file resolve relative to it (a composed config: the working directory,
as Hydra's ``to_absolute_path``), and ``class_weights: {dataset: ...}`` is read through
``load_weights``. References: the same config read as plain YAML, NumPy counts of the masks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
omegaconf = pytest.importorskip("omegaconf", reason="OmegaConf is in the test extra")

import torch.nn.functional as F  # noqa: E402
import yaml  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from classweights.errors import ConfigError  # noqa: E402
from classweights.losses import StagedLoss, build_loss  # noqa: E402
from classweights.schedule import LossStageScheduler  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "staged_loss.yaml"
HAND = ["Radius", "Ulna", "Capitate", "Hamate", "Pisiform", "Trapezoid"]


def test_a_dictconfig_of_the_example_builds_and_schedules_as_the_yaml_does():
    cfg = OmegaConf.load(EXAMPLE)
    assert not isinstance(cfg.loss_parameter.losses, list)  # a ListConfig: the trap
    staged = build_loss(cfg)
    plain = build_loss(EXAMPLE)
    assert isinstance(staged, StagedLoss) and staged.numbers == plain.numbers == [1, 2, 3]
    for n in staged.numbers:
        staged.set_stage(n)
        plain.set_stage(n)
        assert staged.current.components == plain.current.components
    s = LossStageScheduler(cfg, class_names=HAND)
    assert s.stages == LossStageScheduler(EXAMPLE, class_names=HAND).stages
    m = {"avg_dice": 0.96, "class_dice": {"Pisiform": 0.9, "Trapezoid": 0.9}}
    assert s.step(m, 0) is True and s.loss.components[1][1] == pytest.approx(0.8)


def test_interpolations_and_a_listconfig_weight_are_read():
    cfg = OmegaConf.create(
        {
            "w": [1.0, 3.0],
            "loss": {"name": "CrossEntropyLoss", "weight": "${w}", "ignore_index": 255},
        }
    )
    loss = build_loss(cfg.loss)
    assert loss.weight.tolist() == [1.0, 3.0] and loss.ignore_index == 255


def _weights_file(folder: Path, values) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "w.npy", np.asarray(values, dtype=np.float64))
    return folder / "w.npy"


def test_a_weight_file_named_in_a_yaml_file_is_relative_to_that_file(tmp_path, monkeypatch):
    _weights_file(tmp_path / "configs", [1.0, 2.0, 5.0])
    _weights_file(tmp_path / "elsewhere", [9.0, 9.0, 1.0])  # the same name in the cwd
    (tmp_path / "configs" / "loss.yaml").write_text(
        "name: CrossEntropyLoss\nweight: w.npy\nignore_index: 255\n"
    )
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert build_loss(tmp_path / "configs" / "loss.yaml").weight.tolist() == [1.0, 2.0, 5.0]
    assert build_loss("../configs/loss.yaml").weight.tolist() == [1.0, 2.0, 5.0]
    staged_yaml = (tmp_path / "configs" / "staged.yaml")
    staged_yaml.write_text(
        textwrap.dedent(
            """
            loss_name: DiceLoss
            loss_parameter: {weight: w.npy}
            loss_switch:
              loss_stages:
                stage2:
                  conditions: {global_dice_threshold: 0.5}
                  loss: {loss_name: FocalLoss, loss_parameter: {weight: w.npy}}
            """
        )
    )
    s = LossStageScheduler.from_yaml(staged_yaml)
    s.step({"avg_dice": 0.9}, 0)
    assert s.loss.weight.tolist() == [1.0, 2.0, 5.0]


def test_a_composed_config_resolves_against_the_working_directory(tmp_path, monkeypatch):
    _weights_file(tmp_path, [1.0, 2.0, 5.0])
    monkeypatch.chdir(tmp_path)
    cfg = OmegaConf.create({"name": "DiceLoss", "weight": "w.npy"})
    assert build_loss(cfg).weight.tolist() == [1.0, 2.0, 5.0]
    assert build_loss("name: DiceLoss\nweight: w.npy\n").weight.tolist() == [1.0, 2.0, 5.0]


# ---------------------------------------------------------------- class_weights: {dataset}
@pytest.fixture
def masks(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "data" / "masks"
    folder.mkdir(parents=True)
    arrays = []
    for i in range(4):
        m = rng.choice([0, 1, 2, 255], size=(12, 16), p=[0.6, 0.25, 0.1, 0.05]).astype(np.uint8)
        Image.fromarray(m).save(folder / f"m{i}.png")
        arrays.append(m)
    return folder, np.stack(arrays)


def inverse_freq(labels, c):
    n = np.array([(labels == k).sum() for k in range(c)], float)
    return n.sum() / (c * n)  # N / (C n_c), normalize: none


def test_the_config_names_the_dataset_its_weights_come_from(masks, tmp_path, monkeypatch):
    folder, labels = masks
    expected = inverse_freq(labels, 3)
    cfg_dir = tmp_path / "data" / "configs"
    cfg_dir.mkdir()
    (cfg_dir / "loss.yaml").write_text(
        textwrap.dedent(
            f"""
            class_weights:
              dataset: ../masks          # relative to this file
              method: inverse_freq
              num_classes: 3
              normalize: none
              cache_dir: {tmp_path / "cache"}
            loss_name: CrossEntropyLoss
            loss_parameter: {{ignore_index: 255}}   # also the scan's ignore_index
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    loss = build_loss(cfg_dir / "loss.yaml")
    np.testing.assert_allclose(loss.weight.numpy(), expected, rtol=1e-6)
    x = torch.randn(2, 3, 4, 4)
    y = torch.tensor(labels[:2, :4, :4].astype(np.int64))
    ref = F.cross_entropy(x, y, weight=torch.tensor(expected, dtype=torch.float32), ignore_index=255)
    assert loss(x, y).item() == pytest.approx(ref.item(), rel=1e-5)
    with pytest.raises(ConfigError, match="weight given twice"):
        build_loss(cfg_dir / "loss.yaml", weight=[1.0, 1.0, 1.0])
    as_dict = yaml.safe_load((cfg_dir / "loss.yaml").read_text())
    as_dict["class_weights"]["dataset"] = "data/masks"  # no file: the working directory
    np.testing.assert_allclose(build_loss(as_dict).weight.numpy(), expected, rtol=1e-6)


def test_a_staged_config_with_a_dataset_gives_every_stage_its_weights(masks, tmp_path):
    folder, labels = masks
    cfg = OmegaConf.create(
        {
            "class_weights": {
                "dataset": str(folder),
                "method": "inverse_freq",
                "num_classes": 3,
                "normalize": "none",
                "ignore_index": 255,
                "cache_dir": str(tmp_path / "cache"),
            },
            "loss_name": "CrossEntropyLoss",
            "loss_switch": {
                "loss_stages": {
                    "stage2": {
                        "conditions": {"global_dice_threshold": 0.5},
                        "loss": {"loss_name": "FocalLoss", "loss_parameter": {"gamma": 0}},
                    }
                }
            },
        }
    )
    s = LossStageScheduler(cfg)
    s.step({"avg_dice": 0.9}, 0)
    np.testing.assert_allclose(s.loss.weight.numpy(), inverse_freq(labels, 3), rtol=1e-6)


def test_a_class_weights_mapping_without_a_dataset_is_refused():
    with pytest.raises(ConfigError, match="needs 'dataset'"):
        build_loss({"name": "DiceLoss", "class_weights": {"method": "inverse_freq"}})


def test_a_staged_config_with_stray_top_level_keys_is_refused():
    with pytest.raises(ConfigError, match="smooth: unknown top-level key"):
        build_loss({"loss_name": "DiceLoss", "smooth": 0.5, "loss_switch": {"loss_stages": {}}})


# ---------------------------------------------------------------- a real Hydra job
HYDRA_APP = """
import hydra
from classweights.losses import build_loss

@hydra.main(version_base=None, config_path="conf", config_name="train")
def main(cfg):
    import os
    loss = build_loss(cfg.loss)
    print("CWD", os.getcwd())
    print("WEIGHT", loss.weight.tolist())

main()
"""


def test_a_hydra_job_that_changes_folder_reads_the_weight_file_of_the_launch_folder(tmp_path):
    pytest.importorskip("hydra", reason="hydra-core is in the test extra")
    app = tmp_path / "app"
    (app / "conf").mkdir(parents=True)
    (app / "train.py").write_text(HYDRA_APP)
    (app / "conf" / "train.yaml").write_text(
        "loss:\n  name: CrossEntropyLoss\n  weight: w.npy\n"
    )
    launch = tmp_path / "launch"
    _weights_file(launch, [1.0, 2.0, 5.0])
    run_dir = tmp_path / "outputs" / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(app / "train.py"), f"hydra.run.dir={run_dir}", "hydra.job.chdir=True"],
        cwd=launch, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"CWD {run_dir}" in out.stdout  # the job really ran in its own folder
    assert "WEIGHT [1.0, 2.0, 5.0]" in out.stdout
