"""Issue 20, small things: cache show by key prefix, -v says where the numbers came from, -vv
without zarr's codec lines, explain shows the stored glob and remap, the ETA is labelled."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
from click.testing import CliRunner
from conftest import save_png

import classweights as cw
from classweights.cache import Store
from classweights.cli import cli


def run(*args):
    return subprocess.run([sys.executable, "-m", "classweights.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def _data(tmp_path):
    d = tmp_path / "masks"
    (d / "sub").mkdir(parents=True)
    for i in range(3):
        save_png(d / "sub" / f"{i}_label.png", np.full((4, 5), i % 3, np.uint8))
    return d


def test_cache_show_takes_a_unique_key_prefix(tmp_path):
    d = _data(tmp_path)
    cw.load_weights(d, num_classes=3, cache_dir=tmp_path / "c")
    cw.load_weights(d, num_classes=4, cache_dir=tmp_path / "c")
    keys = sorted(e.key for e in Store(tmp_path / "c").entries())
    n = next(i for i in range(1, 40) if keys[0][:i] != keys[1][:i])
    r = CliRunner().invoke(cli, ["cache", "show", keys[0][:n], "--cache-dir", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["key"] == keys[0]
    common = keys[0][: n - 1]
    if common:
        r = CliRunner().invoke(cli, ["cache", "show", common, "--cache-dir", str(tmp_path / "c")])
        assert r.exit_code == 2 and "start of 2 cache keys" in r.output


def test_verbose_says_whether_the_cache_answered(tmp_path):
    d = _data(tmp_path)
    args = ["stats", d, "--num-classes", 3, "--cache-dir", tmp_path / "c", "-v"]
    first, second = run(*args), run(*args)
    assert "scanned 3 images; cached as" in first.stderr, first.stderr
    assert "read from the cache" in second.stderr and "no mask was read" in second.stderr


def test_debug_is_not_flooded_by_zarr_codec_registration(tmp_path):
    import zarr

    z = zarr.create_array(str(tmp_path / "m.zarr"), shape=(2, 4, 4), dtype="uint8")
    z[:] = 1
    out = run("-vv", "stats", tmp_path / "m.zarr", "--num-classes", 3, "--no-cache")
    assert out.returncode == 0, out.stderr
    assert "Registering codec" not in out.stderr


def test_explain_shows_the_stored_glob_and_remap(tmp_path):
    d = _data(tmp_path)
    cw.load_weights(d, glob="**/*_label.png", remap={"2": 1}, num_classes=2,
                    cache_dir=tmp_path / "c")  # fmt: skip
    key = Store(tmp_path / "c").entries()[0].key
    r = CliRunner().invoke(cli, ["explain", key[:8], "--cache-dir", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert "scan        glob='**/*_label.png', remap={2: 1} (1 entries)" in r.output


def test_progress_bar_labels_the_eta(monkeypatch):
    from rich.console import Console

    import classweights.report as report
    import classweights.report.console as terminal

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    monkeypatch.setattr(terminal, "make_console", lambda **_: console)
    with report.progress_bar(True) as update:
        update(3, 10)
    assert "ETA" in buf.getvalue()
