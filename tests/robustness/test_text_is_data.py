"""Text from a dataset is data, never markup (issue 17): class names, folder and file names,
cache folders and text stored in .pth records are shown as written by every renderer, and
control characters are shown as escapes instead of reaching the terminal.

Every test runs the real CLI in a child process on files written here. The expected text is
written out by hand (``EXPECTED``), never computed with the code under test.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings
from conftest import save_png
from robust_helpers import ROOT

NAMES = [
    "[bold red]road",
    "car [parked]",
    "x[/]y",
    "[link=https://e.vil]l[/link]",
    "esc\x1b[2J",
    "osc\x1b]8;;https://e.vil\x07x",
    "bel\x07cr\rz",
    "\u202eevil",
    "md|`c`<b>*e*</b>$x$",
    "=HYPERLINK(1)",
]
# what a person must see for each name, in a terminal table (by hand, not by the code)
EXPECTED = [
    "[bold red]road",
    "car [parked]",
    "x[/]y",
    "[link=https://e.vil]l[/link]",
    r"esc\x1b[2J",
    r"osc\x1b]8;;https://e.vil\x07x",
    r"bel\x07cr\rz",
    r"\u202eevil",
    "md|`c`<b>*e*</b>$x$",
    "=HYPERLINK(1)",
]
EXPECTED_MD = [
    r"\[bold red\]road",
    r"car \[parked\]",
    r"x\[/\]y",
    r"\[link=https://e.vil\]l\[/link\]",
    r"esc\\x1b\[2J",
    r"osc\\x1b\]8;;https://e.vil\\x07x",
    r"bel\\x07cr\\rz",
    r"\\u202eevil",
    r"md\|\`c\`\<b\>\*e\*\</b\>\$x\$",
    "=HYPERLINK(1)",
]
SGR = re.compile(r"\x1b\[[0-9;]*m")  # colour codes: the only escapes we may send ourselves
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # anything but \n


def cli(*args, cwd=None, color=False):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "400", "NO_COLOR": ""}
    env.pop("CLASSWEIGHTS_DEBUG", None)
    argv = [sys.executable, "-m", "classweights.cli", *(["--color"] if color else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def assert_inert(text):
    """Nothing in ``text`` that a terminal would act on, except our own colour codes, and none
    of those is the red a name asked for."""
    codes = SGR.findall(text)
    assert not any(re.search(r"[\[;]31[;m]", c) for c in codes), codes
    bare = SGR.sub("", text)
    assert not RAW.search(bare), repr(RAW.search(bare).group())
    assert "\x1b]8" not in text  # no hyperlink


@pytest.fixture
def dataset(tmp_path):
    """One mask where class c has c + 1 pixels, and a JSON file of hostile class names."""
    masks = tmp_path / "masks"
    masks.mkdir()
    labels = np.repeat(np.arange(10), np.arange(1, 11)).astype(np.uint8).reshape(5, 11)
    save_png(masks / "a.png", labels)
    names = tmp_path / "names.json"
    names.write_text(json.dumps(NAMES))
    return [str(masks), "--num-classes", "10", "--classes", str(names), "--no-cache", "-q"]


def rows_by_id(text):
    """The class rows of a rich table (colour codes removed), keyed by id."""
    out = {}
    for line in SGR.sub("", text).splitlines():
        m = re.match(r"^\s*(\d+)\s{1,2}(.*?)\s{2,}", line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


@pytest.mark.parametrize("color", [False, True])
def test_stats_table_shows_names_as_written(dataset, color):
    r = cli("stats", *dataset, color=color)
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout + r.stderr)
    rows = rows_by_id(r.stdout)
    assert [rows[c] for c in range(10)] == EXPECTED
    for c, expected in enumerate(EXPECTED):  # and the counts beside them are right
        line = next(ln for ln in SGR.sub("", r.stdout).splitlines() if expected in ln)
        assert re.search(rf"{re.escape(expected)}\s+{c + 1}\s", line), line


def test_compare_table_does_not_crash_on_markup(dataset):
    r = cli("compare", *dataset, color=True)
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout + r.stderr)
    rows = rows_by_id(r.stdout)
    assert [rows[c] for c in range(3)] == EXPECTED[:3]  # the class column is 14 wide


def test_markdown_escapes_tables_html_and_controls(dataset):
    r = cli("stats", *dataset, "--format", "markdown")
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("|")]
    cells = [re.split(r"(?<!\\)\|", ln)[1:-1] for ln in lines]
    assert all(len(c) == 5 for c in cells)  # no name added a column
    assert [c[1].strip() for c in cells[2:12]] == EXPECTED_MD
    assert "<b>" not in r.stdout and "`c`" not in r.stdout
    c = cli("compare", *dataset, "--format", "markdown")
    assert c.returncode == 0 and f"| 8 | {EXPECTED_MD[8]} |" in c.stdout


def test_csv_shows_controls_and_defuses_formulas(dataset):
    r = cli("stats", *dataset, "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["name"] for row in rows] == [*EXPECTED[:9], "'=HYPERLINK(1)"]
    assert [int(row["pixels"]) for row in rows] == list(range(1, 11))
    c = cli("compare", *dataset, "--format", "csv")
    assert [row["name"] for row in csv.DictReader(io.StringIO(c.stdout))][9] == "'=HYPERLINK(1)"


def test_json_is_safe_by_construction_and_exact(dataset):
    r = cli("stats", *dataset, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert r.stdout.isascii() and not RAW.search(r.stdout)  # every control char is \uXXXX
    assert [c["name"] for c in json.loads(r.stdout)["classes"]] == NAMES  # the data, unchanged


def test_snippet_comment_cannot_end_early(dataset):
    r = cli("compute", *dataset, "--method", "uniform", "--export", "keras")
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout)
    scope: dict = {}
    exec(compile(ast.parse(r.stdout), "snippet", "exec"), scope)  # a '\r' would end the comment
    assert scope["CLASS_WEIGHTS"].tolist() == [1.0] * 10  # the keras sample_weight recipe
    assert r"    1.0,  # bel\x07cr\rz" in r.stdout.splitlines()


@pytest.fixture
def hostile_record(tmp_path):
    """A .pth record in a folder called ``a[/]b`` whose stored text is hostile."""
    torch = pytest.importorskip("torch")
    folder = tmp_path / "a[" / "]b"
    folder.mkdir(parents=True)
    path = folder / "w.pth"
    from classweights.records import record_checksum

    record = {"weights": torch.tensor([0.5, 2.0]), "method": "inverse_freq[/]\x1b[2J",
              "options": {"normalize": "[bold red]mean\x07"},
              "class_names": ["[/]sky", "car\x1b]8;;https://e.vil\x07"]}  # fmt: skip
    record["checksum"] = record_checksum(record)  # a sealed record: hostile text, valid file
    torch.save(record, path)
    return path


def test_show_record_table_and_markdown(hostile_record):
    r = cli("show", str(hostile_record), color=True)
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout + r.stderr)
    text = SGR.sub("", r.stdout)
    title = f"{hostile_record}: inverse_freq[/]\\x1b[2J"  # rich wraps it to the table width
    assert "".join(title.split()) in "".join(text.split())
    assert rows_by_id(r.stdout) == {0: "[/]sky", 1: r"car\x1b]8;;https://e.vil\x07"}
    assert r"normalize=[bold red]mean\x07" in text
    m = cli("show", str(hostile_record), "--format", "markdown")
    assert m.returncode == 0, m.stderr
    assert_inert(m.stdout)
    assert r"| 1 | car\\x1b\]8;;https://e.vil\\x07 | 2.0000 |" in m.stdout
    assert r"method: inverse_freq\[/\]\\x1b\[2J · normalize=\[bold red\]mean\\x07" in m.stdout


def test_explain_shows_stored_text(hostile_record):
    r = cli("explain", str(hostile_record))
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout + r.stderr)
    assert r"inverse_freq[/]\x1b[2J" in r.stdout and "[/]sky" in r.stdout


def test_cache_list_with_markup_in_folder_names(tmp_path):
    data = tmp_path / "ds[" / "]x\x1b[2J"
    data.mkdir(parents=True)
    save_png(data / "a.png", np.zeros((4, 4), np.uint8))
    cache = tmp_path / "m[" / "]x"
    r = cli("stats", str(data), "--num-classes", "2", "--cache-dir", str(cache), "-q")
    assert r.returncode == 0, r.stderr
    listed = cli("cache", "list", "--cache-dir", str(cache), color=True)
    assert listed.returncode == 0, listed.stderr
    assert_inert(listed.stdout + listed.stderr)
    text = SGR.sub("", listed.stdout)
    assert f"cache: {tmp_path}/m[/]x" in text
    assert f"{tmp_path}/ds[/]x\\x1b[2J" in text
    md = cli("cache", "list", "--cache-dir", str(cache), "--format", "markdown")
    assert md.returncode == 0 and rf"| {tmp_path}/ds\[/\]x\\x1b\[2J | 1 | full |" in md.stdout


def test_error_and_skip_lines_show_controls(tmp_path):
    data = tmp_path / "m[" / "]x"
    data.mkdir(parents=True)
    save_png(data / "good.png", np.zeros((4, 4), np.uint8))
    (data / "bad\x1b[2J\u202e.png").write_bytes(b"not a png")
    r = cli("stats", str(data), "--num-classes", "2", "--no-cache", "-q")
    assert r.returncode == 2
    assert_inert(r.stderr)
    assert len(r.stderr.splitlines()) == 1 and r"m[/]x/bad\x1b[2J\u202e.png" in r.stderr
    s = cli("stats", str(data), "--num-classes", "2", "--no-cache", "--on-error", "skip")
    assert s.returncode == 0, s.stderr
    assert_inert(s.stderr)
    shown = f"skipped: {tmp_path}/m[/]x/bad\\x1b[2J\\u202e.png: not a PNG"
    assert any(line.startswith(shown) for line in s.stderr.splitlines()), s.stderr


def test_plot_draws_names_as_written(dataset, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "classes.svg"
    r = cli("stats", *dataset, "--plot", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    root = ET.parse(out).getroot()  # valid XML: no raw control characters in it
    texts = {"".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert "8 md|`c`<b>*e*</b>$x$" in texts  # $...$ drawn as written, not as mathtext
    assert r"4 esc\x1b[2J" in texts and r"7 \u202eevil" in texts


def test_sampler_summary_shows_names_as_written(dataset):
    r = cli("sampler", *dataset, color=True)
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout + r.stderr)
    assert [rows_by_id(r.stdout)[c] for c in range(10)] == EXPECTED
    m = cli("sampler", *dataset, "--format", "markdown")
    assert m.returncode == 0, m.stderr
    assert [ln.split(" | ")[1] for ln in m.stdout.splitlines()[2:12]] == EXPECTED_MD


def test_warning_lines_show_controls(tmp_path):
    data = tmp_path / "d\x1b]8;;e.vil\x07[" / "]"
    data.mkdir(parents=True)
    save_png(data / "a.png", np.zeros((4, 4), np.uint8))
    r = cli("stats", str(data), str(data / "a.png"), "--num-classes", "2", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert_inert(r.stderr)
    warning = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: ")]
    assert len(warning) == 1 and f"first: {tmp_path}/d\\x1b]8;;e.vil\\x07[/]/a.png" in warning[0]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=40))
def test_escaped_text_holds_nothing_to_act_on(s):
    """Checked against Unicode's own categories, not against the code's tables."""
    from classweights.text import markdown_escape, visible

    out = visible(s)
    for ch in out:
        cat = unicodedata.category(ch)
        assert cat not in ("Cc", "Cs", "Zl", "Zp") and (cat != "Cf" or ch in "\u200c\u200d"), ch
    if s.isprintable():
        assert out == s  # ordinary names are left exactly as they are
    bare = re.sub(r"\\.", "", markdown_escape(s))  # drop every backslash-escaped character
    assert not set(bare) & set("\\`*[]<>|~&$@")
