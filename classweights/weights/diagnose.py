"""Imbalance at a glance: a few numbers and hints computed from counts (pure data, no printing)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..stats import ClassStats
from .methods import suggest_beta
from .options import FLAT_TOLERANCE

#: A class below this share of the labelled pixels is "rare".
RARE_SHARE = 0.01
#: A class present in fewer than this fraction of the images is "rare in images".
RARE_IMAGES = 0.01
#: A max/min pixel ratio above this gets a hint about inverse-frequency weights.
EXTREME_RATIO = 1000.0
#: Clipping counts as "active on many classes" from this fraction of the present classes.
CLIP_MANY = 0.25


def _listing(stats: ClassStats, ids: list[int], most: int = 12) -> str:
    """The classes ``ids`` by name, at most ``most`` of them (a label space inferred from
    instance ids has thousands; the JSON keeps every id)."""
    names = stats.names
    shown = ", ".join(names[i] if stats.class_names else str(i) for i in ids[:most])
    return shown + (f" and {len(ids) - most:,} more" if len(ids) > most else "")


def diagnose(
    stats: ClassStats,
    weights: ArrayLike | None = None,
    method: str | None = None,
    *,
    clip: tuple[float | None, float | None] | None = None,
    count: str = "pixels",
) -> dict[str, Any]:
    """Summarise the class imbalance of ``stats`` (and of a weight vector computed from it).

    Formulas: ``max_min_ratio = max n_c / min n_c`` over present classes; normalised entropy
    ``H = -sum_c f_c ln f_c / ln C`` (1: perfectly balanced, 0: one class only; ``C`` counts
    absent classes too); rare classes have ``f_c < 1 %``; rare-in-images classes are present
    in fewer than 1 % of the images (Datumaro's validator reports similar imbalance checks).

    Args:
        stats: the counts.
        weights: ``(C,)`` weights computed from ``stats`` (optional), for the weight hints.
        method: the method that produced ``weights`` (enables method-specific hints).
        clip: the ``(lo, hi)`` used, to count the classes sitting on a bound.
        count: ``effective_num``'s count mode used (``"pixels"`` or ``"images"``).

    Returns:
        dict with ``num_classes``, ``present_classes``, ``absent_classes`` (ids),
        ``max_min_ratio`` (float, 1.0 when fewer than two classes are present),
        ``normalized_entropy``, ``rare_classes``, ``rare_in_images`` (ids, present classes
        only), ``ignored_share`` (ignored over all pixels), ``clipped_classes`` (ids at a
        clip bound, empty without ``clip``), ``weight_max_min_ratio`` (``None`` without
        weights) and ``hints`` (short sentences).

    >>> s = ClassStats.from_counts([[9000, 990, 10, 0]] + [[100, 0, 0, 0]] * 199)
    >>> d = diagnose(s)
    >>> d["max_min_ratio"], round(d["normalized_entropy"], 3)
    (2890.0, 0.107)
    >>> d["rare_classes"], d["rare_in_images"]
    ([2], [1, 2])
    >>> d["hints"][0]
    '1 of 4 classes never appear (3); they get the absent-class weight'
    """
    c = stats.num_classes
    pixels = np.asarray(stats.counts, dtype=np.float64).sum(axis=0)
    present = pixels > 0
    total = float(pixels.sum())
    share = pixels / total if total > 0 else np.zeros(c)
    n_img = stats.num_images
    img_frac = np.count_nonzero(stats.counts, axis=0) / max(n_img, 1)
    pp = pixels[present]
    ratio = float(pp.max() / pp.min()) if pp.size >= 2 else 1.0
    sp = share[share > 0]
    entropy = float(-(sp * np.log(sp)).sum() / math.log(c)) if c > 1 else 1.0
    all_pixels = stats.total_pixels
    out: dict[str, Any] = {
        "num_classes": c,
        "present_classes": int(present.sum()),
        "absent_classes": np.flatnonzero(~present).tolist(),
        "max_min_ratio": ratio,
        "normalized_entropy": min(max(entropy, 0.0), 1.0) + 0.0,
        "rare_classes": np.flatnonzero(present & (share < RARE_SHARE)).tolist(),
        "rare_in_images": np.flatnonzero(present & (img_frac < RARE_IMAGES)).tolist(),
        "ignored_share": stats.ignored_pixels / all_pixels if all_pixels > 0 else 0.0,
        "clipped_classes": [],
        "weight_max_min_ratio": None,
        "hints": [],
    }
    hints: list[str] = out["hints"]
    if out["absent_classes"] and stats.sampled:
        hints.append(
            f"{len(out['absent_classes'])} of {c} classes have no pixel in the sample "
            f"({_listing(stats, out['absent_classes'])}); they get the absent-class weight, "
            "but a sample cannot tell a rare class from an absent one: scan every image or "
            "use --sample auto"
        )
    elif out["absent_classes"]:
        hints.append(
            f"{len(out['absent_classes'])} of {c} classes never appear "
            f"({_listing(stats, out['absent_classes'])}); they get the absent-class weight"
        )
    if ratio > EXTREME_RATIO:
        hints.append(
            f"the most frequent class has {ratio:.3g}x the pixels of the rarest: inverse_freq "
            "weights span that ratio; sqrt_inv_freq, enet or clip=(lo, hi) are gentler"
        )
    if out["rare_in_images"]:
        hints.append(
            f"classes {_listing(stats, out['rare_in_images'])} appear in fewer than "
            f"{RARE_IMAGES:.0%} of the images: a sampled scan may miss them"
        )
    if weights is None:
        return out
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    wp = w[present & (w > 0)]
    out["weight_max_min_ratio"] = float(wp.max() / wp.min()) if wp.size else None
    if method == "effective_num" and wp.size >= 2:
        n = pixels if count == "pixels" else np.count_nonzero(stats.counts, axis=0)
        if np.ptp(n[present]) > 0 and np.ptp(wp) <= FLAT_TOLERANCE * wp.max():
            hints.append(
                f"effective_num weights are flat (beta**n_c underflows for {count} counts): "
                f"use count='images' or beta={suggest_beta(n[present])!r}"
            )
    if clip is not None:
        lo, hi = clip
        at = np.zeros(c, bool)
        for b in (lo, hi):
            if b is not None:
                at |= np.isclose(w, b, rtol=1e-9, atol=0.0)
        ids = np.flatnonzero(at & present).tolist()
        out["clipped_classes"] = ids
        if len(ids) >= max(2, CLIP_MANY * present.sum()):
            hints.append(
                f"clipping is active on {len(ids)} of {int(present.sum())} classes "
                f"({_listing(stats, ids)}): widen clip or use a smoother method "
                "(sqrt_inv_freq, power < 1)"
            )
    return out
