"""3-D label volumes: NIfTI (``.nii``, ``.nii.gz``, nibabel) and NRRD (``.nrrd``, ``.nhdr``
with detached data; :mod:`.nrrd`).

A volume reads as a :class:`Volume`: the stored label array (axes in the file's order, e.g.
NIfTI's x, y, z) and the voxel spacing from the header (mm per axis). Discovery lists these
files as ordinary mask files; :func:`classweights.sources.read_entry` dispatches on the suffix
(:func:`is_volume_path`). Arrays are volumes only by rank: an ``N x D x H x W`` ``.npy`` / zarr
array holds N volumes (no spacing), a 3-D array stays a stack of 2-D masks (save a single
volume as ``1 x D x H x W``). Labels are checked (integer, or whole-number floats) by the
counting code, which names the file. One volume is decoded at a time per worker; the voxel
count declared by the header is checked against ``max_pixels`` before decoding.

Install with ``pip install classweights[medical]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import MaskReadError
from .entries import ReadOptions, is_url
from .nifti import read_nifti
from .nrrd import NRRD_EXTS, is_nrrd_path
from .nrrd_data import read_nrrd
from .voxels import Volume, as_3d, in_mm, to_mm

VOLUME_EXTS = (".nii", ".nii.gz", *NRRD_EXTS)


def is_volume_path(path: str) -> bool:
    """True for a NIfTI or NRRD file name.

    >>> is_volume_path("labelsTr/liver_001.nii.gz"), is_volume_path("a.png")
    (True, False)
    """
    return str(path).lower().endswith(VOLUME_EXTS)


def volume_ext(path: str) -> str | None:
    """The volume suffix of a file name (``.nii.gz``, ``.nii``, ``.nrrd``), or None.

    >>> volume_ext("labelsTr/liver_001.NII.GZ"), volume_ext("a.png")
    ('.nii.gz', None)
    """
    low = str(path).lower()
    return next((e for e in VOLUME_EXTS if low.endswith(e)), None)


def read_volume(path: str, opts: ReadOptions, data_files: Sequence[str] | None = None) -> Volume:
    """Decode one NIfTI / NRRD label volume (header checked against ``opts.max_pixels`` first).

    ``data_files``: a detached NRRD's data files as the dataset's listing found them.
    """
    if is_nrrd_path(path):
        return _read_nrrd(path, opts, data_files)
    return read_nifti(path, opts, is_url(path))


def _read_nrrd(path: str, opts: ReadOptions, data_files: Sequence[str] | None) -> Volume:
    if is_url(path):
        raise MaskReadError(f"{path}: NRRD files are read from local paths only; copy it locally")
    a, header = read_nrrd(path, opts.max_pixels, data_files)
    spacing, assumed = nrrd_spacing(header)
    return as_3d(path, a, spacing, assumed, owned=True)


def nrrd_spacing(header: dict[str, Any]) -> tuple[list[float | None] | None, bool]:
    """Per-axis spacing in mm of an NRRD header and whether its unit was assumed.

    From ``spacings`` (with the per-axis ``units``) or the lengths of ``space directions`` (in
    the ``space units`` of the world axes); an axis without one (NaN, ``none``) is None. No
    spacing at all gives None: the volume has no mm³, as an ``.npy`` volume.

    >>> nrrd_spacing({"spacings": [0.5, 0.5, 2.0], "units": ["um", "um", "um"]})
    ([0.0005, 0.0005, 0.002], False)
    >>> nrrd_spacing({"space directions": [[2.0, 0, 0], [0, 2.0, 0], [0, 0, 3.0]]})
    ([2.0, 2.0, 3.0], True)
    >>> nrrd_spacing({"sizes": [4, 4, 4]})
    (None, False)
    """
    if "spacings" in header:
        raw = [float(s) for s in header["spacings"]]
        return in_mm([s if np.isfinite(s) else None for s in raw], list(header.get("units") or []))
    dirs = header.get("space directions")
    if dirs is None:
        return None, False
    factors = [to_mm(1.0, u) for u in header.get("space units") or []]
    known = bool(factors) and all(f is not None for f in factors)
    out: list[float | None] = []
    assumed = False
    for d in dirs:
        v = np.asarray(d, dtype=np.float64).reshape(-1)
        if v.size == 0 or not np.isfinite(v).all():
            out.append(None)  # "none": not a space axis
            continue
        if known and len(factors) == v.size:
            v = v * np.asarray(factors, np.float64)
        else:
            assumed = True
        out.append(float(np.linalg.norm(v)))
    return out, assumed


def as_volume(mask: Any) -> Volume | None:
    """The :class:`Volume` inside a reader's item, or None for a 2-D mask."""
    return mask if isinstance(mask, Volume) else None
