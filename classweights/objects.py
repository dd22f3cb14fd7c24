"""Connected components per class (objects), in 2-D masks and 3-D volumes.

Runs inside scan workers next to the counting: a decoded mask is mapped to class ids (through
the scan's label space, so merged labels form one object), and a Numba run-length union-find
labels every class in one pass (1 ms against 256 ms for ``scipy.ndimage.label`` once per
class on a 1024 x 2048 street scene, benchmarks/bench_volumes.py; scipy is the tests'
reference). Connectivity ``"full"`` is 8 in 2-D and 26 in 3-D (what MONAI's ``LabelStats``
and cc3d default to); ``"face"`` is 4 in 2-D and 6 in 3-D.

The per-image result is the size of every component, ordered by class; the scan keeps them in
``ClassStats.object_sizes`` with ``object_counts`` (images x classes), so subsets and
bootstraps recompute every object statistic without reading a mask again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError
from .object_stats import component_table, image_offsets, object_summary, take_sizes

__all__ = [
    "ObjectOptions",
    "component_table",
    "components",
    "find_objects",
    "image_offsets",
    "object_options",
    "object_summary",
    "take_sizes",
]

CONNECTIVITIES = ("full", "face")


@dataclass(frozen=True)
class ObjectOptions:
    """What a worker needs to find objects: the label space and the connectivity."""

    space: Any  # labels.LabelSpace (raw value -> class id, ignored, unknown)
    connectivity: str = "full"


def object_options(objects: Any, space: Any, multilabel: bool, rgb: bool) -> ObjectOptions | None:
    """The validated ``objects=`` setting of a scan (None: no objects)."""
    if objects is False or objects is None:
        return None
    conn = "full" if objects is True else objects
    if conn not in CONNECTIVITIES:
        raise ConfigError(
            f"objects={objects!r} is not one of True, False, {', '.join(CONNECTIVITIES)}"
        )
    if multilabel or rgb:
        raise ConfigError(
            "objects are found in index masks and volumes only, not in multi-label "
            "or colour masks; drop --objects"
        )
    return ObjectOptions(space, conn)


def _lut_input(
    a: NDArray[Any], values: NDArray[np.int64], space: Any, labels: NDArray[np.int64] | None
):
    """``(array, lut)`` for the kernel: ``lut[value]`` is the class id, -1 for no object."""
    if a.dtype == np.bool_:
        a = a.view(np.uint8)
    cls = space.map_values(values if labels is None else labels)
    cls = np.where(cls >= 0, cls, -1)
    small = a.dtype.kind in "ui" and values.size and values.min() >= 0
    if small and (a.dtype.itemsize <= 2 or values.max() < (1 << 20)):
        size = 1 << (8 * a.dtype.itemsize) if a.dtype.itemsize <= 2 else int(values.max()) + 1
        lut = np.full(size, -1, np.int64)
        lut[values] = cls
        return a, lut
    # labels beyond a table: a compact class map (class + 1, 0 for none) and a shifted table
    plus = np.where(cls >= 0, cls + 1, 0)
    return plus[np.searchsorted(values, a)], np.arange(-1, int(plus.max(initial=0)), dtype=np.int64)


def find_objects(
    a: NDArray[Any],
    values: NDArray[np.int64],
    opts: ObjectOptions,
    labels: NDArray[np.int64] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Components ``(classes, sizes)`` of one decoded integer mask (2-D) or volume (3-D).

    ``values`` are the distinct raw values of ``a`` (from the counting kernel); ``labels``, when
    given, the label each stands for (a scaled NIfTI's stored values). Components are ordered by
    class, then by the raster position of their first pixel.
    """
    arr, lut = _lut_input(a, values, opts.space, labels)
    return components(arr, lut, opts.connectivity)


