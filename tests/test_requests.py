"""Requests are valid from construction, and "not given" is not "equal to the default" (issue 29).

Each case failed before the redesign: a layout skipped validation (`.key()` then raised
TypeError), `WeightOptions(normalize="bogus")` computed silently, an explicit
``reduce_zero_label=False`` lost to the ade20k preset, options that do not apply to a method
were ignored, and the CLI accepted flags it never read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

import classweights as cw
from classweights import CacheOptions, ConfigError, MaskSource, ScanSettings, WeightSpec
from classweights.params import UNSET
from classweights.weights import WeightOptions


def _cli(*args, cache=None):
    env = dict(os.environ)
    if cache is not None:
        env["CLASSWEIGHTS_CACHE"] = str(cache)
    return subprocess.run(
        [sys.executable, "-m", "classweights.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layout": "voc", "ignore_index": "abc"}, "ignore_index='abc' is not valid"),
        ({"layout": "voc", "unknown": "bogus"}, "unknown='bogus' is not valid"),
        ({"layout": "voc", "sample": -3}, "sample=-3 is not valid"),
        ({"ignore_index": 2**70}, "ignore_index=1180591620717411303424 is not valid"),
        ({"workers": -3}, "workers=-3 is not valid"),
        ({"max_pixels": -1}, "max_pixels=-1 is not valid"),
        ({"objects": "diagonal"}, "objects='diagonal' is not valid"),
    ],
)
def test_scan_settings_validate_every_value_on_construction(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ScanSettings(**kwargs)


def test_given_is_not_equal_to_the_default():
    s = ScanSettings(reduce_zero_label=False, ignore_index=None)
    assert s.given == {"reduce_zero_label", "ignore_index"}
    layout = ScanSettings(layout="ade20k")
    assert layout.ignore_index is UNSET  # filled by the layout, once it is applied


def _ade_tree(tmp_path):
    folder = tmp_path / "ADEChallengeData2016" / "annotations" / "training"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    masks = [rng.integers(0, 4, (8, 8), dtype=np.uint8) for _ in range(3)]
    for i, m in enumerate(masks):
        Image.fromarray(m).save(folder / f"ADE_train_{i:08d}.png")
    return tmp_path / "ADEChallengeData2016", masks


def test_an_explicit_false_wins_over_the_layout(tmp_path):
    root, masks = _ade_tree(tmp_path)
    expected = np.bincount(np.concatenate([m.ravel() for m in masks]), minlength=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reduced = cw.scan(root, layout="ade20k", split="train")
        kept = cw.scan(
            root, layout="ade20k", split="train", reduce_zero_label=False, num_classes=4,
            classes=None, ignore_index=None,
        )  # fmt: skip
    assert reduced.ignored_pixels == expected[0]  # the preset: 0 -> ignore
    assert kept.pixels.tolist() == expected.tolist() and kept.ignored_pixels == 0
    r = _cli(
        "stats", root, "--layout", "ade20k", "--split", "train", "--no-reduce-zero-label",
        "--num-classes", 4, "--ignore-index", "none", "--format", "json", "--no-cache", "-q",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [c["pixels"] for c in data["classes"]] == expected.tolist()
    assert data["dataset"]["ignored_pixels"] == 0


def test_weight_options_are_validated_on_construction():
    with pytest.raises(ConfigError, match="normalize='bogus' is not valid"):
        WeightOptions(normalize="bogus")
    with pytest.raises(ConfigError, match="normalize='bogus' is not valid"):
        WeightSpec("sqrt_inv_freq", normalize="bogus")
    with pytest.raises(ConfigError, match="absent='never' is not valid"):
        WeightSpec("pos_weight", absent="never")


@pytest.mark.parametrize(
    ("method", "option"),
    [("pos_weight", {"normalize": "mean"}), ("pos_weight", {"clip": (0, 1)}),
     ("focal_alpha", {"absent": "zero"}), ("sqrt_inv_freq", {"beta": 0.9})],
)  # fmt: skip
def test_an_option_that_does_not_apply_is_refused_on_every_door(tmp_path, method, option):
    (name,) = option
    np.save(tmp_path / "m.npy", np.zeros((1, 2, 4, 4), np.uint8))
    kw = {"num_classes": 2, "multilabel": True, "cache_dir": tmp_path / "c"}
    with pytest.raises(ConfigError, match=f"{name}= does not apply to method='{method}'"):
        cw.load_weights(tmp_path / "m.npy", method=method, **kw, **option)
    value = ",".join(map(str, option[name])) if isinstance(option[name], tuple) else option[name]
    r = _cli(
        "compute", tmp_path / "m.npy", "--num-classes", 2, "--multilabel", "--method", method,
        f"--{name}", value, cache=tmp_path / "c",
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"error: --{name} does not apply to method='{method}'"), r.stderr


def test_cache_options_are_validated():
    with pytest.raises(ConfigError, match="lock_timeout=-5 is not valid"):
        CacheOptions(lock_timeout=-5)
    with pytest.raises(ConfigError, match="verify='yes' is not valid"):
        CacheOptions(verify="yes")


def test_a_mask_source_resolves_its_layout_once(tmp_path, monkeypatch):
    import classweights.layouts as layouts

    root, _ = _ade_tree(tmp_path)
    calls = []
    real = layouts.resolve
    monkeypatch.setattr(layouts, "resolve", lambda *a, **k: calls.append(1) or real(*a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        src = MaskSource.resolve(root, layout="ade20k", split="train")
        cw.pipeline.statistics(src, CacheOptions(folder=tmp_path / "c"))
        cw.load_weights(root, layout="ade20k", split="train", cache_dir=tmp_path / "c")
    assert len(calls) == 2  # once per request, never again below the door


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--connectivity", "face"], "--connectivity chooses the neighbours of --objects"),
        (["--workers", "0"], "--workers 0 is not valid: expected an int >= 1"),
        (["--ignore-index", str(2**70)], "--ignore-index 1180591620717411303424 is not valid"),
        (["--max-pixels", "-1"], "--max-pixels -1 is not valid: expected an int >= 1"),
        (["-o", "w.txt"], "-o w.txt: the suffix .txt names no weight format"),
    ],
)
def test_cli_numbers_and_suffixes_are_checked_before_any_file_is_read(tmp_path, args, message):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # reading it would fail
    r = _cli("compute", tmp_path, "--num-classes", 2, *args, cache=tmp_path / "c")
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_compare_warns_about_flags_it_never_read(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    r = _cli("compare", tmp_path, "--num-classes", 1, "--method", "enet", "--ci", "0.9",
             cache=tmp_path / "c")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "--method does nothing here" in r.stderr and "--ci does nothing here" in r.stderr
    assert "--method" not in _cli("compare", "--help").stdout  # hidden for the release


@pytest.mark.parametrize("command", ["stats", "compare", "report", "compare-splits"])
def test_sample_auto_is_refused_where_it_would_do_nothing(tmp_path, command):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    r = _cli(command, tmp_path, tmp_path, "--num-classes", 1, "--sample", "auto",
             cache=tmp_path / "c")  # fmt: skip
    assert r.returncode == 2 and "--sample auto works with `compute`" in r.stderr, r.stderr


def test_the_old_homes_of_cached_scan_and_load_weights_still_work_and_warn():
    import classweights
    import classweights.cache as cache

    for name in ("cached_scan", "load_weights"):
        with pytest.warns(DeprecationWarning, match=f"classweights.cache.{name} moved"):
            assert getattr(cache, name) is getattr(classweights, name)
