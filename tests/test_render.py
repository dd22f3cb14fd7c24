"""One `render(data, fmt)` for every command: dataset text is escaped in every format."""

from __future__ import annotations

import pytest

from classweights.report import render
from classweights.splits import compare_splits
from classweights.stats import ClassStats

NAME = "=HYPERLINK(x)|*b*\x1b[2J"


@pytest.fixture
def drift():
    a = ClassStats.from_counts([[10, 5]], class_names=["road", NAME])
    b = ClassStats.from_counts([[10, 0]], class_names=["road", NAME])
    return compare_splits(a, b, labels=("train", "val"))


def test_compare_splits_csv_shows_a_formula_as_text(drift, capsys):
    render(drift, "csv", kind="splits")
    row = capsys.readouterr().out.splitlines()[2]
    assert row.split(",")[1] == "'=HYPERLINK(x)|*b*\\x1b[2J"  # a spreadsheet shows text


def test_compare_splits_markdown_escapes_the_name(drift, capsys):
    render(drift, "markdown", kind="splits")
    out = capsys.readouterr().out
    row, line = out.splitlines()[3], out.splitlines()[-1]
    assert row.count(" | ") == 9  # the | in the name did not add a column
    assert "\x1b" not in out and "|*b*" not in out and "\\*b\\*" in row
    assert line.startswith("A = train") and "missing from val: " in line and "\\*b\\*" in line


def test_compare_splits_table_shows_control_characters(drift, capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    render(drift, "table", kind="splits")
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[2J" in out
