"""`--plot`: real PNG/SVG files with visible content, and clear errors."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from classweights.cli import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "masks"
BASE = [str(EXAMPLES), "--num-classes", "19", "--ignore-index", "255", "--classes", "cityscapes"]


def ink(png):
    """Fraction of non-white pixels and the RGB colours present (rounded) of a PNG."""
    from matplotlib.image import imread

    img = imread(png)[..., :3]
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 600
    inked = (img < 0.95).any(axis=-1).mean()
    colours = {tuple(c) for c in np.round(img.reshape(-1, 3) * 255).astype(int)[::7]}
    return inked, colours


def near(colours, hexcode, tol=3):
    target = np.array([int(hexcode[i : i + 2], 16) for i in (1, 3, 5)])
    return any(np.abs(np.array(c) - target).max() <= tol for c in colours)


@pytest.mark.parametrize("command", ["stats", "compute", "compare"])
def test_plot_png_has_the_panels(tmp_path, command):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"{command}.png"
    r = CliRunner().invoke(cli, [command, *BASE, "--plot", str(out), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert out.stat().st_size > 20_000
    inked, colours = ink(out)
    assert 0.05 < inked < 0.9, inked  # neither blank nor a solid block
    assert near(colours, "#4c72b0") and near(colours, "#55a868")  # share and images panels
    if command != "stats":
        assert near(colours, "#1f77b4")  # the weights panel (first method colour)


def test_plot_svg_names_classes_and_methods(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "methods.svg"
    r = CliRunner().invoke(cli, ["compare", *BASE, "--plot", str(out)])
    assert r.exit_code == 0, r.output
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    for text in (
        "17 motorcycle",
        "0 road",
        "sqrt inv freq",
        "median freq",
        "images containing the class",
    ):
        assert text in svg, text
    assert svg.count("<path") > 50  # bars drawn


def test_bad_suffix_is_refused_before_scanning(tmp_path):
    r = subprocess.run([sys.executable, "-m", "classweights.cli", "stats", str(tmp_path / "none"),
                        "--plot", str(tmp_path / "x.jpeg")], capture_output=True, text=True)  # fmt: skip
    assert (
        r.returncode == 2
        and r.stderr.count("\n") == 1
        and ".png" in r.stderr
        and "Traceback" not in r.stderr
    )


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    r = CliRunner().invoke(cli, ["stats", *BASE, "--plot", str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "pip install 'classweights[plot]'" in r.output
    assert not (tmp_path / "x.png").exists()


def test_import_stays_light():
    code = ("import sys, classweights, classweights.plot, classweights.export; "
            "print(sorted(m for m in ('matplotlib', 'torch', 'rich') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
