"""The CLI's outputs on the example masks stay byte for byte what `tests/golden/out/` holds.

Every command with output, in every format, runs as a real process (NO_COLOR, COLUMNS=100, a
fresh cache folder); volatile fields are masked (tests/golden/cases.py). After a deliberate
change of output, run ``PYTHONPATH=$PWD python tests/golden/regenerate.py`` and review the diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from cases import GOLDEN, cases, render_all


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    return render_all(tmp_path_factory.mktemp("golden"))


def test_every_case_has_a_golden_file():
    names = {name for name, _ in cases()}
    assert names == {p.name for p in GOLDEN.iterdir()}


@pytest.mark.parametrize("name", [name for name, _ in cases()])
def test_output_is_byte_identical(outputs, name):
    expected = (GOLDEN / name).read_text(encoding="utf-8")
    assert outputs[name] == expected, f"{name} changed; see tests/golden/regenerate.py"
