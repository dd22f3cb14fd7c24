"""docs/integrations.md runs as written (issue 31): every block, in order, in a fresh folder
holding a copy of ``examples/``.

- a block whose first line is ``# file: PATH`` is written to PATH;
- a ``$`` line of a ```console block runs in the shell (``classweights`` is
  ``python -m classweights.cli``, ``python`` this interpreter); the lines after it must appear
  in what it printed;
- any other ```python block runs as a script; each ``# -> text`` comment in it is output the
  run must print.

The mmsegmentation recipe is then built from the config the page writes, with a stand-in for
``mmseg.registry`` (mmcv's compiled builds cannot be installed), and checked against
``F.cross_entropy(weight=w, ignore_index=255)``.
"""

from __future__ import annotations

import importlib
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
for _name in ("lightning", "torchmetrics", "omegaconf", "hydra", "monai"):
    pytest.importorskip(_name, reason=f"{_name} is in the test extra (CI installs it)")

import torch.nn.functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "integrations.md"


def blocks(text):
    return re.findall(r"^```(\w+)\n(.*?)^```", text, re.S | re.M)


def shell(cmd, cwd):
    exe = f"{shlex.quote(sys.executable)}"
    cmd = re.sub(r"^classweights\b", f"{exe} -m classweights.cli", cmd)
    cmd = re.sub(r"^python\b", exe, cmd)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "NO_COLOR": "1"}
    return subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    work = tmp_path_factory.mktemp("integrations")
    shutil.copytree(ROOT / "examples", work / "examples",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for i, (lang, body) in enumerate(blocks(PAGE.read_text())):
        first = body.splitlines()[0] if body.strip() else ""
        if first.startswith("# file: "):
            target = work / first[len("# file: "):].strip()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body)
        elif lang == "console":
            steps = []
            for line in body.splitlines():
                if line.startswith("$ "):
                    steps.append([line[2:], []])
                elif line.strip() and steps:
                    steps[-1][1].append(line)
            for cmd, expected in steps:
                out = shell(cmd, work)
                assert out.returncode == 0, f"{cmd}\n{out.stderr[-3000:]}"
                for line in expected:
                    assert line in out.stdout + out.stderr, f"{cmd}: {line!r} not printed"
        elif lang == "python":
            script = work / f"block_{i}.py"
            script.write_text(body)
            out = shell(f"python {script.name}", work)
            assert out.returncode == 0, f"block {i}:\n{body[:300]}\n{out.stderr[-3000:]}"
            for want in re.findall(r"^\s*# -> (.*)$", body, re.M):
                assert want.strip() in out.stdout, f"block {i}: {want!r} not in {out.stdout!r}"
    return work


def test_every_block_of_the_page_runs_and_prints_what_it_shows(ran):
    assert (ran / "classweights_loss.py").exists() and (ran / "weights.npy").exists()


class _Registry:
    def __init__(self):
        self.modules = {}

    def register_module(self):
        def add(cls):
            self.modules[cls.__name__] = cls
            return cls

        return add


def test_the_mmseg_config_of_the_page_builds_a_loss_that_takes_ignored_labels(ran, monkeypatch):
    registry = _Registry()
    stub = types.ModuleType("mmseg")
    stub.registry = types.ModuleType("mmseg.registry")
    stub.registry.MODELS = registry
    monkeypatch.setitem(sys.modules, "mmseg", stub)
    monkeypatch.setitem(sys.modules, "mmseg.registry", stub.registry)
    monkeypatch.syspath_prepend(str(ran))
    monkeypatch.chdir(ran)
    config = runpy.run_path(str(ran / "my_config.py"))
    for name in config["custom_imports"]["imports"]:
        sys.modules.pop(name, None)
        importlib.import_module(name)  # what mmseg's custom_imports does
    cfg = dict(config["model"]["decode_head"]["loss_decode"])
    loss = registry.modules[cfg.pop("type")](**cfg)
    w = torch.tensor(np.load(ran / "weights.npy"), dtype=torch.float32)
    logits = torch.randn(2, 19, 6, 8)
    label = torch.randint(0, 19, (2, 6, 8))
    label[:, -2:] = 255  # padded crop
    ref = F.cross_entropy(logits, label, weight=w, ignore_index=255)
    got = loss(logits, label, ignore_index=config["model"]["decode_head"]["ignore_index"])
    assert got.item() == pytest.approx(ref.item(), rel=1e-5)
