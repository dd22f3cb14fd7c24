"""Class co-occurrence in the HTML report: how many images hold both classes of a pair.

The page stays O(classes): a dense matrix (heat map, exact counts for the hover readout, the
classes that never meet) only up to :data:`DENSE_MAX` classes -- all classes when there are
that few, else the present ones; with more classes present, the :data:`TOP_PAIRS` pairs that
share the most images, and how many pairs never meet. The pairs are found block by block
(:func:`top_pairs`), so memory stays O(images x classes) -- what the statistics hold -- even at
65,536 classes, where one dense matrix would take 34 GB.

>>> from classweights import ClassStats
>>> d = cooccurrence_data(ClassStats.from_counts([[3, 1, 0], [2, 0, 0]]))
>>> d["mode"], d["ids"], d["matrix"].tolist()
('dense', [0, 1, 2], [[2, 1, 0], [1, 1, 0], [0, 0, 0]])
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..stats import ClassStats
from .cells import json_island, section
from .svg import heat_map

#: A dense matrix up to this many classes (all of them, or the present ones)
DENSE_MAX = 256
#: Pairs listed when more classes than :data:`DENSE_MAX` are present
TOP_PAIRS = 200
#: Partner names listed per class in "never together" (the page says how many more)
NEVER_LIMIT = 40
#: Elements of one block of the pair search (classes x classes), about 32 MB of float64
BLOCK = 1 << 22


def cooccurrence(counts: NDArray[Any]) -> NDArray[np.int64]:
    """``(C, C)`` number of images holding both class ``i`` and class ``j`` (diagonal: images
    holding ``i``). A float64 product (exact below 2**53 images) keeps 30,000 x 150 fast."""
    present = (np.asarray(counts) > 0).astype(np.float64)
    return np.rint(present.T @ present).astype(np.int64)


def never_together(
    co: NDArray[np.int64], names: Sequence[str], ids: Sequence[int]
) -> list[dict[str, Any]]:
    """For each present class of the matrix ``co`` (whose rows are the classes ``ids``), the
    present classes it never shares an image with."""
    present = np.diag(co) > 0
    rows = []
    for i in np.flatnonzero(present):
        partners = [int(j) for j in np.flatnonzero(present & (co[i] == 0)) if j != i]
        if partners:
            rows.append(
                {
                    "id": int(ids[i]),
                    "name": names[i],
                    "never": [int(ids[j]) for j in partners],
                    "never_names": [names[j] for j in partners],
                }
            )
    return rows


def top_pairs(
    counts: NDArray[Any], ids: NDArray[np.int64], k: int = TOP_PAIRS
) -> tuple[list[tuple[int, int, int]], int]:
    """The ``k`` pairs ``(i, j, images with both)`` of the classes ``ids`` (``i < j``) that
    share the most images, most first (ties: lower ids first), and the number of pairs that
    share at least one image. Blocks of rows of the co-occurrence matrix are computed from the
    images holding a class of the block; the matrix is never held whole.

    >>> top_pairs(np.array([[1, 1, 1], [1, 1, 0], [0, 0, 1]]), np.arange(3), k=2)
    ([(0, 1, 2), (0, 2, 1)], 3)
    """
    p = len(ids)
    exact32 = counts.shape[0] < (1 << 24)  # float32 sums of 0/1 are exact below 2**24 images
    held = (np.asarray(counts)[:, ids] > 0).astype(np.float32 if exact32 else np.float64)
    step = max(1, BLOCK // max(p, 1))
    best = np.zeros((0, 3), np.int64)  # rows (count, i, j)
    together = 0
    for a in range(0, p, step):
        rows = held[:, a : a + step].any(1)
        if not rows.any():
            continue
        part = held[rows] if rows.mean() < 0.5 else held  # the images holding a block class
        later = part.any(0)  # and, of theirs, the classes j >= a (pairs i < j)
        later[:a] = False
        cj = np.flatnonzero(later)
        g = np.rint(part[:, a : a + step].T @ part[:, cj]).astype(np.int64)
        g[cj[None, :] <= np.arange(a, a + g.shape[0])[:, None]] = 0
        flat = g.ravel()
        hit = np.flatnonzero(flat)
        together += len(hit)
        if len(hit) > k:  # the k largest; at the k-th value, the lowest ids (hit is sorted)
            vals = flat[hit]
            kth = np.partition(vals, len(vals) - k)[len(vals) - k]
            above = hit[vals > kth]
            hit = np.concatenate([above, hit[vals == kth][: k - len(above)]])
        found = np.stack([flat[hit], a + hit // len(cj), cj[hit % len(cj)]], axis=1)
        best = np.concatenate([best, found])
        best = best[np.lexsort((best[:, 2], best[:, 1], -best[:, 0]))[:k]]
    pairs = [(int(ids[i]), int(ids[j]), int(v)) for v, i, j in best.tolist()]
    return pairs, together


def cooccurrence_data(stats: ClassStats) -> dict[str, Any]:
    """What the section shows: ``mode`` ``"dense"`` (``ids``, ``matrix``, ``never``) or
    ``"pairs"`` (``pairs``, ``together``, ``present``)."""
    counts = np.asarray(stats.counts)
    c = counts.shape[1]
    names = stats.names
    present = np.flatnonzero(counts.any(0))
    if c <= DENSE_MAX or len(present) <= DENSE_MAX:
        ids = np.arange(c) if c <= DENSE_MAX else present
        co = cooccurrence(counts[:, ids])
        shown = [names[i] for i in ids]
        return {
            "mode": "dense",
            "ids": ids.tolist(),
            "names": shown,
            "matrix": co,
            "never": never_together(co, shown, ids.tolist()),
            "left_out": c - len(ids),
        }
    pairs, together = top_pairs(counts, present)
    return {
        "mode": "pairs",
        "pairs": [(i, j, v, names[i], names[j]) for i, j, v in pairs],
        "together": together,
        "present": len(present),
    }


def cooccurrence_html(d: dict[str, Any]) -> str:
    """The section, from ``d["cooccurrence"]`` (:func:`cooccurrence_data`)."""

    co = d["cooccurrence"]
    if co["mode"] == "pairs":
        return _pairs_html(co)
    island = json_island("cooc-data", {"names": co["names"], "counts": co["matrix"].tolist()})
    body = (
        f'<p id="cooc-readout" class="readout">Hover a cell: class &times; class: images.</p>'
        f'<div class="scroll">{heat_map(co["matrix"], co["names"])}</div>{island}'
    )
    if co["never"]:
        items = []
        for r in co["never"]:
            shown = r["never_names"][:NEVER_LIMIT]
            more = len(r["never_names"]) - len(shown)
            tail = f" and {more} more" if more else ""
            items.append(
                f'<li data-id="{r["id"]}"><b>{escape(r["name"])}</b> never with: '
                f"{escape(', '.join(shown))}{tail}</li>"
            )
        body += (
            '<h3>Classes that never appear together</h3><div class="longlist">'
            f'<ul class="never">{"".join(items)}</ul></div>'
        )
    else:
        body += "<p>Every pair of present classes shares at least one image.</p>"
    note = (
        "Images holding both classes (diagonal: images holding the class), from the "
        "per-image table."
    )
    if co["left_out"]:
        note += f" The {co['left_out']:,} classes absent from every image are left out."
    return section("cooccurrence", "Class co-occurrence", body, note)


def _pairs_html(co: dict[str, Any]) -> str:
    p = co["present"]
    pairs = p * (p - 1) // 2
    rows = "".join(
        f'<tr><td class="num">{i}</td><td>{escape(a)}</td><td class="num">{j}</td>'
        f'<td>{escape(b)}</td><td class="num" data-k="pair:{i}:{j}" data-v="{v}" '
        f'data-f="int">{v:,}</td></tr>'
        for i, j, v, a, b in co["pairs"]
    )
    body = (
        f"<p>{co['together']:,} of the {pairs:,} pairs of present classes share at least one "
        f"image; {pairs - co['together']:,} never do.</p>"
        '<h3>The pairs that share the most images</h3><div class="scroll">'
        '<table class="pairs"><thead><tr><th>id</th><th>class</th><th>id</th><th>class</th>'
        f"<th>images with both</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
    note = (
        f"{p:,} classes are present: a matrix of every pair would hold {p * p:,} cells, so the "
        f"{len(co['pairs'])} pairs that share the most images are listed instead (a matrix is "
        f"drawn up to {DENSE_MAX} classes)."
    )
    return section("cooccurrence", "Class co-occurrence", body, note)
