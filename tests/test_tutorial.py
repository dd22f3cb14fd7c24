"""The README tutorial runs as written: every `$` command and the final Python snippet.

Commands run in a fresh folder holding a copy of `examples/`, with `classweights` replaced
by `python -m classweights.cli`; the output lines the tutorial shows must appear in what
the command printed (stdout and stderr).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tutorial_text():
    """The Tutorial section of README.md, or of the fragment before it is merged."""
    for path in (ROOT / "README.md", ROOT / "docs_fragments" / "outputs.md"):
        if path.exists():
            m = re.search(r"^## Tutorial\n(.*?)(?=^## |\Z)", path.read_text(), re.S | re.M)
            if m:
                return m.group(1)
    pytest.fail("no '## Tutorial' section in README.md or docs_fragments/outputs.md")


def blocks(text, lang):
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)


def steps(text):
    """(command, expected output lines) pairs from the ```console blocks."""
    out = []
    for block in blocks(text, "console"):
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append([line[2:], []])
            elif line.strip() and out:
                out[-1][1].append(line)
    return out


def squash(s):
    return " ".join(s.split())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tutorial")
    shutil.copytree(ROOT / "examples", d / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    return d


def test_tutorial_has_commands_and_ends_with_python():
    text = tutorial_text()
    cmds = [c for c, _ in steps(text)]
    assert len(cmds) >= 5 and all(c.startswith("classweights ") for c in cmds)
    assert "load_weights" in blocks(text, "python")[-1]


def test_tutorial_commands_run_and_print_what_it_shows(workdir):
    exe = f"{shlex.quote(sys.executable)} -m classweights.cli"
    env = {**os.environ, "COLUMNS": "100", "PYTHONPATH": str(ROOT)}
    for cmd, expected in steps(tutorial_text()):
        out = subprocess.run(re.sub(r"^classweights\b", exe, cmd), shell=True, cwd=workdir, env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert out.returncode == 0, f"{cmd}\n{out.stderr}"
        printed = squash(out.stdout + "\n" + out.stderr)
        for line in expected:
            assert squash(line) in printed, (
                f"{cmd}\nshown in the tutorial but not printed: {line!r}"
            )
    assert (workdir / "weights.pth").stat().st_size > 0
    assert (workdir / "weights.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "class_weight=[" in (workdir / "loss_decode.py").read_text()


def test_tutorial_python_trains_one_step(workdir):
    pytest.importorskip("torch")
    code = blocks(tutorial_text(), "python")[-1]
    out = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert out.returncode == 0, out.stderr
    m = re.fullmatch(r"loss (\S+), gradient norm (\S+)\n", out.stdout)
    assert m and float(m.group(1)) > 0 and float(m.group(2)) > 0, out.stdout


def _section(title):
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"no '## {title}' section in README.md"
    return text, m


def test_the_first_screen_shows_binary_and_colour_masks_and_runs(workdir):
    """Issue 30: the README's first screen shows the binary-mask and colour-mask commands,
    run here on the tiny masks shipped in examples/binary and examples/colour."""
    text, m = _section("The first command, by kind of mask")
    assert text[: m.start()].count("\n") < 20  # on the first screen
    cmds = steps(m.group(1))
    assert any("--binary" in c for c, _ in cmds) and any("--palette" in c for c, _ in cmds)
    exe = f"{shlex.quote(sys.executable)} -m classweights.cli"
    env = {**os.environ, "COLUMNS": "100", "PYTHONPATH": str(ROOT)}
    for cmd, expected in cmds:
        out = subprocess.run(re.sub(r"^classweights\b", exe, cmd), shell=True, cwd=workdir, env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert out.returncode == 0, f"{cmd}\n{out.stderr}"
        printed = squash(out.stdout + "\n" + out.stderr)
        for line in expected:
            assert squash(line) in printed, f"{cmd}\nshown but not printed: {line!r}"


def test_the_shipped_first_screen_numbers_are_right():
    """The counts the first screen shows, from the files themselves (NumPy, Pillow)."""
    import json

    import numpy as np
    from PIL import Image

    binary = [np.asarray(Image.open(p)) for p in sorted((ROOT / "examples/binary").glob("*.png"))]
    fg = sum(int((m == 255).sum()) for m in binary)
    assert {int(v) for m in binary for v in np.unique(m)} == {0, 255}
    assert (sum(m.size for m in binary) - fg, fg) == (66_607, 7_121)
    table = json.loads((ROOT / "examples/colour/classes.json").read_text())
    counts = np.zeros(5, np.int64)
    for p in sorted((ROOT / "examples/colour").glob("*.png")):
        rgb = np.asarray(Image.open(p).convert("RGB")).reshape(-1, 3)
        for colour, cls in table.items():
            counts[cls] += int((rgb == [int(colour[i : i + 2], 16) for i in (1, 3, 5)]).all(1).sum())
    assert counts[1] == 3_669 and counts[4] == 10_416
