"""Stacks read a block at a time, whatever their memory order (issue 28, item 16 and the same
kind): a Fortran-ordered ``.npz`` member was decompressed whole for every one of its images.
References: NumPy counts of the arrays written."""

from __future__ import annotations

import numpy as np
import pytest

import classweights as cw
from classweights.errors import MaskReadError


@pytest.mark.parametrize("shape", [(9, 13, 11), (4, 5, 6, 7), (300, 3, 2)])
@pytest.mark.parametrize("compressed", [False, True])
def test_fortran_ordered_npz_stacks_count_exactly(tmp_path, shape, compressed):
    stack = np.random.default_rng(3).integers(0, 5, shape).astype(np.uint16)
    f = tmp_path / "m.npz"
    (np.savez_compressed if compressed else np.savez)(f, masks=np.asfortranarray(stack))
    s = cw.scan(f, num_classes=5)
    ref = [np.bincount(m.ravel(), minlength=5).tolist() for m in stack]
    assert s.counts.tolist() == ref
    sampled = cw.scan(f, num_classes=5, sample=3, seed=1)
    rows = [int(src.rpartition("[")[2][:-1]) for src in sampled.sources]
    assert sampled.counts.tolist() == [ref[i] for i in rows]


def test_a_fortran_ordered_one_hot_npz_is_refused(tmp_path):
    labels = np.random.default_rng(0).integers(0, 4, (20, 30))
    onehot = (np.arange(4)[:, None, None] == labels[None]).astype(np.uint8)
    np.savez(tmp_path / "oh.npz", masks=np.asfortranarray(onehot))
    with pytest.raises(MaskReadError, match="every pixel is set in exactly one of its 4 slices"):
        cw.scan(tmp_path / "oh.npz", num_classes=2)


def test_a_fortran_member_is_read_in_few_passes(tmp_path, monkeypatch):
    """One pass over the stream per block of images, not one per image."""
    from classweights.sources import arrays

    stack = np.random.default_rng(1).integers(0, 3, (200, 8, 9)).astype(np.uint8)
    np.savez_compressed(tmp_path / "m.npz", masks=np.asfortranarray(stack))
    passes = []
    real = arrays.NpzMember._gather

    def counting(self, start, count):
        passes.append(count)
        return real(self, start, count)

    monkeypatch.setattr(arrays.NpzMember, "_gather", counting)
    s = cw.scan(tmp_path / "m.npz", num_classes=3, workers=1)
    assert s.counts.tolist() == [np.bincount(m.ravel(), minlength=3).tolist() for m in stack]
    assert len(passes) <= 4, passes
