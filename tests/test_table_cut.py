"""A table of thousands of inferred classes (an instanceIds folder) is cut to the 200 with the
most pixels in the terminal and in Markdown, with one line saying so; JSON and CSV stay complete
(issue 30)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
from conftest import save_png


def _instances(folder, rng):
    """Cityscapes-style instance ids (class x 1000 + k) beside stuff labels: 26,xxx classes."""
    folder.mkdir()
    masks = []
    for i in range(3):
        m = rng.choice([0, 7, 8, 11, 21, 23], size=(40, 50)).astype(np.uint16)
        cars = rng.integers(0, 250, size=(40, 50))
        m[10:30] = np.where(cars[10:30] < 240, 26000 + cars[10:30], m[10:30])
        save_png(folder / f"f{i}_instanceIds.png", m)
        masks.append(m)
    return masks


def _cli(*args):
    r = subprocess.run(
        [sys.executable, "-m", "classweights.cli", *map(str, args), "--no-cache"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_thousands_of_inferred_classes_are_cut_in_table_and_markdown_only(tmp_path):
    masks = _instances(tmp_path / "inst", np.random.default_rng(0))
    values, counts = np.unique(np.concatenate([m.ravel() for m in masks]), return_counts=True)
    n = int(values.max()) + 1
    top = sorted(zip(-counts, values))[:200]  # the 200 classes with the most pixels
    expected = sorted(int(v) for _, v in top)
    table = _cli("stats", tmp_path / "inst")
    md = _cli("stats", tmp_path / "inst", "--format", "markdown")
    for out in (table, md):
        assert len(out.splitlines()) < 220
        assert f"showing the 200 of {n:,} classes with the most pixels" in out
        assert "--format json or csv lists every class" in out
    ids = [int(ln.split("|")[1]) for ln in md.splitlines()[2:] if ln.startswith("| ") and
           ln.split("|")[1].strip().isdigit()]  # fmt: skip
    assert ids == expected
    data = json.loads(_cli("stats", tmp_path / "inst", "--format", "json"))
    assert len(data["classes"]) == n
    assert [c["pixels"] for c in data["classes"] if c["pixels"]] == counts.tolist()
    rows = list(csv.DictReader(io.StringIO(_cli("stats", tmp_path / "inst", "--format", "csv"))))
    assert len(rows) == n
    cmp = _cli("compare", tmp_path / "inst", "--format", "markdown")
    assert len(cmp.splitlines()) < 220 and "showing the 200 of" in cmp


def test_named_classes_are_all_listed(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"class{i}" for i in range(250)) + "\n")
    save_png(tmp_path / "m.png", np.arange(250, dtype=np.uint8).reshape(10, 25))
    md = _cli("stats", tmp_path / "m.png", "--classes", names, "--format", "markdown")
    assert "class249" in md and "showing the" not in md
