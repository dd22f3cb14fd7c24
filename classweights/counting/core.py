"""Counting one decoded mask: array in, raw-value histogram out (runs inside scan workers).

`count_mask` checks the array (dtype, shape, float labels, multi-label 0/1) and calls the Numba
kernels (or their NumPy twins); `count_stack` counts consecutive masks of an array stack in one
kernel call. `ImageCount` and `Failure` are what workers hand to the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import DataWarning, MaskReadError
from ..objects import find_objects
from ..sources import Entry, Indexed, ReadOptions
from ..sources.volumes import Volume


class MaskWarning(DataWarning):
    """A mask was accepted with a conversion the user should know about."""


@dataclass(frozen=True)
class CountOptions:
    read: ReadOptions
    num_classes: int | None
    size_hint: int
    color_keys: NDArray[np.int64] | None = None  # sorted packed colours
    color_labels: NDArray[np.int64] | None = None  # label of each colour in color_keys
    # Numba kernels (True) or their exact NumPy twins (False, for jobs too small to repay the
    # JIT; see `classweights.kernels_numpy.use_jit`)
    jit: bool = True
    objects: Any = None  # objects.ObjectOptions: also find connected components per class


@dataclass
class ImageCount:
    source: str
    values: NDArray[np.int64]  # raw label values (or class ids for multi-label)
    counts: NDArray[np.int64]
    total: int
    unknown_colors: dict[str, int] = field(default_factory=dict)
    # MaskWarning messages, issued by the engine in the calling thread (warning filters are
    # process-global, so worker threads must not touch them)
    notes: list[str] = field(default_factory=list)
    # 3-D volumes: voxel spacing (None when unknown) and shape; 2-D masks: None
    spacing: tuple[float, ...] | None = None
    shape: tuple[int, ...] | None = None
    units_assumed: bool = False  # the file declared no unit for its spacing: mm assumed
    objects: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None  # (classes, sizes)
    # palette images read as indices: the packed 0xRRGGBB colour of each of `values` in this
    # file's palette (-1 past its end), for the scan's check that palettes agree across files
    palette: NDArray[np.int64] | None = None
    decoder: str | None = None  # "fused" when the fused PNG path counted it (`count_rows`)
    #: pixels outside the mask's valid region (``valid_mask``): counted as ignored
    outside: int = 0


@dataclass
class Failure:
    source: str
    message: str


def count_mask(mask: Any, source: str, opts: CountOptions) -> ImageCount:
    """Count one decoded mask into raw ``(values, counts)``; raises MaskReadError on bad data."""
    if opts.read.multilabel:
        return _count_multilabel(mask, source, opts)
    if isinstance(mask, Volume):
        return _count_volume(mask, source, opts)
    if isinstance(mask, Indexed):
        out = count_mask(mask.array, source, opts)
        out.palette = palette_colours(out.values, mask.palette)
        return out
    a = np.asarray(mask)
    if a.size == 0:
        raise MaskReadError(f"{source}: the mask is empty (shape {a.shape})")
    if a.ndim == 3 and 1 in (a.shape[0], a.shape[-1]) and a.shape[-1] != 3:
        a = a[0] if a.shape[0] == 1 else a[..., 0]  # 1 x H x W (ToTensor, mmseg) or H x W x 1
    if a.ndim == 3 and a.shape[-1] == 4 and opts.color_keys is not None:
        a = a[..., :3]  # RGBA with a colour table: the alpha channel is dropped, as for files
    if a.ndim == 3 and a.shape[-1] == 3 and opts.color_keys is not None:
        return _count_colors(a, source, opts)
    if a.ndim != 2:
        hint = " (a colour mask needs --palette)" if a.ndim == 3 and a.shape[-1] in (3, 4) else ""
        raise MaskReadError(f"{source}: expected a 2-D label mask, got shape {a.shape}{hint}")
    notes: list[str] = []
    a = _integral(a, source, notes)
    values, counts = _kernels(opts).count_values(a, opts.size_hint)
    objs = find_objects(a, values, opts.objects) if opts.objects is not None else None
    return ImageCount(source, values, counts, int(a.size), notes=notes, objects=objs)


def palette_colours(values: NDArray[np.int64], palette: NDArray[np.int64]) -> NDArray[np.int64]:
    """The palette colour of each index in ``values`` (-1 where the palette has no entry).

    >>> palette_colours(np.array([0, 2, 5]), np.array([0x000000, 0xFF0000, 0x00FF00])).tolist()
    [0, 65280, -1]
    """
    inside = (values >= 0) & (values < len(palette))
    out = np.full(values.shape, -1, np.int64)
    out[inside] = palette[values[inside]]
    return out


def _count_volume(vol: Volume, source: str, opts: CountOptions) -> ImageCount:
    """One 3-D label volume: exact counts, its spacing and shape (and objects if asked)."""
    a = np.asarray(vol.array)
    if a.ndim != 3 or a.size == 0:
        raise MaskReadError(f"{source}: expected a D x H x W label volume, got shape {a.shape}")
    if a.size > opts.read.max_pixels:
        raise MaskReadError(
            f"{source}: the volume has {a.size:,} voxels, above the limit of "
            f"{opts.read.max_pixels:,}; raise it with --max-pixels if the file is genuine"
        )
    notes: list[str] = []
    labels = None
    if vol.scale is not None and a.dtype.kind in "biu":  # NIfTI scl_slope/inter: count stored
        values, counts = _kernels(opts).count_values(a.ravel(order="K"), opts.size_hint)
        labels = _scaled(values, a.dtype, vol.scale, source, notes)
    else:
        a = _integral(a, source, notes, inplace=vol.owned)
        # NIfTI volumes are Fortran-ordered: ravel in memory order (a view), not a transpose
        values, counts = _kernels(opts).count_values(a.ravel(order="K"), opts.size_hint)
    objs = find_objects(a, values, opts.objects, labels) if opts.objects is not None else None
    if labels is not None:  # two stored values may scale to one label
        values, where = np.unique(labels, return_inverse=True)
        counts = np.bincount(where, weights=counts, minlength=values.size).astype(np.int64)
    return ImageCount(
        source,
        values,
        counts,
        int(a.size),
        notes=notes,
        spacing=vol.spacing,
        shape=tuple(int(x) for x in a.shape),
        units_assumed=vol.units_assumed,
        objects=objs,
    )


def _scaled(
    values: NDArray[np.int64], dtype: np.dtype, scale: Any, source: str, notes: list[str]
) -> NDArray[np.int64]:
    """The labels of the distinct stored values of a scaled NIfTI (whole numbers, or refused)."""
    from ..sources.nifti import scaled_labels

    f = np.asarray(scaled_labels(values, dtype, scale), np.float64)
    if not np.isfinite(f).all() or not (f == np.round(f)).all():
        bad = f[~np.isfinite(f) | (f != np.round(f))][0]
        raise MaskReadError(
            f"{source}: scl_slope/scl_inter turn the stored values into fractional labels (e.g. "
            f"{bad}); labels must be whole numbers (re-save the volume without scaling)"
        )
    if f.size and (f.max() > _INT64_MAX or f.min() < -_INT64_MAX):
        raise MaskReadError(f"{source}: the scaled labels reach beyond the int64 range")
    notes.append(
        f"{source}: scaled by scl_slope/scl_inter to whole-number labels; read as integers "
        "(save label volumes without scaling to avoid this)"
    )
    return f.astype(np.int64)


def _kernels(opts: CountOptions) -> Any:
    """The kernel module: numba loads on first use, never at `import classweights`."""
    if opts.jit:
        from .. import kernels

        return kernels
    from .. import kernels_numpy

    return kernels_numpy


def _integral(
    a: NDArray[Any], source: str, notes: list[str], inplace: bool = False
) -> NDArray[Any]:
    """The mask as an integer (or bool) array; whole-number floats are converted with a note.

    Float labels are checked and converted :data:`_SLAB` values at a time into integers of the
    same width (float32 -> int32 when the labels fit), in place when the reader made the array
    (``inplace``): no full-size temporaries.
    """
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise MaskReadError(f"{source}: mask dtype {a.dtype} is not a label type (use integers)")
    if a.dtype.kind == "f":
        order = "C" if a.flags.c_contiguous or not a.flags.f_contiguous else "F"
        flat = a.ravel(order=order)  # a view of a contiguous array
        lo, hi = _whole_range(flat, source)
        notes.append(
            f"{source}: float mask with whole-number values; read as integers "
            "(save masks as integers to avoid this)"
        )
        small = a.dtype.itemsize <= 4 and lo >= -(2**31) and hi < 2**31
        target = np.dtype(np.int32 if small else np.int64)
        same = target.itemsize == a.dtype.itemsize and (
            a.flags.c_contiguous or a.flags.f_contiguous
        )
        out = a.view(target) if inplace and same and a.flags.writeable else None
        if out is None:
            out = np.empty(a.shape, target, order=order)
        dest = out.ravel(order=order)
        for i in range(0, flat.size, _SLAB):
            dest[i : i + _SLAB] = flat[i : i + _SLAB]
        return out
    if a.dtype.kind == "u" and a.dtype.itemsize == 8 and a.size and a.max() > _INT64_MAX:
        raise MaskReadError(
            f"{source}: uint64 labels up to {int(a.max())} do not fit the int64 label range"
        )
    return a


#: values of a float mask checked and converted at once
_SLAB = 1 << 20


def _whole_range(flat: NDArray[Any], source: str) -> tuple[float, float]:
    """``(min, max)`` of a float mask whose values must all be finite whole numbers."""
    lo, hi = np.inf, -np.inf
    for i in range(0, flat.size, _SLAB):
        part = flat[i : i + _SLAB]
        if not np.isfinite(part).all():
            raise MaskReadError(
                f"{source}: the float mask holds NaN or infinite values; labels must be whole "
                "numbers (save masks as integers)"
            )
        frac = part != np.round(part)
        if frac.any():
            raise MaskReadError(
                f"{source}: the float mask holds fractional labels (e.g. {part[frac][0]}); "
                "labels must be whole numbers (was the mask resized with interpolation? use "
                "nearest)"
            )
        if part.size:
            lo, hi = min(lo, float(part.min())), max(hi, float(part.max()))
    if flat.size and (hi > _INT64_MAX or lo < -_INT64_MAX):
        raise MaskReadError(f"{source}: the float mask holds labels beyond the int64 range")
    return lo, hi


_INT64_MAX = np.iinfo(np.int64).max


#: Unknown colours of one image counted one by one; pixels of further colours are counted
#: together under ``OTHER_COLORS`` (totals stay exact, memory stays fixed).
MAX_UNKNOWN_COLORS = 1024
OTHER_COLORS = "#other"


def _count_colors(a: NDArray[Any], source: str, opts: CountOptions) -> ImageCount:
    if a.dtype != np.uint8:
        raise MaskReadError(f"{source}: colour masks must be 8-bit RGB, got dtype {a.dtype}")
    from ..kernels import count_colors

    found = count_colors(a, opts.color_keys, MAX_UNKNOWN_COLORS)
    return colour_count(source, found, int(a.shape[0] * a.shape[1]), opts)


def colour_count(
    source: str, found: tuple[NDArray[np.int64], ...], total: int, opts: CountOptions
) -> ImageCount:
    """The `ImageCount` of ``count_colors``' ``(hist, unknown colours, their counts)``."""
    hist, ukeys, ucounts = found
    keep = hist[:-1] > 0
    unknown = {f"#{int(v):06x}": int(c) for v, c in zip(ukeys, ucounts, strict=True)}
    rest = int(hist[-1]) - int(ucounts.sum())
    if rest:  # more distinct unknown colours than are listed one by one
        unknown[OTHER_COLORS] = rest
    return ImageCount(source, opts.color_labels[keep], hist[:-1][keep], total, unknown)


