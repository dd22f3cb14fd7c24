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
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MaskReadError
from .entries import ReadOptions, is_url
from .nrrd import NRRD_EXTS, is_nrrd_path
from .nrrd_data import read_nrrd

VOLUME_EXTS = (".nii", ".nii.gz", *NRRD_EXTS)


@dataclass(frozen=True, slots=True)
class Volume:
    """One decoded 3-D label volume and its voxel spacing in mm (``None`` when unknown).

    ``units_assumed``: the file gives a spacing but no unit for it (NIfTI ``xyzt_units`` 0, an
    NRRD without ``space units`` / ``units``), so the spacing is taken as mm, and reports say so.

    >>> Volume(np.zeros((2, 2, 2), np.uint8), spacing=(0.8, 0.8, 2.5)).spacing
    (0.8, 0.8, 2.5)
    """

    array: NDArray[Any]
    spacing: tuple[float, ...] | None = None
    units_assumed: bool = False
    #: NIfTI ``(scl_slope, scl_inter)`` for integer data: ``array`` holds the stored values,
    #: whose distinct values are scaled once (`classweights.sources.nifti.scaled_labels`)
    scale: tuple[Any, Any] | None = None
    #: the reader made ``array`` (counting may convert float labels in place)
    owned: bool = False


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
    from .nifti import read_nifti

    return read_nifti(path, opts, is_url(path))


def check_size(path: str, shape: tuple[int, ...], opts: ReadOptions) -> None:
    voxels = int(np.prod(shape, dtype=np.int64)) if shape else 0
    if voxels > opts.max_pixels:
        raise MaskReadError(
            f"{path}: declares {' x '.join(map(str, shape))} = {voxels:,} voxels, above the limit "
            f"of {opts.max_pixels:,}; raise it with --max-pixels if the file is genuine"
        )
    if voxels == 0:
        raise MaskReadError(f"{path}: the volume holds no voxels (shape {shape})")


def as_3d(
    path: str,
    a: NDArray[Any],
    spacing: Sequence[float | None] | None,
    assumed: bool,
    **more: Any,
) -> Volume:
    """The label volume as 3-D (a trailing axis of size 1 dropped, a 2-D slice given a third
    axis) with its spacing in mm: None unless the first three axes all have one."""
    shape = a.shape
    while a.ndim > 3 and a.shape[-1] == 1:  # NIfTI x, y, z, t=1 (or a trailing channel of 1)
        a = a[..., 0]
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise MaskReadError(
            f"{path}: a label volume must be 3-D, got shape {shape} (a 4-D time series or a "
            "multi-channel image is not a label map)"
        )
    sp = tuple(spacing[:3]) if spacing is not None else ()
    if len(sp) < 3 or any(s is None for s in sp):  # a 2-D slice, or an axis without spacing
        return Volume(a, **more)
    if not all(np.isfinite(s) and s > 0 for s in sp):
        raise MaskReadError(
            f"{path}: the header gives voxel spacing {sp}; expected positive sizes (re-save the "
            "file with its voxel size)"
        )
    return Volume(a, tuple(float(s) for s in sp), assumed, **more)


#: length units a header may declare, as ``(numerator, denominator)`` of a millimetre
_MM = {
    **dict.fromkeys(("m", "meter", "meters", "metre", "metres"), (1000, 1)),
    **dict.fromkeys(("cm", "centimeter", "centimeters", "centimetre", "centimetres"), (10, 1)),
    **dict.fromkeys(("mm", "millimeter", "millimeters", "millimetre", "millimetres"), (1, 1)),
    **dict.fromkeys(("um", "\u00b5m", "\u03bcm", "micron", "microns"), (1, 1000)),
    **dict.fromkeys(("micrometer", "micrometers", "micrometre", "micrometres"), (1, 1000)),
    **dict.fromkeys(("nm", "nanometer", "nanometers", "nanometre", "nanometres"), (1, 10**6)),
}


def to_mm(value: float, unit: str | None) -> float | None:
    """``value`` given in ``unit`` as millimetres, or None for a missing or unknown unit.

    >>> to_mm(0.5, "micron"), to_mm(0.8, "mm"), to_mm(0.001, "meter"), to_mm(1.0, "unknown")
    (0.0005, 0.8, 1.0, None)
    """
    factor = _MM.get(str(unit).strip().strip('"').lower()) if unit else None
    if factor is None:
        return None
    return value * factor[0] / factor[1]


def in_mm(values: Sequence[float | None], units: Sequence[Any]) -> tuple[list[float | None], bool]:
    """Spacings converted to mm by their declared units; ``(spacings, assumed)`` where assumed
    means at least one unit was missing or unknown and that value was taken as mm."""
    out: list[float | None] = []
    assumed = False
    for i, v in enumerate(values):
        mm = None if v is None else to_mm(v, units[i] if i < len(units) else None)
        assumed |= v is not None and mm is None
        out.append(v if mm is None else mm)
    return out, assumed


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
