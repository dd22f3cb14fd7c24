"""Fuzzing the CLI with mutated inputs (issue 17): exact numbers or one line naming the file.

`fuzz_driver.py` runs in one child under the memory ceiling of `capped.py`; see its docstring
for the mutations and the independent decoders each outcome is checked against.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from capped import CEILING, cli, run_capped

DRIVER = Path(__file__).with_name("fuzz_driver.py")


@pytest.mark.parametrize("seed", [0, 1])
def test_mutated_inputs_give_exact_numbers_or_one_line_naming_the_file(tmp_path, seed):
    # 2 x (600 files: PNG grey/palette, TIFF, .npy, .npz, zarr + 100 remap tables)
    r = run_capped([sys.executable, DRIVER, tmp_path, 600, 100, seed])
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["failures"] == []
    assert summary["peak_rss"] < CEILING


def test_mutated_inputs_through_the_fused_png_decoder(tmp_path, monkeypatch):
    """The same, on the Numba back end, where PNG masks go through the fused decoder."""
    monkeypatch.setenv("CLASSWEIGHTS_JIT", "1")
    monkeypatch.delenv("CLASSWEIGHTS_PNG_DECODER", raising=False)
    r = run_capped([sys.executable, DRIVER, tmp_path, 600, 0, 2])
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["failures"] == []


def _npz_with_unsupported_compression(path: Path) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, masks=np.zeros((2, 4, 4), np.uint8))
    data = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.infolist()[0]
    # compression method field of the local header (offset 8) and of the central directory
    data[info.header_offset + 8] = 99
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 10] = 99
    path.write_bytes(bytes(data))


def test_npz_with_an_unknown_compression_method_is_a_read_error(tmp_path):
    f = tmp_path / "m.npz"
    _npz_with_unsupported_compression(f)
    r = cli("stats", f, "--num-classes", 3, "--no-cache")
    assert r.returncode == 2, r.stderr
    assert "m.npz" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_remap_refused_against_the_classes_names_its_file(tmp_path):
    np.save(tmp_path / "m.npy", np.zeros((1, 4, 4), np.uint8))
    table = tmp_path / "table.json"
    table.write_text('{"2": 9}')
    r = cli("stats", tmp_path / "m.npy", "--num-classes", 3, "--remap", table, "--no-cache")
    assert r.returncode == 2, r.stderr
    assert str(table) in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_damaged_tiff_tag_gives_one_line_not_pillows_warnings(tmp_path):
    from fuzz_driver import _tiff

    data = bytearray(_tiff(np.zeros((12, 16), np.uint8)))
    data[8 + 2 + 4 : 8 + 2 + 8] = (10**6).to_bytes(4, "little")  # width tag: count too large
    f = tmp_path / "m.tif"
    f.write_bytes(bytes(data))
    r = cli("stats", f, "--num-classes", 3, "--no-cache")
    assert r.returncode in (0, 2), r.stderr
    assert len(r.stderr.strip().splitlines()) <= 1, r.stderr
