"""Plain renderings of results, no rich: the JSON object, JSON and CSV text, and the short
lines printed under the tables. Computes nothing itself.

CSV fields holding text from the dataset go through :func:`classweights.text.csv_cell`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..stats import ClassStats
from ..text import csv_cell
from .volumes import units_note, volume_fields


def stats_dict(
    stats: ClassStats,
    *,
    weights: Sequence[float] | None = None,
    method: str | None = None,
    fingerprint: str | None = None,
    cache: dict[str, Any] | None = None,
    extra_columns: dict[str, Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """The JSON object of ``stats``/``compute`` (shape documented in ARCHITECTURE.md)."""
    share = stats.share
    pixels, images, image_pixels = stats.pixels, stats.images, stats.image_pixels
    classes = []
    for c, name in enumerate(stats.names):
        row: dict[str, Any] = {
            "id": c,
            "name": name,
            "pixels": int(pixels[c]),
            "share": float(share[c]),
            "images": int(images[c]),
            "image_pixels": int(image_pixels[c]),
            "weight": None if weights is None else float(weights[c]),
        }
        if stats.multilabel:
            row["negatives"] = int(stats.negatives[c])
        for key, values in (extra_columns or {}).items():
            row[key] = values[c]
        classes.append(row)
    ds_extra, class_extra = volume_fields(stats)  # volumes (mm³, spacing) and objects
    for row, more in zip(classes, class_extra, strict=True):
        row.update(more)
    return {
        "num_classes": stats.num_classes,
        "ignore_index": stats.ignore_index,
        "method": method,
        "dataset": {
            "paths": stats.settings.get("paths", []),
            "images": stats.num_images,
            "pixels": stats.total_pixels,
            "ignored_pixels": stats.ignored_pixels,
            "unknown_pixels": stats.unknown_pixels,
            "unknown_values": stats.unknown_values,
            "sampled": stats.sampled,
            "sample": stats.sample,
            "skipped": [{"path": p, "error": e} for p, e in stats.skipped],
            "multilabel": stats.multilabel,
            "fingerprint": fingerprint,
            **ds_extra,
        },
        "classes": classes,
        "cache": cache,
    }


#: a table of more unnamed classes than this (inferred from instance ids, say) lists the ones
#: with the most pixels in the terminal and in Markdown; JSON and CSV list every class
MAX_TABLE_CLASSES = 200


def shown_classes(pixels: Sequence[int], names: Sequence[str]) -> tuple[list[int], str]:
    """The class ids a terminal or Markdown table lists, and the line saying what it leaves out
    ('' when it lists them all): classes with names are all listed; more than
    :data:`MAX_TABLE_CLASSES` unnamed ones are cut to those with the most pixels, in id order.

    >>> shown_classes([5, 0, 9], ["0", "1", "2"])
    ([0, 1, 2], '')
    >>> keep, line = shown_classes([1] * 201 + [0] * 99, [str(i) for i in range(300)])
    >>> print(len(keep), line)  # doctest: +NORMALIZE_WHITESPACE
    200 showing the 200 of 300 classes with the most pixels; 100 more are not listed (99 of
    them with no pixels): --format json or csv lists every class
    """
    n = len(names)
    if n <= MAX_TABLE_CLASSES or any(name != str(i) for i, name in enumerate(names)):
        return list(range(n)), ""
    order = sorted(range(n), key=lambda i: (-int(pixels[i]), i))
    keep, rest = sorted(order[:MAX_TABLE_CLASSES]), order[MAX_TABLE_CLASSES:]
    empty = sum(1 for i in rest if not pixels[i])
    line = (
        f"showing the {MAX_TABLE_CLASSES} of {n:,} classes with the most pixels; {len(rest):,} "
        f"more are not listed ({empty:,} of them with no pixels): --format json or csv lists "
        "every class"
    )
    return keep, line


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2)


def to_csv(data: dict[str, Any]) -> str:
    rows = data["classes"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def pct(share: float) -> str:
    """A share as a percentage that never shows a present class as 0.00%.

    >>> pct(0.2814), pct(3.2e-05), pct(0.0)
    ('28.14%', '0.0032%', '0.00%')
    """
    if 0 < share < 1e-4:
        return f"{100 * share:.2g}%"
    return f"{100 * share:.2f}%"


def totals_line(data: dict[str, Any]) -> str:
    ds = data["dataset"]
    parts = [
        f"{ds['images']:,} images",
        f"{ds['pixels']:,} pixels",
        f"{ds['ignored_pixels']:,} ignored",
        f"{ds['unknown_pixels']:,} unknown",
    ]
    if ds["unknown_values"]:
        shown = ", ".join(f"{k}: {v:,}" for k, v in list(ds["unknown_values"].items())[:6])
        parts[-1] += f" ({shown})"
    if ds["sampled"]:
        s = ds["sample"] or {}
        parts.append(f"SAMPLED {s.get('images')} of {s.get('population')} (seed {s.get('seed')})")
    if ds["skipped"]:
        parts.append(f"{len(ds['skipped'])} skipped")
    sp = (ds.get("volumes") or {}).get("spacing")
    if sp:  # mixed spacings: median (min..max) per axis, as nnU-Net's fingerprint
        axes = " x ".join(
            f"{m:g} ({lo:g}..{hi:g})"
            for m, lo, hi in zip(sp["median"], sp["min"], sp["max"], strict=True)
        )
        parts.append(f"spacing {axes} mm")
    note = units_note(ds.get("volumes") or {})
    if note:
        parts.append(note)
    return " · ".join(parts)


def format_array(values: np.ndarray) -> str:
    return ", ".join(f"{v:.4f}" for v in values)


def diagnosis_lines(diag: dict[str, Any]) -> list[str]:
    """The short imbalance summary printed under the tables."""
    lines = []
    if "max_min_ratio" in diag:
        parts = [
            f"imbalance: max/min pixels {diag['max_min_ratio']:,.0f}x",
            f"normalised entropy {diag['normalized_entropy']:.2f}",
        ]
        if diag.get("rare_classes"):
            parts.append(f"rare (<1% of pixels): {_some(diag['rare_classes'])}")
        if diag.get("rare_in_images"):
            parts.append(f"in <1% of images: {_some(diag['rare_in_images'])}")
        lines.append(" · ".join(parts))
    lines += [f"hint: {h}" for h in diag.get("hints", [])]
    return lines


def _some(ids: Sequence[Any], most: int = 12) -> str:
    """At most ``most`` ids, then how many more (JSON keeps them all).

    >>> _some(list(range(14)))
    '0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more'
    """
    shown = ", ".join(map(str, ids[:most]))
    return shown + (f" and {len(ids) - most:,} more" if len(ids) > most else "")


def record_dict(record: dict[str, Any]) -> dict[str, Any]:
    """A weight record (tensors) as plain JSON-able data."""

    def plain(v: Any) -> Any:
        if hasattr(v, "tolist"):
            return v.tolist()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in record.items()}


def compare_rows(
    stats: ClassStats, table: dict[str, list[float]]
) -> tuple[list[str], list[list[str]]]:
    share, names = stats.share, stats.names
    header = ["id", "class", "share", *table]
    keep, _ = shown_classes(stats.pixels, names)
    rows = [[str(c), names[c], pct(share[c]), *[f"{table[m][c]:.4g}" for m in table]] for c in keep]
    return header, rows


def compare_csv(stats: ClassStats, table: dict[str, list[float]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "name", *table])
    for c, name in enumerate(stats.names):
        writer.writerow([c, csv_cell(name), *[f"{table[m][c]:.6g}" for m in table]])
    return buf.getvalue()
