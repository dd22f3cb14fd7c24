"""The import direction of docs/architecture.md holds: import-linter's contracts pass."""

from __future__ import annotations

import ast
import re
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
    named = {m.strip() for layer in layered["layers"] for m in re.split(r"[|:]", layer)}
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


def _imports_across_rooms():
    """(importer, target module, imported names) of every import from another room."""
    import ast

    pkg = ROOT / "classweights"
    for path in pkg.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        module = parts[:-1] if is_pkg else parts
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = module if is_pkg else module[:-1]
                base = base[: len(base) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            elif (node.module or "").startswith("classweights"):
                target = node.module.split(".")
            else:
                continue
            other_room = len(target) > 1 and len(module) > 1 and target[1] != module[1]
            if other_room:
                yield ".".join(module), ".".join(target), [a.name for a in node.names]


def test_no_room_imports_another_rooms_private_names():
    """The privacy rule of docs/architecture.md: `_` names are private to their package."""
    bad = [
        f"{importer}: from {target} import {', '.join(names)}"
        for importer, target, names in _imports_across_rooms()
        if any(p.startswith("_") and p != "__init__" for p in target.split(".")[1:])
        or any(n.startswith("_") and not n.startswith("__") for n in names)
    ]
    assert bad == []


def test_every_relative_import_names_a_module_that_exists():
    """Imports inside functions run only on their path (a NIfTI with scl_slope, say): one that
    names a module moved by a split fails there and nowhere else, so every one is resolved here."""
    missing = []
    for path in (ROOT / "classweights").rglob("*.py"):
        package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - (node.level - 1)]
                dotted = node.module.split(".") if node.module else []
                target = ROOT.joinpath(*base, *dotted)
                if not (target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()):
                    missing.append(
                        f"{path.relative_to(ROOT)}:{node.lineno}: {'.' * node.level}{node.module}"
                    )
    assert missing == []
