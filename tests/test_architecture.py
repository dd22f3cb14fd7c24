"""The import direction of docs/architecture.md holds: import-linter's contracts pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> list[dict]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["tool"]["importlinter"]["contracts"]


def test_every_room_has_a_layer():
    """A new module or package under classweights/ must be placed in the layers contract."""
    layered = next(c for c in _contracts() if c["type"] == "layers")
    named = {m.strip() for layer in layered["layers"] for m in layer.split("|")}
    rooms = {
        f"classweights.{p.stem}"
        for p in (ROOT / "classweights").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert rooms - named == set(), "place these rooms in [tool.importlinter] (pyproject.toml)"


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(lint).exists():
        pytest.skip("import-linter is not installed (pip install 'classweights[test]')")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([lint], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
