"""What users see: Markdown/JSON/CSV on stdout, diagnostics on stderr, help that ends with
examples that run, one-line errors with exit codes, colours only on a terminal."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from classweights.cli import cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "masks"
BASE = [str(EXAMPLES), "--num-classes", "19", "--ignore-index", "255", "--classes", "cityscapes"]
ANSI = re.compile(r"\x1b\[")


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "classweights.cli", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})  # fmt: skip


def parse_markdown(text):
    """A small GitHub-table parser: (header, alignment row, rows, text after the table)."""
    lines = text.splitlines()
    table = [ln for ln in lines if ln.startswith("|")]
    assert lines[: len(table)] == table, "the table comes first"
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in table]
    header, align, rows = cells[0], cells[1], cells[2:]
    assert all(re.fullmatch(r":?-{3,}:?", a) for a in align) and len(align) == len(header)
    assert all(len(r) == len(header) for r in rows)
    return header, align, rows, "\n".join(lines[len(table) :]).strip()


def number(cell):
    return float(cell.replace(",", "").rstrip("%"))


def test_stats_markdown_is_a_github_table_with_totals():
    data = json.loads(run("stats", *BASE, "--format", "json").stdout)
    out = run("stats", *BASE, "--format", "markdown")
    assert out.returncode == 0 and not ANSI.search(out.stdout)
    header, align, rows, after = parse_markdown(out.stdout)
    assert header == ["id", "class", "pixels", "share", "images"]
    assert align[0] == "---:" and align[1] == ":---"
    *classes, total = rows
    assert [r[1] for r in classes] == [c["name"] for c in data["classes"]]
    assert [number(r[2]) for r in classes] == [c["pixels"] for c in data["classes"]]
    assert [int(number(r[4])) for r in classes] == [c["images"] for c in data["classes"]]
    np.testing.assert_allclose(
        [number(r[3]) for r in classes], [100 * c["share"] for c in data["classes"]], atol=0.006
    )
    assert total[1] == "**total**" and number(total[2]) == sum(c["pixels"] for c in data["classes"])
    assert after == "40 images · 5,242,880 pixels · 358,406 ignored · 0 unknown"


def test_compute_and_compare_markdown_carry_weights():
    out = run(
        "compute", *BASE, "--format", "markdown", "--method", "inverse_freq", "--normalize", "none"
    )
    header, _, rows, _ = parse_markdown(out.stdout)
    assert header[-1] == "weight" and rows[-1][-1] == "inverse_freq"
    pixels = np.array([number(r[2]) for r in rows[:-1]])
    np.testing.assert_allclose(
        [number(r[-1]) for r in rows[:-1]], pixels.sum() / (19 * pixels), rtol=1e-3
    )  # sklearn "balanced"
    out = run("compare", *BASE, "--format", "markdown")
    header, _, rows, after = parse_markdown(out.stdout)
    assert header[:3] == ["id", "class", "share"] and "sqrt_inv_freq" in header and len(rows) == 19
    assert "normalised: mean 1" in after


def test_markdown_escapes_pipes_in_names():
    from classweights.report import markdown_table

    _, _, rows, _ = parse_markdown(markdown_table(["id", "class"], [[0, "a|b"]], [True, False]))
    assert rows == [["0", "a\\|b"]]


def test_json_is_one_object_even_with_logging_and_warnings():
    out = run(
        "-v",
        "compute",
        *BASE,
        "--format",
        "json",
        "--sample",
        "5",
        "--method",
        "median_freq",
        "-vv",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # nothing but the object on stdout
    assert data["method"] == "median_freq" and data["dataset"]["sampled"] is True
    assert out.stderr  # the diagnostics went to stderr
    out = run("compare", *BASE, "--format", "json")
    assert set(json.loads(out.stdout)["methods"]) >= {"inverse_freq", "sqrt_inv_freq"}


def test_csv_everywhere():
    for cmd in ("stats", "compute", "compare"):
        out = run(cmd, *BASE, "--format", "csv")
        lines = out.stdout.splitlines()
        assert out.returncode == 0 and len(lines) == 20 and lines[0].startswith("id,name,"), cmd
        assert lines[18].startswith("17,motorcycle,")


def test_no_ansi_in_a_pipe_and_colour_switches():
    out = run("compute", *BASE)
    assert out.returncode == 0 and "motorcycle" in out.stdout
    assert not ANSI.search(out.stdout) and not ANSI.search(out.stderr)
    forced = run("--color", "stats", *BASE)
    assert ANSI.search(forced.stdout)  # proves the check above can fail
    assert not ANSI.search(run("--color", "--no-color", "stats", *BASE).stdout)
    assert not ANSI.search(run("stats", *BASE, env={"NO_COLOR": "1", "FORCE_COLOR": ""}).stdout)


def test_quiet_leaves_stderr_empty():
    out = run("compute", *BASE, "--sample", "5", "--method", "median_freq", "--quiet")
    assert out.returncode == 0 and out.stderr == ""


def all_commands(group=cli, path=("classweights",)):
    for name, cmd in group.commands.items():
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, (*path, name))


def help_examples(args):
    r = CliRunner().invoke(cli, [*args, "--help"], terminal_width=200)
    assert r.exit_code == 0
    tail = r.output.rstrip().split("\n\n")[-1].splitlines()
    assert tail[0].strip() == "Examples:", f"{' '.join(args)} --help does not end with examples"
    return [ln.strip() for ln in tail[1:]]


def test_every_help_ends_with_two_or_three_examples():
    for path, _ in [(("classweights",), cli), *all_commands()]:
        examples = help_examples(path[1:])
        assert 2 <= len(examples) <= 3, (path, examples)
        assert all("classweights " in e for e in examples), (path, examples)


def test_help_examples_of_stats_compute_compare_run(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    shutil.copytree(ROOT / "examples" / "masks", tmp_path / "examples" / "masks")
    monkeypatch.chdir(tmp_path)
    for cmd in ("", "stats", "compute", "compare"):
        for example in help_examples([cmd] if cmd else []):
            args = shlex.split(example)[1:]
            r = CliRunner().invoke(cli, args)
            assert r.exit_code == 0, (example, r.output)


def test_version_and_completion():
    from classweights import __version__

    assert run("--version").stdout.strip() == f"classweights, version {__version__}"
    for shell, marker in (
        ("bash", "complete -o"),
        ("zsh", "compdef"),
        ("fish", "complete --no-files"),
    ):
        out = run(env={"_CLASSWEIGHTS_COMPLETE": f"{shell}_source"})
        assert out.returncode == 0 and marker in out.stdout, shell


def test_user_errors_are_one_line_with_exit_2(tmp_path):
    cases = [
        ("stats", str(EXAMPLES), "--bogus"),
        ("compute", *BASE, "--method", "nope"),
        ("compute", *BASE, "--export", "npy"),
        ("stats", str(tmp_path / "missing"), "--num-classes", "3"),
        ("stats", *BASE, "--plot", "x.gif"),
        ("show", str(EXAMPLES / "scene_0000_labelTrainIds.png")),
    ]
    for args in cases:
        out = run(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, (args, out.stderr)
        assert out.stdout == "", args


def test_debug_env_shows_the_traceback(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    out = run("stats", str(tmp_path), "--num-classes", "3", "--no-cache")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    out = run(
        "stats", str(tmp_path), "--num-classes", "3", "--no-cache", env={"CLASSWEIGHTS_DEBUG": "1"}
    )
    assert out.returncode != 0 and "Traceback" in out.stderr and "broken.png" in out.stderr


def test_cache_list_and_show_markdown(tmp_path):
    pytest.importorskip("torch")
    cache = ["--cache-dir", str(tmp_path / "c")]
    r = CliRunner().invoke(cli, ["compute", *BASE, *cache, "-o", str(tmp_path / "w.pth"), "-q"])
    assert r.exit_code == 0, r.output
    header, _, rows, _ = parse_markdown(
        CliRunner().invoke(cli, ["cache", "list", *cache, "--format", "markdown"]).stdout
    )
    assert header[0] == "key" and len(rows) == 1 and rows[0][2] == "40"
    header, _, rows, after = parse_markdown(
        CliRunner().invoke(cli, ["show", str(tmp_path / "w.pth"), "--format", "markdown"]).stdout
    )
    assert header == ["id", "class", "pixels", "weight"] and rows[17][1] == "motorcycle"
    assert after.startswith("method: sqrt_inv_freq")