def _count_multilabel(mask: Any, source: str, opts: CountOptions) -> ImageCount:
    if isinstance(mask, tuple):  # per-class binary files: (shape, [(class, mask), ...])
        shape, parts = mask
        c = opts.num_classes or (max(k for k, _ in parts) + 1)
        pos = np.zeros(c, np.int64)
        for k, m in parts:
            pos[k] += np.count_nonzero(m)
        return ImageCount(source, np.arange(c), pos, int(np.prod(shape)))
    a = np.asarray(mask)
    if a.ndim != 3 or a.size == 0:
        raise MaskReadError(f"{source}: expected a C x H x W multi-label mask, got shape {a.shape}")
    if opts.num_classes is not None and a.shape[0] != opts.num_classes:
        raise MaskReadError(
            f"{source}: has {a.shape[0]} channels but num_classes={opts.num_classes}"
        )
    notes: list[str] = []
    a = _integral(a, source, notes)
    if a.dtype != np.bool_:
        values, _ = _kernels(opts).count_values(a.reshape(-1), opts.size_hint)
        extra = sorted(set(values.tolist()) - {0, 1})
        if extra:
            raise MaskReadError(f"{source}: multi-label masks must hold 0/1, found {extra[:5]}")
    pos = np.count_nonzero(a.reshape(a.shape[0], -1), axis=1).astype(np.int64)
    return ImageCount(source, np.arange(a.shape[0]), pos, int(a.shape[1] * a.shape[2]), notes=notes)


