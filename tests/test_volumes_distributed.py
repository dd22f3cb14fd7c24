"""Volumes and objects on a real Dask cluster, and sampled: exactly the local scan (issue 22).

A small nnU-Net-style dataset (four ``.nii.gz`` volumes with different spacings, built by
``tests/test_volumes.py``'s helper) is scanned locally, on an in-process ``LocalCluster`` (the
real scheduler, serialisation of the per-task tables and ``as_completed``), and with
``sample=2``. Object counts are checked against ``scipy.ndimage.label`` on the arrays written.
"""

import warnings

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("nibabel")
ndimage = pytest.importorskip("scipy.ndimage")

from test_volumes import SPACINGS, _nnunet  # noqa: E402

import classweights as cw  # noqa: E402

nib = pytest.importorskip("nibabel")

OPTS = {"num_classes": 3, "objects": True}


def _integer_volumes(tmp_path):
    """Like ``_nnunet`` but every volume stored as integers: no read note, so each Dask task
    returns its packed per-image table (the path that must carry spacing, shape and objects)."""
    root = tmp_path / "Dataset002_Int"
    (root / "labelsTr").mkdir(parents=True)
    rng = np.random.default_rng(11)
    vols = []
    for i, sp in enumerate(SPACINGS):
        a = rng.integers(0, 3, (4 + i, 5, 3 + i)).astype(np.int16 if i % 2 else np.uint8)
        nib.save(nib.Nifti1Image(a, np.diag([*sp, 1.0])), root / "labelsTr" / f"c{i}.nii.gz")
        vols.append(a)
    return root, vols


DATASETS = {"nnunet": _nnunet, "integer": _integer_volumes}


def _scan(root, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the float32 volume is read as integers, with a note
        return cw.scan(root / "labelsTr", **OPTS, **kw)


def _scipy_counts(vols, num_classes):
    full = np.ones((3, 3, 3), bool)  # 26-connectivity, the scan's "full"
    out = np.zeros((len(vols), num_classes), np.int64)
    for i, v in enumerate(vols):
        a = np.asarray(v).astype(np.int64)
        for c in range(num_classes):
            out[i, c] = ndimage.label(a == c, structure=full)[1]
    return out


@pytest.mark.parametrize("kind", list(DATASETS))
def test_dask_scan_of_volumes_equals_local_scan(tmp_path, inproc_client, kind):
    root, vols = DATASETS[kind](tmp_path)
    local = _scan(root)
    on_dask = _scan(root, client=inproc_client)
    assert on_dask == local  # counts, per-image table, spacing, shape, object counts and sizes
    assert on_dask.shape.tolist() == [list(v.shape) for v in vols]
    assert np.allclose(on_dask.spacing, SPACINGS)
    assert np.array_equal(on_dask.object_counts, _scipy_counts(vols, 3))
    assert np.array_equal(on_dask.object_sizes, local.object_sizes)
    assert np.allclose(on_dask.physical_volume, local.physical_volume, rtol=0, atol=0)


@pytest.mark.parametrize("kind", list(DATASETS))
def test_sampled_volume_scan_is_the_subset_of_the_full_scan(tmp_path, kind):
    root, vols = DATASETS[kind](tmp_path)
    full = _scan(root)
    part = _scan(root, sample=2, seed=3)
    assert part.sampled
    assert part.num_images == 2
    rows = [full.sources.index(s) for s in part.sources]
    sub = full.subset(rows)
    assert part == sub
    assert np.array_equal(part.object_counts, _scipy_counts([vols[i] for i in rows], 3))
    assert np.allclose(part.spacing, [SPACINGS[i] for i in rows])


def test_dask_scan_of_2d_objects_equals_local_scan(inproc_client):
    # 40 masks: several images per task, so components travel in the packed tables
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples" / "masks"
    opts = {"num_classes": 19, "ignore_index": 255, "objects": True}
    local = cw.scan(examples, **opts)
    assert cw.scan(examples, **opts, client=inproc_client) == local
    assert local.object_counts.sum() > 0