def components(
    a: NDArray[Any], lut: NDArray[np.int64], connectivity: str = "full"
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``(classes, sizes)`` of the connected components of each class ``lut[a]`` (>= 0).

    >>> m = np.array([[1, 0, 1], [0, 1, 0], [2, 2, 0]], np.uint8)
    >>> lut = np.array([-1, 0, 1])  # raw 0: no object; raw 1: class 0; raw 2: class 1
    >>> c, s = components(m, lut, "full"); c.tolist(), s.tolist()
    ([0, 1], [3, 2])
    >>> c, s = components(m, lut, "face"); c.tolist(), s.tolist()
    ([0, 0, 0, 1], [1, 1, 1, 2])
    """
    if connectivity not in CONNECTIVITIES:
        raise ValueError(f"connectivity {connectivity!r} is not one of {CONNECTIVITIES}")
    if a.flags.f_contiguous and not a.flags.c_contiguous:
        a = a.T  # NIfTI's Fortran order: the reversed axes are a C-ordered view, same components
    a3 = np.ascontiguousarray(a if a.ndim == 3 else a.reshape(1, *a.shape[-2:]))
    d, h, w = a3.shape
    flat = a3.reshape(-1)
    new_run = np.empty(flat.size, np.bool_)  # where a run starts: a new value or a new row
    new_run[0] = True
    np.not_equal(flat[1:], flat[:-1], out=new_run[1:])
    new_run[::w] = True
    starts = np.flatnonzero(new_run)
    run_cls = np.ascontiguousarray(lut, np.int64)[flat[starts]]
    cls, size = _label_runs(starts, run_cls, d, h, w, connectivity == "full")
    order = np.argsort(cls, kind="stable")
    return cls[order], size[order]


# ---- the kernel: run-length union-find (Numba) ----------------------------------------------
# Masks are long runs of one label, so the kernel labels runs, not pixels: one pass finds the
# runs of each row (class looked up once per run), then runs of neighbouring rows that overlap
# (by one more column each way for diagonal contact) and share a class are joined in a
# union-find. 2-D masks are one plane; 3-D also joins the rows of the previous plane.
def _kernel():
    from .kernels import kernel as _jit

    @_jit
    def find(parent, x):  # pragma: no cover - compiled
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    @_jit
    def merge(i0, i1, j0, j1, rs, re, rc, parent, ext):  # pragma: no cover - compiled
        j = j0
        for i in range(i0, i1):
            si = rs[i]
            ei = re[i]
            while j < j1 and re[j] + ext <= si:
                j += 1
            k = j
            while k < j1 and rs[k] < ei + ext:
                if rc[k] == rc[i]:
                    x = find(parent, i)
                    y = find(parent, k)
                    if x < y:
                        parent[y] = x
                    elif y < x:
                        parent[x] = y
                k += 1

    @_jit
    def label_runs(starts, run_cls, d_, h_, w_, full):  # pragma: no cover - compiled
        total = d_ * h_ * w_
        m = starts.size
        rs = np.empty(m, np.int64)
        re = np.empty(m, np.int64)
        rc = np.empty(m, np.int64)
        ptr = np.zeros(d_ * h_ + 1, np.int64)
        n = 0
        row = -1
        for i in range(m):
            s = starts[i]
            r = s // w_
            while row < r:  # rows without a run (all ignored) get empty ranges
                row += 1
                ptr[row] = n
            c = run_cls[i]
            if c < 0:
                continue
            e = (starts[i + 1] if i + 1 < m else total) - r * w_
            s -= r * w_
            if n > ptr[r] and rc[n - 1] == c and re[n - 1] == s:
                re[n - 1] = e  # another raw value of the same class: one run
                continue
            rs[n] = s
            re[n] = e
            rc[n] = c
            n += 1
        while row < d_ * h_ - 1:
            row += 1
            ptr[row] = n
        ptr[d_ * h_] = n
        parent = np.arange(n)
        ext = 1 if full else 0
        for d in range(d_):
            for h in range(h_):
                r = d * h_ + h
                if h > 0:
                    merge(ptr[r], ptr[r + 1], ptr[r - 1], ptr[r], rs, re, rc, parent, ext)
                if d > 0:
                    q = r - h_
                    merge(ptr[r], ptr[r + 1], ptr[q], ptr[q + 1], rs, re, rc, parent, ext)
                    if full and h > 0:
                        merge(ptr[r], ptr[r + 1], ptr[q - 1], ptr[q], rs, re, rc, parent, ext)
                    if full and h < h_ - 1:
                        merge(ptr[r], ptr[r + 1], ptr[q + 1], ptr[q + 2], rs, re, rc, parent, ext)
        size = np.zeros(n, np.int64)
        k = 0
        for i in range(n):
            root = find(parent, i)
            if root == i:
                k += 1
            size[root] += re[i] - rs[i]
        out_c = np.empty(k, np.int64)
        out_s = np.empty(k, np.int64)
        k = 0
        for i in range(n):
            if parent[i] == i:
                out_c[k] = rc[i]
                out_s[k] = size[i]
                k += 1
        return out_c, out_s

    return label_runs


_LABEL_RUNS = None


def _label_runs(starts, run_cls, d, h, w, full):
    global _LABEL_RUNS
    if _LABEL_RUNS is None:  # numba compiles on first use, not at import
        _LABEL_RUNS = _kernel()
    return _LABEL_RUNS(starts, run_cls, d, h, w, full)
