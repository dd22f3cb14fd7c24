"""Run a shortened examples/train_staged.py end to end (real build_loss, DiceMetric, scheduler)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]


def run_example(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_staged.py"), *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def parse(out: str):
    epochs = re.findall(r"^epoch +(\d+) .* avg_dice (\S+) .* stage (\d) ", out, flags=re.M)
    switches = re.findall(
        r"^  Stage (\d) -> Stage (\d) at epoch (\d+) \(avg_dice \S+ >= \S+, Pisiform \S+ >= \S+, "
        r"Trapezoid \S+ >= \S+\): weights ",
        out,
        flags=re.M,
    )
    summary = re.search(r"^stage switches: (.*)  final stage (\d)", out, flags=re.M)
    assert summary is not None
    return epochs, [tuple(map(int, s)) for s in switches], summary


def test_train_staged_short_run():
    out = run_example("--epochs", "3", "--fast")
    assert re.search(r"^pos_weight from ", out, flags=re.M)  # after the cache's INFO line
    epochs, switches, summary = parse(out)
    assert [int(e) for e, _, _ in epochs] == [0, 1, 2]
    assert all(0.0 <= float(d) <= 1.0 for _, d, _ in epochs)
    stages = [int(s) for _, _, s in epochs]
    assert stages == sorted(stages)  # never goes back
    assert summary.group(1) == str([(a, b, e) for a, b, e in switches])
    assert int(summary.group(2)) == (switches[-1][1] if switches else 1)


def test_train_staged_switches_with_a_yaml_config(tmp_path):
    cfg = yaml.safe_load((ROOT / "examples" / "staged_loss.yaml").read_text())
    stages = cfg["loss_switch"]["loss_stages"]
    for stage in stages.values():  # thresholds any model meets: the switch timing is known
        stage["conditions"]["global_dice_threshold"] = 0.0
        stage["conditions"]["class_dice_thresholds"] = {"Pisiform": 0.0, "Trapezoid": 0.0}
    stages["stage3"]["conditions"]["consecutive_epochs"] = 2
    path = tmp_path / "easy.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = run_example("--epochs", "3", "--fast", "--config", str(path))
    epochs, switches, summary = parse(out)
    # stage 2 at the first validation; stage 3 needs 2 more consecutive hits (not 0 and 1:
    # entering a stage resets the count, and one step enters one stage at most)
    assert switches == [(1, 2, 0), (2, 3, 2)]
    assert [int(s) for _, _, s in epochs] == [1, 2, 2]
    assert summary.group(1) == "[(1, 2, 0), (2, 3, 2)]"
    assert "weights 0.3/0.7 -> 0.2/0.8 (in place)" in out
    assert "weights 0.2/0.8 -> 0.1/0.9 (in place)" in out
