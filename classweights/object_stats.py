"""Object statistics from the per-image table: sizes per class, their distribution, the
components of a subset (pure NumPy on counts; the labelling itself is `classweights.objects`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def image_offsets(object_counts: NDArray[Any]) -> NDArray[np.int64]:
    """Start of each image's block in ``object_sizes`` (``N + 1`` offsets)."""
    per_image = object_counts.sum(axis=1, dtype=np.int64)
    return np.concatenate([[0], np.cumsum(per_image)]).astype(np.int64)


def take_sizes(
    object_counts: NDArray[Any], object_sizes: NDArray[np.int64], rows: NDArray[np.int64]
) -> NDArray[np.int64]:
    """The ``object_sizes`` blocks of the images ``rows`` (repeats allowed), in that order."""
    off = image_offsets(object_counts)
    starts, stops = off[rows], off[rows + 1]
    lengths = stops - starts
    if not lengths.sum():
        return np.zeros(0, np.int64)
    idx = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return object_sizes[idx + np.arange(int(lengths.sum()))]


def component_table(stats: Any) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """``(image, class, size)`` of every component of a ``ClassStats`` scanned with objects."""
    oc = np.asarray(stats.object_counts, np.int64)
    n, c = oc.shape
    image = np.repeat(np.arange(n), oc.sum(axis=1))
    cls = np.repeat(np.tile(np.arange(c), n), oc.ravel())
    return image, cls, np.asarray(stats.object_sizes, np.int64)


def object_summary(stats: Any, small: int = 10) -> list[dict[str, Any]]:
    """Per class: components, size distribution and images holding a component below ``small``.

    Sizes are in voxels (pixels in 2-D), ``None`` for a class without objects. ``*_mm3``
    fields exist when some image has a spacing; they are ``None`` unless every image holding
    the class has one (the size times that image's voxel volume). Every row has the same keys.
    """
    image, cls, size = component_table(stats)
    vox = stats.voxel_volume
    has_mm3 = vox is not None and bool(np.isfinite(vox).any())
    images = stats.images  # a property counted over the whole table: once, not per class
    order = np.argsort(cls, kind="stable")  # each class's components as one slice
    image, size = image[order], size[order]
    bounds = np.searchsorted(cls[order], np.arange(stats.num_classes + 1))
    out = []
    for k in range(stats.num_classes):
        sel = slice(bounds[k], bounds[k + 1])
        s = size[sel]
        row: dict[str, Any] = {"objects": int(s.size), "images_with_small": 0}
        row["mean_objects_per_image"] = float(s.size / images[k]) if images[k] else 0.0
        row |= _dist(s.astype(np.float64), "")
        if has_mm3:
            known = s.size and np.isfinite(vox[image[sel]]).all()
            row |= _dist(s * vox[image[sel]] if known else s[:0].astype(np.float64), "_mm3")
        if s.size:
            row["images_with_small"] = int(np.unique(image[sel][s < small]).size)
        out.append(row)
    return out


def _dist(s: NDArray[np.float64], suffix: str) -> dict[str, float | None]:
    names = ("min", "median", "p90", "max")
    if not s.size:
        return {f"{name}{suffix}": None for name in names}
    q = np.percentile(s, [0, 50, 90, 100])
    return {f"{name}{suffix}": float(v) for name, v in zip(names, q, strict=True)}
