"""Bad settings are one ConfigError at the start, before any file is listed or read."""

import sys

import numpy as np
import pytest
from robust_helpers import mask

import classweights as cw
import classweights.cache
import classweights.scan  # loaded on first use by `import classweights`; patched below
import classweights.sources.readers as readers


@pytest.fixture
def no_reads(monkeypatch, tmp_path):
    """A real folder whose files must never be opened: settings fail first."""
    from conftest import save_png

    save_png(tmp_path / "a.png", mask())

    def boom(*a, **k):
        raise AssertionError("a file was read before the settings were checked")

    monkeypatch.setattr(readers, "read_image", boom)
    monkeypatch.setattr(sys.modules["classweights.scan"], "discover", boom)

    monkeypatch.setattr(sys.modules["classweights.cache"], "discover", boom)
    return tmp_path


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 19, "ignore_index": 3},
         "ignore_index=3 lies inside the class range 0..18: the ignore label is never a class. "
         "Use a value outside it (e.g. 255), or remap that label"),
        ({"num_classes": 0}, "num_classes must be a whole number >= 1, got 0"),
        ({"num_classes": -4}, "num_classes must be a whole number >= 1, got -4"),
        ({"num_classes": 2.5}, "num_classes must be a whole number >= 1, got 2.5"),
        ({"num_classes": True}, "num_classes must be a whole number, got True"),
        ({"num_classes": 5, "ignore_index": "255"}, "ignore_index must be a whole number, got '255'"),
        ({"num_classes": 19, "remap": {"1": 0, "01": 2}},
         "the remap table is ambiguous: value 1 is sent to 0 (as '1') and to 2 (as '01'); keep "
         "one entry per value"),
        ({"num_classes": 19, "palette": [[128, 64, 128], [0, 0, 0], [128, 64, 128]]},
         "colour (128, 64, 128) appears twice in the colour table (labels 0 and 2); each colour "
         "must map to one label"),
    ],
)  # fmt: skip
def test_bad_settings_fail_before_any_scan(no_reads, kwargs, message):
    with pytest.raises(cw.ConfigError) as e:
        cw.scan(no_reads, **kwargs)
    assert str(e.value) == message


def test_colour_table_file_with_duplicate_colours(no_reads):
    pal = no_reads / "palette.json"
    pal.write_text('{"0": [1, 2, 3], "1": "#010203"}')
    with pytest.raises(cw.ConfigError, match=r"colour \(1, 2, 3\) appears twice"):
        cw.scan(no_reads, num_classes=2, palette=pal)


def test_remap_file_with_collisions(no_reads):
    table = no_reads / "remap.yaml"
    table.write_text("3: 1\n4: 1\n'03': 0\n")  # 3 -> 1 and 4 -> 1 merge (fine); 3 twice: not
    with pytest.raises(cw.ConfigError, match=r"ambiguous: value 3 is sent to 1 \(as 3\) and to 0"):
        cw.scan(no_reads, num_classes=2, remap=table)


def test_cached_paths_check_settings_first_too(no_reads):
    from classweights.cache import cached_scan

    with pytest.raises(cw.ConfigError, match="inside the class range"):
        cached_scan(no_reads, num_classes=19, ignore_index=0)


def test_valid_edge_settings_are_exact(tmp_path):
    from conftest import save_png

    m = np.array([[0, 0, 255]], np.uint8)
    save_png(tmp_path / "a.png", m)
    s = cw.scan(tmp_path, num_classes=1, ignore_index=255)  # one class is allowed
    assert s.pixels.tolist() == [2] and s.ignored_pixels == 1
