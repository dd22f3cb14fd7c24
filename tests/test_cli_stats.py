"""The `stats` command through a real subprocess and through Click's runner."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from conftest import save_png

from classweights.cli import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "masks"


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "classweights.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_json_is_one_object_with_the_documented_shape():
    out = run("stats", str(EXAMPLES), "--num-classes", "19", "--ignore-index", "255",
              "--classes", "cityscapes", "--format", "json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"num_classes", "ignore_index", "method", "dataset", "classes", "cache"}
    assert data["dataset"]["images"] == 40 and data["dataset"]["sampled"] is False
    road = data["classes"][0]
    assert road["name"] == "road" and set(road) >= {
        "id",
        "pixels",
        "share",
        "images",
        "image_pixels",
        "weight",
    }
    labelled = sum(c["pixels"] for c in data["classes"])
    assert labelled + data["dataset"]["ignored_pixels"] == data["dataset"]["pixels"]
    assert abs(sum(c["share"] for c in data["classes"]) - 1) < 1e-12


def test_table_and_csv(tmp_path):
    save_png(tmp_path / "a.png", np.array([[0, 1], [1, 255]], np.uint8))
    r = CliRunner().invoke(
        cli, ["stats", str(tmp_path), "--num-classes", "2", "--ignore-index", "255"]
    )
    assert r.exit_code == 0, r.output
    assert "total" in r.output and "1 ignored" in r.output and "66.67%" in r.output
    r = CliRunner().invoke(
        cli,
        ["stats", str(tmp_path), "--num-classes", "2", "--ignore-index", "255", "--format", "csv"],
    )
    lines = r.output.splitlines()
    assert lines[0].startswith("id,name,pixels,share") and lines[2].startswith("1,1,2,")


def test_bad_input_exits_2_with_one_line_naming_the_file(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    out = run("stats", str(tmp_path), "--num-classes", "3")
    assert out.returncode == 2
    assert (
        out.stderr.count("\n") == 1 and "broken.png" in out.stderr and "Traceback" not in out.stderr
    )
    out = run("stats", str(tmp_path / "missing"), "--num-classes", "3")
    assert out.returncode == 2 and "no such file" in out.stderr
    out = run("stats", str(tmp_path), "--num-classes", "3", "--ignore-index", "1")
    assert out.returncode == 2 and "inside the class range" in out.stderr


def test_sample_flag_reports_sampling():
    out = run(
        "stats",
        str(EXAMPLES),
        "--num-classes",
        "19",
        "--ignore-index",
        "255",
        "--sample",
        "0.25",
        "--seed",
        "3",
    )
    assert out.returncode == 0 and "SAMPLED 10 of 40 (seed 3)" in " ".join(out.stdout.split())
