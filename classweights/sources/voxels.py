"""A decoded label volume (`Volume`: voxels, spacing in mm), the checks every volume reader
shares (declared size, 3-D shape, positive spacing) and header units to millimetres."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MaskReadError
from .entries import ReadOptions


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
