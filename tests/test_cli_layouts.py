"""--layout / --split / --split-file on the command line (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from conftest import save_png
from naive import naive_counts
from test_layouts import _cityscapes_tree, _voc_tree

from classweights.labels import CITYSCAPES_TRAIN_IDS


def run(*args, cache):
    return subprocess.run(
        [sys.executable, "-m", "classweights.cli", *map(str, args), "--cache-dir", str(cache)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_stats_layout_cityscapes_split_says_what_it_set(tmp_path):
    root, masks = _cityscapes_tree(tmp_path, np.random.default_rng(0))
    out = run("stats", root, "--layout", "cityscapes", "--split", "train", "--format", "json",
              cache=tmp_path / "c")  # fmt: skip
    assert out.returncode == 0, out.stderr
    remap = {i: CITYSCAPES_TRAIN_IDS.get(i, 255) for i in range(34)}
    rows, ignored, _, _ = naive_counts(masks["train"], 19, ignore_index=255, remap=remap)
    data = json.loads(out.stdout)
    assert [c["pixels"] for c in data["classes"]] == rows.sum(0).tolist()
    assert data["classes"][0]["name"] == "road" and data["dataset"]["images"] == 4
    lines = [ln for ln in out.stderr.splitlines() if "layout cityscapes" in ln]
    assert len(lines) == 1 and "remap=cityscapes" in lines[0], out.stderr
    quiet = run("stats", root, "--layout", "cityscapes", "--split", "train", "-q",
                "--format", "json", cache=tmp_path / "c")  # fmt: skip
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_stats_split_file_root_suffix_and_voc_layout(tmp_path):
    root, masks = _voc_tree(tmp_path, np.random.default_rng(1))
    seg = root / "SegmentationClass"
    split = root / "ImageSets" / "Segmentation" / "val.txt"
    out = run("stats", seg, "--split-file", split, "--suffix", ".png", "--num-classes", "21",
              "--ignore-index", "255", "--format", "json", cache=tmp_path / "c")  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows, _, _, _ = naive_counts(masks[3:], 21, ignore_index=255)
    assert [c["pixels"] for c in json.loads(out.stdout)["classes"]] == rows.sum(0).tolist()
    out = run("stats", root, "--layout", "voc", "--split", "val", "--format", "json",
              cache=tmp_path / "c")  # fmt: skip
    assert [c["pixels"] for c in json.loads(out.stdout)["classes"]] == rows.sum(0).tolist()
    bad = run("stats", seg, "--split-file", split, "--suffix", ".jpg", cache=tmp_path / "c")
    assert bad.returncode == 2 and "without a mask" in bad.stderr and "--suffix" in bad.stderr


def test_bad_layout_split_is_one_line(tmp_path):
    save_png(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    out = run("stats", tmp_path, "--layout", "ade20k", "--split", "test", cache=tmp_path / "c")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: --layout ade20k has no split 'test' (splits: one of train, val)"
    ]
