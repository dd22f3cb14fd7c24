"""Issue 20: every README example that scans gtFine/train works as written on a Cityscapes-shaped
tree (labelIds, instanceIds, color and labelTrainIds PNGs side by side, two splits)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_layouts import _cityscapes_tree

ROOT = Path(__file__).resolve().parents[1]


def _examples():
    """(kind, code) of every README (and docs/ guide) example that names gtFine/train."""
    pages = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "cli.md")]
    lines = [line for p in pages for line in p.read_text(encoding="utf-8").splitlines()]
    out = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if "gtFine/train" in line and re.match(r"^(\$ )?classweights ", line):
            cmd = line.removeprefix("$ ")
            while cmd.endswith("\\"):
                i += 1
                cmd = cmd[:-1] + " " + lines[i].strip()
            out.append(("cli", cmd))
        elif '"gtFine/train"' in line and re.match(r"^(\w+ = )?[\w.]+\(", line):
            code = line
            while code.count("(") > code.count(")"):
                i += 1
                code += " " + lines[i].strip()
            out.append(("python", code.split("  #")[0]))
        i += 1
    return out


EXAMPLES = _examples()


def test_the_readme_has_such_examples():
    kinds = [k for k, _ in EXAMPLES]
    assert kinds.count("cli") >= 3 and kinds.count("python") >= 3, EXAMPLES


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("cs")
    root, _ = _cityscapes_tree(base, np.random.default_rng(0), train_ids=True)
    return root


@pytest.mark.parametrize(("kind", "code"), EXAMPLES, ids=[c[:60] for _, c in EXAMPLES])
def test_readme_example_runs_on_a_cityscapes_tree(tree, kind, code, monkeypatch):
    monkeypatch.chdir(tree)
    if kind == "python":
        import classweights

        ns = {"cw": classweights, "classweights": classweights}
        exec(code.replace('device="cuda"', 'device="cpu"'), ns)  # no GPU here: same call on CPU
        return
    exe = f"{shlex.quote(sys.executable)} -m classweights.cli"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(re.sub(r"^classweights\b", exe, code), shell=True, cwd=tree, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, f"{code}\n{out.stderr}"
