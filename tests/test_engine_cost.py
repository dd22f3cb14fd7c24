"""What was cut from the per-image cost of a scan stays exact: larger units of work for small
masks, one ``read`` call per file, and the per-unit collection with one ``bincount``."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import save_png
from naive import check_stats

import classweights as cw
from classweights.errors import MaskReadError
from classweights.scan import ScanSettings, plan
from classweights.sources import Entry, read_bytes


@pytest.fixture
def small_masks(tmp_path):
    rng = np.random.default_rng(3)
    masks = []
    for i in range(150):
        m = np.repeat(rng.integers(0, 12, (8, 4)), 4, axis=1).astype(np.uint8)
        m[0, 0] = 255
        masks.append(m)
        save_png(tmp_path / f"{i:03d}.png", m)
    return tmp_path, masks


def test_small_masks_go_many_to_a_unit(tmp_path):
    entries = [Entry("image", str(tmp_path / f"{i}.png")) for i in range(300)]
    per_unit = plan.unit_images(64 * 128)
    units, total, _ = plan.units(ScanSettings(workers=2), entries, per_unit)
    sizes = [sum(len(ix) for _, ix in u) for u in units]
    assert per_unit == 32 and sum(sizes) == total == 300
    assert max(sizes) == 32 and sizes[-8:] == [1] * 8  # the last 4 x workers one by one
    few = [sum(len(ix) for _, ix in u) for u in plan.units(ScanSettings(workers=2), entries[:40],
                                                           per_unit)[0]]  # fmt: skip
    assert max(few) == 5  # at least 4 units a worker: 40 // (4 * 2)


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("remap", [None, {1: 5, 5: 1, 2: 255, 7: 5}])
def test_results_do_not_depend_on_units_or_workers(small_masks, workers, remap):
    folder, masks = small_masks
    kw = {"num_classes": 12, "ignore_index": 255, "remap": remap}
    s = cw.scan(folder, workers=workers, **kw)
    check_stats(s, masks, **kw)
    assert s == cw.scan(folder, workers=1, **kw)


def test_collection_with_many_classes_is_exact(small_masks):
    """Above 4,096 classes a unit is collected with ``np.add.at``, not one ``bincount``."""
    folder, masks = small_masks
    kw = {"num_classes": 5000, "ignore_index": 9999, "remap": {3: 4321, 4: 4321, 255: 9999}}
    check_stats(cw.scan(folder, workers=2, **kw), masks, **kw)


def test_read_bytes_reads_whole_files_and_names_empty_ones(tmp_path):
    big = os.urandom(3 << 20)
    (tmp_path / "big.bin").write_bytes(big)
    (tmp_path / "small.bin").write_bytes(b"abc")
    assert read_bytes(str(tmp_path / "big.bin")) == big
    assert read_bytes(str(tmp_path / "small.bin")) == b"abc"
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(MaskReadError, match="empty.png: the file is empty"):
        read_bytes(str(tmp_path / "empty.png"))
    with pytest.raises(MaskReadError, match="missing.png: cannot read"):
        read_bytes(str(tmp_path / "missing.png"))


def test_a_file_whose_size_is_not_what_fstat_said_is_read_to_its_end(tmp_path):
    """Files in /proc report size 0; a file may also grow between fstat and read."""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("no procfs")
    data = read_bytes("/proc/self/status")
    assert data.startswith(b"Name:") and b"\nPid:" in data


def test_the_label_lookup_grows_to_16_bit_values_exactly(tmp_path):
    """The collector maps 8-bit values with a 256-entry table, grown the first time a larger
    value comes (a 16-bit mask after 8-bit ones, remapped or not)."""
    rng = np.random.default_rng(1)
    masks = [rng.integers(0, 12, (6, 8)).astype(np.uint8) for _ in range(6)]
    masks += [np.array([[300, 1000, 7], [65535, 3, 3]], np.uint16)] * 3
    masks += [rng.integers(0, 12, (6, 8)).astype(np.uint8) for _ in range(3)]
    for i, m in enumerate(masks):
        save_png(tmp_path / f"{i:02d}.png", m)
    kw = {"num_classes": 12, "ignore_index": 65535, "remap": {300: 11, 1000: 2}}
    for workers in (1, 2):
        check_stats(cw.scan(tmp_path, workers=workers, **kw), masks, **kw)
