"""A new user's terminal: the CLI driven through a real tmux pane (80 x 40).

The progress bar renders (its img/s rate appears while masks are read), the table fits 80
columns, colours are on in the terminal and off when the output goes through a pipe, and no
bar runs in CI. Skipped, with the reason, where tmux is not installed.
"""

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(
    TMUX is None, reason="needs tmux for a real terminal (apt-get install tmux)"
)
CMD = "classweights stats big --num-classes 19 --ignore-index 255 --classes cityscapes --no-cache"


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """Run a shell line in a fresh 80x40 tmux pane; returns every capture taken until it ended."""
    from PIL import Image

    from classweights.synthetic import street_scene

    work = tmp_path_factory.mktemp("terminal")
    (work / "big").mkdir()
    rng = np.random.default_rng(0)
    sources = []
    for k in range(4):  # 4 distinct 512x1024 masks, hard-linked 800 times: enough for a visible bar
        sources.append(work / f"src{k}.png")
        Image.fromarray(street_scene(512, 1024, rng)).save(sources[-1])
    for i in range(800):
        os.link(sources[i % 4], work / "big" / f"scene_{i:04d}_labelTrainIds.png")
    bindir = work / "bin"
    bindir.mkdir()
    (bindir / "classweights").write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m classweights.cli "$@"\n'
    )
    (bindir / "classweights").chmod(0o755)
    socket = f"classweights-test-{os.getpid()}"
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
           "CLASSWEIGHTS_CACHE": str(work / "cache"), "HOME": str(work)}  # fmt: skip

    def run(line, name, timeout=120):
        script = work / f"{name}.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
        script.write_text(f"unset CI NO_COLOR FORCE_COLOR COLUMNS LINES\n{exports}cd {shlex.quote(str(work))}\n"
                          f"{line}\necho __DONE__ $?\nsleep 600\n")  # fmt: skip
        subprocess.run([TMUX, "-L", socket, "new-session", "-d", "-x", "80", "-y", "40", "-s", name,
                        f"sh {shlex.quote(str(script))}"], check=True)  # fmt: skip
        captures, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            shot = subprocess.run([TMUX, "-L", socket, "capture-pane", "-p", "-e", "-J", "-t", name],
                                  capture_output=True, text=True).stdout  # fmt: skip
            captures.append(shot)
            if "__DONE__" in shot:
                break
            time.sleep(0.05)
        subprocess.run([TMUX, "-L", socket, "kill-session", "-t", name], check=False)
        assert "__DONE__ 0" in captures[-1], captures[-1]
        return captures

    run.work = work
    yield run
    subprocess.run([TMUX, "-L", socket, "kill-server"], check=False, capture_output=True)


def strip_ansi(text):
    import re

    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_progress_bar_table_width_and_colours_in_a_terminal(term):
    captures = term(CMD, "tty")
    assert any("img/s" in strip_ansi(c) and "scanning" in strip_ansi(c) for c in captures[:-1]), (
        "no progress bar with its img/s rate was seen"
    )
    final = captures[-1]
    assert "\x1b[" in final  # colours (the share bars) in a terminal
    text = strip_ansi(final)
    assert "img/s" not in text  # the bar is transient: gone once the table is printed
    lines = text.splitlines()
    assert any("motorcycle" in ln for ln in lines) and any("800 images" in ln for ln in lines)
    assert max(len(ln.rstrip()) for ln in lines) <= 80, "\n".join(
        ln for ln in lines if len(ln.rstrip()) > 80
    )


def test_a_pipe_gets_plain_text_and_ci_gets_no_bar(term):
    captures = term(f"{CMD} | cat", "pipe")
    final = captures[-1]
    body = final[final.index("class statistics") : final.index("__DONE__")]
    assert "motorcycle" in body and "\x1b[" not in body  # no colour codes through a pipe
    captures = term(f"CI=true NO_COLOR=1 {CMD}", "ci")
    assert not any("img/s" in strip_ansi(c) for c in captures)  # no bar in CI
    final = captures[-1]
    assert "motorcycle" in final and "\x1b[" not in final[: final.index("__DONE__")]  # NO_COLOR


def test_json_in_a_terminal_is_one_object(term):
    import json

    term(f"{CMD} --format json > out.json", "json")
    data = json.loads((term.work / "out.json").read_text())  # the bar went to the terminal only
    assert data["dataset"]["images"] == 800 and len(data["classes"]) == 19
