"""Connected components per class (objects), in 2-D masks and 3-D volumes.

Runs inside scan workers next to the counting: a decoded mask is mapped to class ids (through
the scan's label space, so merged labels form one object), and each class present is labelled
with ``scipy.ndimage.label`` inside its bounding box (``scipy.ndimage.find_objects``), so a
small class costs only its box. Connectivity ``"full"`` is 8 in 2-D and 26 in 3-D (what MONAI's
``LabelStats`` and cc3d default to); ``"face"`` is 4 in 2-D and 6 in 3-D.

The per-image result is the size of every component, ordered by class; the scan keeps them in
``ClassStats.object_sizes`` with ``object_counts`` (images x classes), so subsets and
bootstraps recompute every object statistic without reading a mask again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

CONNECTIVITIES = ("full", "face")


@dataclass(frozen=True)
class ObjectOptions:
    """What a worker needs to find objects: the label space and the connectivity."""

    space: Any  # labels.LabelSpace (raw value -> class id, ignored, unknown)
    connectivity: str = "full"


def class_map(a: NDArray[Any], values: NDArray[np.int64], space: Any) -> NDArray[Any]:
    """The mask as ``class id + 1`` (0 for ignored / unknown pixels), in a compact dtype.

    ``values`` are the distinct raw values of ``a`` (from the counting kernel).

    >>> from classweights.labels import LabelSpace
    >>> m = np.array([[0, 255], [7, 1]], np.uint8)
    >>> class_map(m, np.array([0, 1, 7, 255]), LabelSpace(3, 255)).tolist()
    [[1, 0], [0, 2]]
    """
    cls = space.map_values(values)
    plus = np.where(cls >= 0, cls + 1, 0)
    top = int(plus.max(initial=0))
    dt = np.uint8 if top < 256 else (np.uint16 if top < 65536 else np.int64)
    if values.size and values.min() >= 0 and values.max() < (1 << 20):
        lut = np.zeros(int(values.max()) + 1, dt)
        lut[values] = plus
        return lut[a]
    pos = np.searchsorted(values, a)
    return plus.astype(dt)[pos]


def _structure(ndim: int, connectivity: str) -> NDArray[np.bool_]:
    from scipy import ndimage

    return ndimage.generate_binary_structure(ndim, ndim if connectivity == "full" else 1)


def components(cmap: NDArray[Any], connectivity: str = "full") -> tuple[NDArray, NDArray]:
    """``(classes, sizes)`` of every connected component of a ``class id + 1`` map.

    Components are ordered by class, then by scipy's label order; ``sizes`` are voxel counts.

    >>> m = np.array([[1, 0, 1], [0, 1, 0], [2, 2, 0]], np.uint8)
    >>> c, s = components(m, "full"); c.tolist(), s.tolist()
    ([0, 1], [3, 2])
    >>> c, s = components(m, "face"); c.tolist(), s.tolist()
    ([0, 0, 0, 1], [1, 1, 1, 2])
    """
    from scipy import ndimage

    structure = _structure(cmap.ndim, connectivity)
    classes: list[NDArray[np.int64]] = []
    sizes: list[NDArray[np.int64]] = []
    for k, box in enumerate(ndimage.find_objects(cmap)):
        if box is None:
            continue
        sub = cmap[box] == k + 1
        lab, n = ndimage.label(sub, structure=structure)
        size = np.bincount(lab.ravel(), minlength=n + 1)[1:].astype(np.int64)
        classes.append(np.full(n, k, np.int64))
        sizes.append(size)
    if not classes:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(classes), np.concatenate(sizes)


def find_objects(
    a: NDArray[Any], values: NDArray[np.int64], opts: ObjectOptions
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Components ``(classes, sizes)`` of one decoded integer mask or volume."""
    return components(class_map(a, values, opts.space), opts.connectivity)


# ---- statistics from the stored table -------------------------------------------------------
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

    Sizes are in voxels (pixels in 2-D); ``*_mm3`` fields are given when every image holding
    the class has a spacing (the size times that image's voxel volume).
    """
    image, cls, size = component_table(stats)
    vox = stats.voxel_volume
    out = []
    for k in range(stats.num_classes):
        sel = cls == k
        s = size[sel]
        row: dict[str, Any] = {"objects": int(s.size), "images_with_small": 0}
        row["mean_objects_per_image"] = (
            float(s.size / stats.images[k]) if stats.images[k] else 0.0
        )
        if s.size:
            row |= _dist(s.astype(np.float64), "")
            row["images_with_small"] = int(np.unique(image[sel][s < small]).size)
            if vox is not None and np.isfinite(vox[image[sel]]).all():
                row |= _dist(s * vox[image[sel]], "_mm3")
        out.append(row)
    return out


def _dist(s: NDArray[np.float64], suffix: str) -> dict[str, float]:
    q = np.percentile(s, [0, 50, 90, 100])
    return {f"{name}{suffix}": float(v) for name, v in zip(("min", "median", "p90", "max"), q)}
