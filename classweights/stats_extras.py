"""Optional per-image rows of `ClassStats`: volume spacing and shape, objects (components).

Kept beside `stats.py`: how these rows merge (``a + b``), subset and compare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from .stats import ClassStats


def check_extras(s: ClassStats, n: int) -> None:
    """Shape-check (and convert) the optional rows of ``s``, which has ``n`` images."""
    from .errors import ClassWeightsError

    if (s.spacing is not None or s.units_assumed is not None) and s.shape is None:
        raise ClassWeightsError("a spacing needs the volume shapes too (shape=...)")
    if s.shape is not None:
        s.shape = np.asarray(s.shape, np.int64).reshape(n, -1)
        sp = np.full(s.shape.shape, np.nan) if s.spacing is None else s.spacing
        s.spacing = np.asarray(sp, np.float64).reshape(s.shape.shape)
        if s.units_assumed is not None:
            s.units_assumed = np.asarray(s.units_assumed, np.bool_).reshape(n)
    if s.object_counts is not None:
        s.object_counts = np.asarray(s.object_counts).reshape(n, s.num_classes)
        s.object_sizes = np.asarray(s.object_sizes, np.int64).reshape(-1)
        if s.object_sizes.size != int(s.object_counts.sum(dtype=np.int64)):
            raise ClassWeightsError(
                f"{s.object_sizes.size} object sizes for "
                f"{int(s.object_counts.sum())} counted objects"
            )


def units_assumed(s: ClassStats) -> int:
    """Volumes whose spacing was read as mm because the file declared no unit."""
    return 0 if s.units_assumed is None else int(s.units_assumed.sum())


def subset_extras(s: ClassStats, idx: NDArray[Any]) -> dict[str, Any]:
    """The optional rows of the images ``idx`` (repeats allowed)."""
    out: dict[str, Any] = {}
    if s.shape is not None:
        out |= {"shape": s.shape[idx], "spacing": s.spacing[idx]}
        if s.units_assumed is not None:
            out["units_assumed"] = s.units_assumed[idx]
    if s.object_counts is not None:
        from .object_stats import take_sizes

        out["object_counts"] = s.object_counts[idx]
        out["object_sizes"] = take_sizes(s.object_counts, s.object_sizes, np.asarray(idx))
    return out


def same_extras(a: dict[str, NDArray[Any]], b: dict[str, NDArray[Any]]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


def merge_extras(a: ClassStats, b: ClassStats) -> dict[str, Any]:
    """Volume rows of both sides (2-D rows padded); objects only when both sides have them."""
    out: dict[str, Any] = {}
    if a.shape is not None or b.shape is not None:
        pad = [
            (s.shape, s.spacing)
            if s.shape is not None
            else (np.zeros((s.num_images, 3), np.int64), np.full((s.num_images, 3), np.nan))
            for s in (a, b)
        ]
        out["shape"] = np.concatenate([p[0] for p in pad])
        out["spacing"] = np.concatenate([p[1] for p in pad])
        if a.units_assumed is not None or b.units_assumed is not None:
            out["units_assumed"] = np.concatenate(
                [
                    s.units_assumed if s.units_assumed is not None else np.zeros(s.num_images, bool)
                    for s in (a, b)
                ]
            )
    if a.object_counts is not None and b.object_counts is not None:
        oc = np.concatenate([a.object_counts.astype(np.int64), b.object_counts.astype(np.int64)])
        out["object_counts"] = oc.astype(compact_uint(int(oc.max(initial=0))))
        out["object_sizes"] = np.concatenate([a.object_sizes, b.object_sizes])
    return out


def compact_uint(max_value: int) -> np.dtype:
    """Smallest unsigned dtype that holds ``max_value`` (uint16, uint32 or uint64).

    >>> compact_uint(1024 * 2048), compact_uint(5)
    (dtype('uint32'), dtype('uint16'))
    """
    for dt in (np.uint16, np.uint32):
        if max_value <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.uint64)


def spacing_summary(spacing: NDArray[np.float64] | None) -> dict[str, list[float]] | None:
    """Median, min and max spacing per axis over the images that have one, or None.

    >>> spacing_summary(np.array([[1, 1, 2.5], [0.5, 0.5, 1], [np.nan] * 3]))["median"]
    [0.75, 0.75, 1.75]
    """
    if spacing is None:
        return None
    sp = spacing[np.isfinite(spacing).all(axis=1)]
    if not sp.size:
        return None
    return {
        k: f(sp, axis=0).tolist()
        for k, f in (("median", np.median), ("min", np.min), ("max", np.max))
    }


class ExtraRows:
    """Per-image spacing, shape and components while a scan collects (only when present)."""

    def __init__(self) -> None:
        self.spacing: list[tuple[float, ...] | None] = []
        self.shape: list[tuple[int, ...] | None] = []
        self.assumed: list[bool] = []
        self.objects: list[tuple[NDArray[np.int64], NDArray[np.int64]] | None] = []

    def add(self, item: Any) -> None:  # a counting.ImageCount
        self.spacing.append(item.spacing)
        self.shape.append(item.shape)
        self.assumed.append(item.units_assumed)
        self.objects.append(item.objects)

    def add_plain(self, k: int) -> None:
        """``k`` 2-D masks without objects (the rows of a batch counted at once)."""
        self.spacing += [None] * k
        self.shape += [None] * k
        self.assumed += [False] * k
        self.objects += [None] * k

    def fields(self, num_classes: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if any(s is not None for s in self.shape):
            out["shape"] = np.array([s or (0, 0, 0) for s in self.shape], np.int64)
            out["spacing"] = np.array([s or (np.nan,) * 3 for s in self.spacing], np.float64)
            if any(self.assumed):
                out["units_assumed"] = np.array(self.assumed, np.bool_)
        if self.objects and all(o is not None for o in self.objects):
            counts = np.zeros((len(self.objects), num_classes), np.int64)
            sizes = []
            for i, (cls, size) in enumerate(self.objects):
                keep = cls < num_classes
                counts[i] = np.bincount(cls[keep], minlength=num_classes)
                sizes.append(size[keep])
            out["object_counts"] = counts.astype(compact_uint(int(counts.max(initial=0))))
            out["object_sizes"] = np.concatenate(sizes).astype(np.int64)
        return out
