"""Comparing two splits of a dataset (train vs val drift) from their exact counts.

Pure NumPy on two :class:`~classweights.stats.ClassStats`; no mask is read. The divergence
is the Jensen-Shannon divergence of the two class-share distributions, in **bits**
(base-2 logarithm), so it lies in ``[0, 1]``: 0 for identical shares, 1 for splits that
share no class.

>>> from classweights.stats import ClassStats
>>> a = ClassStats.from_counts([[50, 50, 0]])
>>> b = ClassStats.from_counts([[50, 0, 50]])
>>> d = compare_splits(a, b)
>>> round(d["js_divergence_bits"], 3), d["missing"]
(0.5, {'a': [2], 'b': [1]})
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .errors import ClassWeightsError, ConfigError
from .stats import ClassStats


class Side(NamedTuple):
    """One side of a comparison: its label, the paths to scan and the layout split (if any)."""

    label: str
    paths: tuple[str, ...]
    split: str | None


def split_sides(
    paths: Sequence[str], *, layout: str | None = None, split: str | None = None
) -> tuple[Side, Side]:
    """The two sides ``compare-splits`` scans: two folders, or with a layout one dataset folder
    and two of its splits (``split="A,B"``; train and val by default).

    >>> split_sides(["train/", "val/"])[1]
    Side(label='val/', paths=('val/',), split=None)
    >>> [(s.label, s.split) for s in split_sides(["cityscapes/"], layout="cityscapes")]
    [('train', 'train'), ('val', 'val')]
    >>> split_sides(["VOC2012/"], layout="voc", split="train, trainval")[1].split
    'trainval'
    """
    paths = [str(p) for p in paths]
    if layout and len(paths) == 1:
        names = [n.strip() for n in (split or "train,val").split(",")]
        if len(names) != 2 or not all(names):
            raise ConfigError(
                f"--split {split!r}: give two of the layout's splits to compare, e.g. "
                "--split train,val"
            )
        return Side(names[0], (paths[0],), names[0]), Side(names[1], (paths[0],), names[1])
    if len(paths) != 2 or (split and "," in split):
        raise ConfigError(
            f"expected two splits to compare, got {len(paths)} path{'s' * (len(paths) != 1)}: "
            "give TRAIN VAL folders, or one dataset folder with --layout (its train and val "
            "splits, or --split A,B)"
        )
    return Side(paths[0], (paths[0],), split), Side(paths[1], (paths[1],), split)


def compare_side(
    compare: str, paths: Sequence[str], *, layout: str | None = None, split: str | None = None
) -> Side:
    """The second side of ``report --compare VAL``: a folder, or with a layout the name of
    another split of the same dataset (when no file or folder of that name exists).

    >>> compare_side("val", ["cityscapes/"], layout="cityscapes", split="train")
    Side(label='val', paths=('cityscapes/',), split='val')
    >>> compare_side("data/val", ["data/train"], split=None)
    Side(label='data/val', paths=('data/val',), split=None)
    """
    if layout and not os.path.exists(compare) and os.sep not in compare and "/" not in compare:
        return Side(compare, tuple(str(p) for p in paths), compare)
    return Side(compare, (compare,), split)


def js_divergence(p: ArrayLike, q: ArrayLike) -> float:
    """Jensen-Shannon divergence of two distributions, in bits (``0 <= JS <= 1``).

    ``JS(P, Q) = (KL(P || M) + KL(Q || M)) / 2`` with ``M = (P + Q) / 2`` and base-2
    logarithms; ``0 log 0 = 0``. Inputs are normalised to sum 1 (counts may be given); an
    all-zero input counts as identical to anything only when both are all zero.

    >>> js_divergence([1, 0], [0, 1]), js_divergence([3, 1], [6, 2])
    (1.0, 0.0)
    """
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    sp, sq = p.sum(), q.sum()
    if sp == 0 and sq == 0:
        return 0.0
    if sp == 0 or sq == 0:
        return 1.0
    p, q = p / sp, q / sq
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float((x[nz] * np.log2(x[nz] / m[nz])).sum())

    return min(max((kl(p) + kl(q)) / 2, 0.0), 1.0)


def compare_splits(
    a: ClassStats, b: ClassStats, *, labels: tuple[str, str] = ("train", "val")
) -> dict[str, Any]:
    """Per-class drift between two splits with the same label space.

    Args:
        a: statistics of the first split (e.g. train).
        b: statistics of the second split (e.g. val).
        labels: display names of the two splits.

    Returns:
        A JSON-able dict: ``labels``, ``num_classes``, ``images`` ``[a, b]``,
        ``labelled_pixels`` ``[a, b]``, ``js_divergence_bits`` (float in ``[0, 1]``),
        ``missing`` (``{"a": ids absent from a but present in b, "b": the reverse}``) and
        ``classes``: one row per class with ``id``, ``name``, ``pixels_a``/``_b``,
        ``share_a``/``_b`` (of the labelled pixels), ``ratio`` (``share_b / share_a``;
        ``None`` where ``share_a`` is 0), ``images_a``/``_b`` (images containing the class),
        ``image_frac_a``/``_b`` (those over the split's images) and ``missing_from``
        (``"a"``, ``"b"``, ``"both"`` or ``None``).

    Raises:
        ClassWeightsError: the splits differ in ``num_classes`` or multi-label kind.
    """
    for attr in ("num_classes", "multilabel"):
        if getattr(a, attr) != getattr(b, attr):
            raise ClassWeightsError(
                f"cannot compare splits with {attr}={getattr(a, attr)!r} and "
                f"{attr}={getattr(b, attr)!r}; scan both with the same --num-classes and options"
            )
    names = a.names if a.class_names else b.names
    pa, pb = a.pixels, b.pixels
    sa, sb = a.share, b.share
    ia, ib = a.images, b.images
    na, nb = a.num_images, b.num_images
    rows = []
    for c, name in enumerate(names):
        gone = [k for k, n in (("a", pa[c]), ("b", pb[c])) if n == 0]
        rows.append(
            {
                "id": c,
                "name": name,
                "pixels_a": int(pa[c]),
                "pixels_b": int(pb[c]),
                "share_a": float(sa[c]),
                "share_b": float(sb[c]),
                "ratio": float(sb[c] / sa[c]) if sa[c] > 0 else None,
                "images_a": int(ia[c]),
                "images_b": int(ib[c]),
                "image_frac_a": ia[c] / na if na else 0.0,
                "image_frac_b": ib[c] / nb if nb else 0.0,
                "missing_from": "both" if len(gone) == 2 else (gone[0] if gone else None),
            }
        )
    for r in rows:
        r["image_frac_a"], r["image_frac_b"] = float(r["image_frac_a"]), float(r["image_frac_b"])
    js = js_divergence(pa, pb)
    return {
        "labels": list(labels),
        "num_classes": a.num_classes,
        "images": [na, nb],
        "labelled_pixels": [a.labelled_pixels, b.labelled_pixels],
        "js_divergence_bits": js,
        "js_distance": math.sqrt(js),
        "missing": {
            "a": np.flatnonzero((pa == 0) & (pb > 0)).tolist(),
            "b": np.flatnonzero((pb == 0) & (pa > 0)).tolist(),
        },
        "classes": rows,
    }
