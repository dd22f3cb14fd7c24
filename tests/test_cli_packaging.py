"""Issue 31, packaging and the shell: ``classweights`` alone prints its help, a command that
needs a missing optional package names the extra to install, and the package builds as a wheel
that installs into a fresh venv and runs without the project's source.

Real subprocesses throughout: a missing torch is a child in which ``import torch`` fails (as on
a machine without it); the wheel is built by pip and installed into a ``python -m venv``.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classweights.synthetic import write_pngs

ROOT = Path(__file__).resolve().parents[1]

WITHOUT = """
import sys
sys.modules[{module!r}] = None  # `import {module}` fails as on a machine without it
sys.argv = ["classweights", *sys.argv[1:]]
from classweights.cli import main
main()
"""


def run(argv, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "100"}
    env.pop("CLASSWEIGHTS_DEBUG", None)
    env.update(kw.pop("env", {}))
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, **kw)


@pytest.mark.parametrize("args", [[], ["cache"]])
def test_no_arguments_print_the_readable_help(args, tmp_path):
    out = run([sys.executable, "-m", "classweights", *args], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Usage: classweights") and "Commands:" in lines
    assert "\\n" not in out.stdout + out.stderr  # not one line of escaped newlines
    assert out.stdout == run([sys.executable, "-m", "classweights", *args, "--help"]).stdout


def test_a_command_that_needs_torch_names_the_extra(tmp_path):
    write_pngs(tmp_path / "masks", 2, 16, 24, seed=0)
    args = [str(tmp_path / "masks"), "--num-classes", "19", "--ignore-index", "255", "--no-cache"]
    code = WITHOUT.format(module="torch")
    out = run([sys.executable, "-c", code, "compute", *args, "-o", str(tmp_path / "w.pth")])
    assert out.returncode == 2, out.stderr
    line = out.stderr.strip().splitlines()[-1]  # (after the scan's own warnings)
    assert line.startswith("error: ") and "'torch'" in line
    assert "pip install 'classweights[torch]'" in line
    assert "Traceback" not in out.stderr and not (tmp_path / "w.pth").exists()
    ok = run([sys.executable, "-c", code, "stats", *args, "--format", "json"])  # no torch needed
    assert ok.returncode == 0, ok.stderr


def test_a_command_that_needs_an_extra_says_which(tmp_path):
    volume = tmp_path / "vol.nii.gz"
    volume.write_bytes(b"not read: the reader is missing")
    code = WITHOUT.format(module="nibabel")
    out = run([sys.executable, "-c", code, "stats", str(volume), "--num-classes", "3"])
    assert out.returncode == 2, out.stderr
    assert "classweights[medical]" in out.stderr and "Traceback" not in out.stderr


def _reuse_site_packages(venv: Path) -> None:
    """Let the new venv see the dependencies installed for this interpreter (no download):
    ``--system-site-packages`` covers a system install; a .pth covers this being a venv."""
    (lib,) = (venv / "lib").glob("python3*")
    paths = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (lib / "site-packages" / "_reuse_test_deps.pth").write_text("\n".join(paths) + "\n")


def test_the_wheel_installs_and_runs_without_the_source(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "classweights", src / "classweights",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    dist = tmp_path / "dist"
    build = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "--no-index", str(src), "-w", str(dist)], cwd=tmp_path)  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = dist.glob("classweights-*.whl")

    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    assert made.returncode == 0, made.stderr
    _reuse_site_packages(venv)
    py, exe = venv / "bin" / "python", venv / "bin" / "classweights"
    inst = run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed",
                str(wheel)])  # fmt: skip  (the editable install it can see is not this venv's)
    assert inst.returncode == 0, inst.stdout[-3000:] + inst.stderr[-3000:]

    work = tmp_path / "elsewhere"  # outside the source tree, no PYTHONPATH
    env = {"PYTHONPATH": "", "CLASSWEIGHTS_CACHE": str(tmp_path / "cache")}
    where = run([str(py), "-c", "import classweights; print(classweights.__file__)"],
                cwd=tmp_path, env=env)  # fmt: skip
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    version = run([str(exe), "--version"], cwd=tmp_path, env=env)
    assert version.returncode == 0 and "0.1.0" in version.stdout, version.stderr
    paths = write_pngs(work / "masks", 3, 20, 30, seed=4)
    stats = run([str(exe), "stats", "masks", "--num-classes", "19", "--ignore-index", "255",
                 "--format", "json"], cwd=work, env=env)  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    labels = np.stack([np.asarray(Image.open(p)) for p in paths]).ravel()
    expected = np.bincount(labels[labels != 255], minlength=19).tolist()
    assert [c["pixels"] for c in json.loads(stats.stdout)["classes"]] == expected
