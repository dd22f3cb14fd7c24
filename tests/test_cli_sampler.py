"""The `sampler` command on the bundled example masks: exports parse and align with the files."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import classweights as cw
from classweights.cli.sampler import sampler
from classweights.rebalance import exposure_summary, sampling_weights

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "masks"
BASE = [str(EXAMPLES), "--num-classes", "19", "--ignore-index", "255", "--no-cache", "-q"]


@pytest.fixture(scope="module")
def stats():
    return cw.scan(str(EXAMPLES), num_classes=19, ignore_index=255)


def invoke(*args):
    result = CliRunner().invoke(sampler, [*BASE, *args])
    assert result.exit_code == 0, result.output
    return result


def test_table_summary_on_stdout():
    out = invoke("--classes", "cityscapes", "--threshold", "0.1").stdout
    assert "repeat_factor: images containing each class" in out
    assert "epoch ≈ 40.0" in out
    assert "truck" in out
    assert "1.86" in out  # in 1 of 40 images: r = sqrt(0.1 / 0.025) = 2


def test_json_export_to_stdout_aligns_with_the_sorted_file_list(stats):
    data = json.loads(invoke("--threshold", "0.1", "--export", "json").stdout)
    files = sorted(str(p) for p in EXAMPLES.glob("*.png"))
    assert data["sources"] == stats.sources == files
    np.testing.assert_allclose(
        data["weights"], sampling_weights(stats, "repeat_factor", threshold=0.1)
    )
    assert data["method"] == "repeat_factor"
    assert data["options"] == {
        "threshold": 0.1,
        "frequency": "images",
    }
    assert data["summary"] == exposure_summary(stats, np.asarray(data["weights"]))


def test_csv_export_to_stdout(stats):
    out = invoke("--frequency", "pixels", "--threshold", "0.05", "--export", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["source"] for r in rows] == stats.sources
    assert [int(r["index"]) for r in rows] == list(range(40))
    expected = sampling_weights(stats, "repeat_factor", threshold=0.05, frequency="pixels")
    np.testing.assert_array_equal([float(r["weight"]) for r in rows], expected)  # repr round-trips


def test_npy_export_writes_weights_and_file_list(tmp_path, stats):
    out = tmp_path / "sw.npy"
    r = invoke("--method", "class_presence", "--weight-method", "inverse_freq", "--reduce", "max",
               "--export", "npy", "--output", str(out))  # fmt: skip
    assert "class_presence: images containing each class" in r.stdout
    sw = np.load(out)
    assert sw.dtype == np.float64
    assert sw.shape == (40,)
    np.testing.assert_array_equal(
        sw, sampling_weights(stats, "class_presence", reduce="max", weight_method="inverse_freq")
    )
    assert (tmp_path / "sw.files.txt").read_text().splitlines() == stats.sources
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sw.files.txt",
        "sw.npy",
    ]  # no temporaries left


def test_json_export_to_file_and_summary_formats(tmp_path, stats):
    out = tmp_path / "sw.json"
    r = invoke(
        "--draw",
        "repeat",
        "--threshold",
        "0.3",
        "--export",
        "json",
        "-o",
        str(out),
        "--format",
        "json",
    )
    data = json.loads(out.read_text())
    assert json.loads(r.stdout) == data
    r_i = sampling_weights(stats, threshold=0.3)
    assert data["summary"]["draw"] == "repeat"
    assert data["summary"]["epoch_length"] == pytest.approx(r_i.sum())
    rows = list(csv.DictReader(io.StringIO(invoke("--format", "csv").stdout)))
    assert len(rows) == 19
    assert set(rows[0]) == {
        "id",
        "name",
        "before",
        "after",
        "before_share",
        "after_share",
    }


def test_class_weight_options_reach_compute_weights(stats):
    args = ["--method", "class_presence", "--weight-method", "power", "--power", "0.8"]
    data = json.loads(invoke(*args, "--normalize", "max", "--export", "json").stdout)
    expected = sampling_weights(
        stats, "class_presence", weight_method="power", power=0.8, normalize="max"
    )
    np.testing.assert_allclose(data["weights"], expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--export", "npy"], "--output"),
        (["--sample", "5"], "--sample"),
        (["--threshold", "-1"], "threshold"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args, needle):
    r = CliRunner().invoke(sampler, [*BASE, *args])
    assert r.exit_code == 2
    assert needle in r.stderr
    assert r.stderr.count("\n") == 1


def test_registered_command_through_a_subprocess(tmp_path):
    from classweights.cli import cli

    if cli.get_command(None, "sampler") is None:
        pytest.skip("the lead registers `sampler` in classweights/cli/__init__.py")
    out = tmp_path / "sw.npy"
    cmd = [
        sys.executable,
        "-m",
        "classweights.cli",
        "sampler",
        *BASE,
        "--export",
        "npy",
        "-o",
        str(out),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert np.load(out).shape == (40,)


def test_sampler_markdown_summary_parses():
    from click.testing import CliRunner

    from classweights.cli import cli

    examples = Path(__file__).resolve().parents[1] / "examples" / "masks"
    out = CliRunner().invoke(cli, ["sampler", str(examples), "--num-classes", "19", "--ignore-index", "255",
                                   "--no-cache", "--format", "markdown"])  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = [ln for ln in out.output.splitlines() if ln.startswith("|")]
    assert rows[0].startswith("| id | class | before | after |") and len(rows) == 2 + 19
    cells = [r.strip("|").split("|") for r in rows[2:]]
    assert all(len(c) == 7 for c in cells) and cells[14][2].strip() == "1"
