"""Bad settings are one ConfigError at the start, before any file is listed or read."""

import sys

import numpy as np
import pytest
from robust_helpers import KW, mask

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
    monkeypatch.setattr(sys.modules["classweights.requests.source"], "discover", boom)
    return tmp_path


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 19, "ignore_index": 3},
         "ignore_index=3 lies inside the class range 0..18: the ignore label is never a class. "
         "Use a value outside it (e.g. 255), or remap that label"),
        ({"num_classes": 0}, "num_classes=0 is not valid: expected an int in [1, 65,536] or None"),
        ({"num_classes": -4}, "num_classes=-4 is not valid: expected an int in [1, 65,536] or None"),
        ({"num_classes": 2.5}, "num_classes=2.5 is not valid: expected an int in [1, 65,536] or None"),
        ({"num_classes": True}, "num_classes=True is not valid: expected an int in [1, 65,536] or None"),
        ({"num_classes": 5, "ignore_index": "255"}, "ignore_index='255' is not valid: expected a 64-bit int or None"),
        ({"num_classes": 5, "ignore_index": 2**70}, "ignore_index=1180591620717411303424 is not valid: expected a 64-bit int or None"),
        ({"workers": 0}, "workers=0 is not valid: expected an int >= 1 or None"),
        ({"max_pixels": -1}, "max_pixels=-1 is not valid: expected an int >= 1"),
        ({"seed": -1}, "seed=-1 is not valid: expected an int in [0, 2**63 - 1]"),
        ({"layout": "voc", "unknown": "bogus"}, "unknown='bogus' is not valid: expected one of 'error', 'ignore'"),
        ({"layout": "voc", "sample": -3}, "sample=-3 is not valid: expected an int >= 1, a number in (0.0, 1.0] or None"),
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
    from classweights import cached_scan

    with pytest.raises(cw.ConfigError, match="inside the class range"):
        cached_scan(no_reads, num_classes=19, ignore_index=0)


def test_valid_edge_settings_are_exact(tmp_path):
    from conftest import save_png

    m = np.array([[0, 0, 255]], np.uint8)
    save_png(tmp_path / "a.png", m)
    s = cw.scan(tmp_path, num_classes=1, ignore_index=255)  # one class is allowed
    assert s.pixels.tolist() == [2] and s.ignored_pixels == 1


# ---- one settings object: misspelt keywords fail first, naming the closest ----------------
@pytest.fixture
def no_listing(no_reads, monkeypatch):
    """As `no_reads`, and the cache's quick walk of the folder fails too."""
    import classweights.cache.fingerprint as fingerprint
    import classweights.layouts as layouts

    def boom(*a, **k):
        raise AssertionError("the folder was listed before the settings were checked")

    monkeypatch.setattr(fingerprint, "walk_masks", boom)
    monkeypatch.setattr(layouts, "resolve", boom)  # a layout lists the dataset's folder
    return no_reads


def _entry_points(folder):
    from classweights import cached_scan, load_weights

    cache = folder / "cache"
    return {
        "scan": lambda **kw: cw.scan(folder, **kw),
        "cached_scan": lambda **kw: cached_scan(folder, cache_dir=cache, **kw),
        "load_weights": lambda **kw: load_weights(folder, cache_dir=cache, **kw),
    }


@pytest.mark.parametrize("entry", ["scan", "cached_scan", "load_weights"])
def test_a_misspelt_keyword_fails_before_any_file_is_read(no_listing, entry):
    call = _entry_points(no_listing)[entry]
    with pytest.raises(cw.ConfigError, match=r"ignore_idx \(did you mean ignore_index\?\)"):
        call(num_classes=2, ignore_idx=255)
    with pytest.raises(cw.ConfigError, match=r"splt \(did you mean split\?\)"):
        call(layout="voc", splt="train")  # before the layout looks at the folder


def test_load_weights_names_the_closest_weight_option_and_checks_values_first(no_listing):
    call = _entry_points(no_listing)["load_weights"]
    with pytest.raises(cw.ConfigError, match=r"normalise \(did you mean normalize\?\)"):
        call(num_classes=2, normalise="sum")
    with pytest.raises(cw.ConfigError, match="normalize='avg' is not valid"):
        call(num_classes=2, normalize="avg")
    with pytest.raises(cw.ConfigError, match="inside the class range"):
        call(num_classes=2, ignore_index=1)


def test_settings_are_one_frozen_validated_object():
    import dataclasses

    from classweights import ScanSettings

    s = ScanSettings(num_classes=19, ignore_index=255, classes="cityscapes")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.num_classes = 3
    assert s.key()["num_classes"] == 19 and s.key()["on_error"] == "fail"
    assert s.replace(on_error="skip").key()["on_error"] == "skip"
    assert s.key()["on_error"] == "fail"  # replace made a new object
    with pytest.raises(cw.ConfigError, match="19 class names given but num_classes=3"):
        s.replace(num_classes=3)


def test_a_cold_load_weights_discovers_the_dataset_once(tmp_path, monkeypatch):
    """The listing made to look for a warm record is the one the scan reads."""
    import classweights.requests.source as source
    from classweights import load_weights
    from conftest import save_png

    (tmp_path / "d").mkdir()
    for i in range(3):
        save_png(tmp_path / "d" / f"{i}.png", mask(seed=i))
    calls = []
    real = source.discover

    def counted(*a, **k):
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(source, "discover", counted)
    w = load_weights(tmp_path / "d", "inverse_freq", cache_dir=tmp_path / "c", verify=True, **KW)
    assert len(calls) == 1
    counts = np.bincount(np.concatenate([mask(seed=i).ravel() for i in range(3)]), minlength=5)
    expected = counts.sum() / (5 * counts)
    np.testing.assert_allclose(w.numpy(), expected / expected.mean(), rtol=1e-6)
