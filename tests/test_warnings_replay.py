"""Warnings raised while reading are facts of the data: they come back on every cache hit
(issue 30: float masks, an inferred class count and a void-label guess vanished on the second
run, which then looked clean). Stored with the entry (cache schema 4) and the weight record,
raised again once each by ``cached_scan``, a warm ``load_weights``, the CLI and ``cache show``."""

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


def _caught(call):
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in got if w.category.__module__.startswith("classweights")]


@pytest.fixture
def floats(tmp_path):
    """Whole-number float masks (a note each) whose largest label makes the class count."""
    folder = tmp_path / "floats"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"{i}.npy", np.full((4, 4), float(i), np.float32))
    return folder


@pytest.fixture
def void(tmp_path):
    """Labels 0..2 and 255 with no class count: 255 looks like the void label."""
    folder = tmp_path / "void"
    folder.mkdir()
    m = np.zeros((4, 4), np.uint8)
    m[0] = 2
    m[1] = 255
    Image.fromarray(m).save(folder / "a.png")
    return folder


def test_scan_warnings_come_back_on_every_hit(floats, tmp_path):
    cache = tmp_path / "cache"
    first = _caught(lambda: cw.cached_scan(floats, cache_dir=cache))
    assert any("inferred 3 from the largest label" in m for m in first), first
    assert any("float" in m for m in first), first
    again = _caught(lambda: cw.cached_scan(floats, cache_dir=cache))
    assert sorted(set(again)) == sorted(set(first))  # the same facts, from the entry
    assert len(again) == len(set(again))  # once each


def test_a_warm_load_weights_raises_the_scans_and_the_methods_warnings(void, tmp_path):
    cache = tmp_path / "cache"
    first = _caught(lambda: cw.load_weights(void, "inverse_freq", cache_dir=cache))
    assert any("255 looks like the void label" in m for m in first), first
    assert any("have no pixels" in m for m in first), first  # the weights' own warning
    warm = _caught(lambda: cw.load_weights(void, "inverse_freq", cache_dir=cache))
    assert sorted(set(warm)) == sorted(set(first))
    assert len(warm) == len(set(warm))


def test_the_cli_and_cache_show_say_them_again(void, tmp_path):
    env = dict(os.environ, CLASSWEIGHTS_CACHE=str(tmp_path / "cache"))

    def run(*args):
        r = subprocess.run(
            [sys.executable, "-m", "classweights.cli", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        return r

    first = run("stats", void, "--format", "json")
    second = run("stats", void, "--format", "json")
    assert "255 looks like the void label" in first.stderr
    assert second.stderr.count("255 looks like the void label") == 1
    key = json.loads(second.stdout)["dataset"]["fingerprint"]
    shown = run("cache", "show", key)
    assert "255 looks like the void label" in shown.stderr
    assert any("void label" in w["message"] for w in json.loads(shown.stdout)["warnings"])
