"""The class-names file as docs/inputs.md documents it: one name per line in label order (blank
lines and # comments skipped), a JSON/YAML list, or a {label: name} mapping without gaps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import save_png

import classweights as cw


def test_the_documented_example_names_each_label(tmp_path):
    names = tmp_path / "bridge.txt"
    names.write_text("# bridge inspection, labels 0..3\nbackground\ncorrosion\n\n  # note\ncrack\n"
                     "spalling\n")  # fmt: skip
    save_png(tmp_path / "m.png", np.array([[0, 1, 2, 3, 255]], np.uint8))
    s = cw.scan(tmp_path / "m.png", classes=names, ignore_index=255)
    assert s.class_names == ["background", "corrosion", "crack", "spalling"]
    assert s.num_classes == 4 and s.pixels.tolist() == [1, 1, 1, 1]


def test_a_mapping_with_a_gap_is_refused_not_shifted(tmp_path):
    f = tmp_path / "names.json"
    f.write_text(json.dumps({"2": "crack", "0": "background", "1": "corrosion"}))
    assert cw.scan([np.zeros((2, 2), np.uint8)], classes=f).class_names[2] == "crack"
    f.write_text(json.dumps({"0": "background", "2": "crack"}))
    with pytest.raises(cw.ConfigError, match=r"maps labels 0\.\.2 but not 1: .*without gaps"):
        cw.scan([np.zeros((2, 2), np.uint8)], classes=f)
