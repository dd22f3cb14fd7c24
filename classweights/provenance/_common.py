"""Shared by explain and match: number formatting, counts -> aggregate, normalisation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..weights.stages import Aggregate

_FMT = "{:.6g}"


def _num(x: float) -> str:
    return _FMT.format(float(x))


# ---- counts -> aggregate (shared by explain and match) ------------------------------------
def _np(x: Any) -> NDArray[Any]:
    """A numpy array from a numpy array, a list or a torch tensor (without importing torch)."""
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _aggregate(counts: Mapping[str, Any], median_denominator: str = "all") -> Aggregate:
    """The dataset counts of ``_raw_weights`` (0-d totals) from a record's ``counts``."""

    def f(key: str) -> NDArray[np.float64]:
        return np.asarray(_np(counts[key]), dtype=np.float64)

    lab = median_denominator == "labelled"
    void_den = counts["void_image_pixels"]
    if lab:  # exact when stored; else equal to the above when there are no unknown pixels
        void_den = counts.get("void_image_labelled_pixels", void_den)
    return Aggregate(
        pixels=f("pixels"),
        labelled=f("labelled_pixels"),
        total=f("total_pixels"),
        images=f("images"),
        den=f("image_labelled_pixels" if lab else "image_pixels"),
        void_pixels=f("ignored_pixels"),
        void_den=np.asarray(float(_np(void_den))),
    )


def _norm_factor(
    w: NDArray[np.float64], present: NDArray[np.bool_], mode: str
) -> tuple[float, str]:
    wp = w[present]
    if mode == "mean":
        return (
            wp.size / wp.sum(),
            f"{wp.size} present classes / sum of their raw weights {_num(wp.sum())}",
        )
    if mode == "sum":
        return w.size / wp.sum(), f"C = {w.size} / sum of the present raw weights {_num(wp.sum())}"
    return 1.0 / wp.max(), f"1 / largest raw weight {_num(wp.max())}"


_METHOD_KEYS = {
    "effective_num": ("beta", "count"),
    "median_freq": ("median_over", "median_denominator"),
    "enet": ("enet_c", "enet_share"),
    "power": ("power",),
}
