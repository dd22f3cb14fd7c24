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