Unit = list[tuple[Entry, list[int]]]


def stackable(opts: CountOptions) -> bool:
    """Whether consecutive masks of an array stack may be counted in one kernel call."""
    plain = opts.objects is None and opts.color_keys is None and not opts.read.multilabel
    return opts.jit and plain


def count_stack(sources: list[str], stack: NDArray[Any], opts: CountOptions) -> list[ImageCount]:
    """Count a ``(k, H, W)`` stack of masks: one Numba call for uint8/uint16 stacks (the
    per-image Python work of `count_mask` made small masks GIL-bound: 2 threads were slower
    than 1), `count_mask` per image otherwise. Same results as `count_mask` on each image.
    """
    from ..kernels import histogram_stack

    step = 16 if stack.dtype.itemsize > 1 else len(sources)  # uint16: 512 KB of bins an image
    out: list[ImageCount] = []
    for a in range(0, len(sources), step):
        part, names = stack[a : a + step], sources[a : a + step]
        hist = histogram_stack(part)
        if hist is None:
            out.extend(count_mask(m, s, opts) for s, m in zip(names, part, strict=True))
            continue
        rows, values = np.nonzero(hist)
        counts = hist[rows, values]
        cuts = np.searchsorted(rows, np.arange(1, len(names)))
        total = int(part[0].size)
        out.extend(
            ImageCount(s, v, c, total)
            for s, v, c in zip(
                names, np.split(values.astype(np.int64), cuts), np.split(counts, cuts), strict=True
            )
        )
    return out


def unexpected_failure(path: str, e: Exception) -> Failure:
    """A reader's own exception as a `Failure` that names the file and keeps the reason."""
    return Failure(path, f"{path}: cannot read ({type(e).__name__}: {e})")
