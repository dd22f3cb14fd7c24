"""`compute` and `compare` from the command line, checked against independent formulas."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "masks"
BASE = [str(EXAMPLES), "--num-classes", "19", "--ignore-index", "255", "--classes", "cityscapes"]


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "classweights.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def example_pixels():
    counts = np.zeros(256, np.int64)
    for p in sorted(EXAMPLES.glob("*.png")):
        counts += np.bincount(np.asarray(Image.open(p)).ravel(), minlength=256)
    return counts[:19]


def test_compute_json_weights_match_the_formula():
    out = run("compute", *BASE, "--method", "sqrt_inv_freq", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    n = example_pixels()
    w = 1 / np.sqrt(n / n.sum())
    w = w / w.mean()
    np.testing.assert_allclose([c["weight"] for c in data["classes"]], w, rtol=1e-12)
    assert data["method"] == "sqrt_inv_freq"


def test_compute_inverse_freq_normalize_none_is_sklearn_balanced():
    out = run(
        "compute", *BASE, "--method", "inverse_freq", "--normalize", "none", "--format", "json"
    )
    n = example_pixels()
    w = n.sum() / (19 * n)  # sklearn's "balanced" when every class is present
    np.testing.assert_allclose(
        [c["weight"] for c in json.loads(out.stdout)["classes"]], w, rtol=1e-12
    )


def test_compute_table_has_weight_column_ci_and_diagnosis():
    out = run("compute", *BASE, "--sample", "20", "--ci", "0.9", "--seed", "1")
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "±" in out.stdout and "weight" in out.stdout and "SAMPLED 20 of 40" in text
    assert "imbalance: max/min pixels" in text


def test_compute_json_ci_bounds_bracket_weight():
    out = run("compute", *BASE, "--sample", "25", "--ci", "0.95", "--format", "json")
    data = json.loads(out.stdout)
    for c in data["classes"]:
        assert c["weight_low"] <= c["weight"] <= c["weight_high"]


def test_compare_shows_every_method_with_normalisation_in_header():
    out = run("compare", *BASE, "--normalize", "sum")
    assert out.returncode == 0, out.stderr
    assert "normalised: sum C" in out.stdout
    for short in ("inv", "sqrt", "eff.num", "median", "enet", "log", "power", "unif"):
        assert short in out.stdout
    data = json.loads(run("compare", *BASE, "--format", "json").stdout)
    assert set(data["methods"]) == {
        "inverse_freq",
        "sqrt_inv_freq",
        "effective_num",
        "median_freq",
        "enet",
        "log_count",
        "power",
        "uniform",
    }
    assert np.allclose(np.mean(data["methods"]["enet"]), 1.0)


def test_warnings_are_one_plain_line():
    out = run("compute", *BASE, "--sample", "5", "--method", "median_freq")
    assert out.returncode == 0
    for line in out.stderr.splitlines():
        assert line.startswith(("warning: ", "WARNING: ")), line


def rare_class_masks(folder, n=400, rare=(150, 291)):
    """``n`` 16 x 16 masks of classes 0..2; class 3 (20 pixels) only in the images ``rare``."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(n):
        m = np.zeros((16, 16), np.uint8)
        m[rng.integers(4, 8) :, :] = 1
        m[:, rng.integers(10, 14) :] = 2
        if i in rare:
            m[:4, :5] = 3
        Image.fromarray(m).save(folder / f"m{i:04d}.png")
    return folder


def test_compute_sample_auto_never_gives_an_unseen_class_a_weight(tmp_path):
    """Issue 28, item 11: the first round (100 of 400 masks) misses class 3's two masks."""
    data = rare_class_masks(tmp_path / "masks")
    args = ("compute", str(data), "--num-classes", "4", "--no-cache", "--format", "json")
    out = run(*args, "--sample", "auto", "--tolerance", "0.5")
    assert out.returncode == 0, out.stderr
    said = [line for line in out.stderr.splitlines() if "reading more" in line]
    assert said, out.stderr  # it said why it kept reading
    assert "class 3 " in said[0], out.stderr
    w = [c["weight"] for c in json.loads(out.stdout)["classes"]]
    full = json.loads(run(*args).stdout)
    truth = [c["weight"] for c in full["classes"]]
    assert np.argmax(truth) == 3
    assert w[3] > 0
    assert np.argmax(w) == 3


def test_compute_sample_auto_needs_declared_classes(tmp_path):
    data = rare_class_masks(tmp_path / "masks", n=30, rare=(7,))
    out = run("compute", str(data), "--no-cache", "--sample", "auto")
    assert out.returncode == 2, out.stderr
    assert "--num-classes" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_compute_fixed_sample_names_an_unseen_class_as_unseen(tmp_path):
    data = rare_class_masks(tmp_path / "masks")
    args = ("--num-classes", "4", "--no-cache", "--sample", "100", "--seed", "2")
    out = run("compute", str(data), *args)
    assert out.returncode == 0, out.stderr
    assert "no pixels in the 100 sampled images (of 400): 3;" in out.stderr, out.stderr
    text = " ".join(out.stdout.split())
    assert "have no pixel in the sample (3)" in text
    assert "never appear" not in text
