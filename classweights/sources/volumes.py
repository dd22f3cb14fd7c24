"""3-D label volumes: NIfTI (``.nii``, ``.nii.gz``, nibabel) and NRRD (``.nrrd``, pynrrd).

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

import gzip
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MaskReadError, require
from .entries import ReadOptions, is_url, url_fs

VOLUME_EXTS = (".nii", ".nii.gz", ".nrrd")


@dataclass(frozen=True, slots=True)
class Volume:
    """One decoded 3-D label volume and its voxel spacing (``None`` when unknown)."""

    array: NDArray[Any]
    spacing: tuple[float, ...] | None = None


def is_volume_path(path: str) -> bool:
    """True for a NIfTI or NRRD file name.

    >>> is_volume_path("labelsTr/liver_001.nii.gz"), is_volume_path("a.png")
    (True, False)
    """
    return str(path).lower().endswith(VOLUME_EXTS)


def read_volume(path: str, opts: ReadOptions) -> Volume:
    """Decode one NIfTI / NRRD label volume (header checked against ``opts.max_pixels`` first)."""
    if str(path).lower().endswith(".nrrd"):
        return _read_nrrd(path, opts)
    return _read_nifti(path, opts)


def _check_size(path: str, shape: tuple[int, ...], opts: ReadOptions) -> None:
    voxels = int(np.prod(shape, dtype=np.int64)) if shape else 0
    if voxels > opts.max_pixels:
        raise MaskReadError(
            f"{path}: declares {' x '.join(map(str, shape))} = {voxels:,} voxels, above the limit "
            f"of {opts.max_pixels:,}; raise it with --max-pixels if the file is genuine"
        )
    if voxels == 0:
        raise MaskReadError(f"{path}: the volume holds no voxels (shape {shape})")


def _as_3d(path: str, a: NDArray[Any], spacing: tuple[float, ...]) -> Volume:
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
    # headers store float32: keep its shortest decimal (0.8, not 0.800000011920929)
    sp = tuple(float(str(np.float32(s))) for s in spacing[:3]) + (1.0,) * (3 - len(spacing[:3]))
    if not all(np.isfinite(s) and s > 0 for s in sp):
        raise MaskReadError(f"{path}: the header gives voxel spacing {sp}; expected positive sizes")
    return Volume(a, sp)


def _read_nifti(path: str, opts: ReadOptions) -> Volume:
    nib = require("nibabel", "medical", f"reading {path}")
    try:
        if is_url(path):
            fs, p = url_fs(path)
            data = fs.cat_file(p)
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            img = nib.Nifti1Image.from_bytes(data)
        else:
            img = nib.load(path)
    except Exception as e:
        why = f"{type(e).__name__}: {e}"
        raise MaskReadError(f"{path}: cannot read the NIfTI header ({why})") from None
    shape = tuple(int(s) for s in img.shape)
    _check_size(path, shape, opts)
    try:
        a = np.asanyarray(img.dataobj)  # stored dtype, or float when scl_slope/inter are set
    except Exception as e:  # truncated or corrupt gzip stream
        raise MaskReadError(f"{path}: cannot decode the voxels ({type(e).__name__}: {e})") from None
    return _as_3d(path, np.asarray(a), tuple(img.header.get_zooms()))


def _read_nrrd(path: str, opts: ReadOptions) -> Volume:
    nrrd = require("nrrd", "medical", f"reading {path}")
    if is_url(path):
        raise MaskReadError(f"{path}: NRRD files are read from local paths only; copy it locally")
    try:
        header = nrrd.read_header(path)
    except Exception as e:
        why = f"{type(e).__name__}: {e}"
        raise MaskReadError(f"{path}: cannot read the NRRD header ({why})") from None
    _check_size(path, tuple(int(s) for s in header.get("sizes", ())), opts)
    try:
        a, header = nrrd.read(path, index_order="F")
    except Exception as e:
        raise MaskReadError(f"{path}: cannot decode the voxels ({type(e).__name__}: {e})") from None
    return _as_3d(path, np.asarray(a), _nrrd_spacing(header, a.ndim))


def _nrrd_spacing(header: dict[str, Any], ndim: int) -> tuple[float, ...]:
    """Spacing from ``spacings`` or the norms of ``space directions`` (1.0 when absent)."""
    if "spacings" in header:
        return tuple(float(s) if np.isfinite(s) else 1.0 for s in header["spacings"])
    dirs = header.get("space directions")
    if dirs is not None:
        out = []
        for d in dirs:
            v = np.asarray(d, dtype=np.float64)
            out.append(float(np.linalg.norm(v)) if np.isfinite(v).all() else None)
        return tuple(s for s in out if s is not None)
    return (1.0,) * ndim


def as_volume(mask: Any) -> Volume | None:
    """The :class:`Volume` inside a reader's item, or None for a 2-D mask."""
    return mask if isinstance(mask, Volume) else None
