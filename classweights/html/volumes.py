"""Volumes and objects in the HTML report: class-table columns, the spacing summary of the
overview, and the object-size histogram. Shown only when the statistics carry them.

The per-class fields come from :func:`classweights.report.volumes.volume_fields` (the same
numbers as ``stats --format json`` and the terminal table); only the histogram is computed
here, from ``ClassStats.object_sizes`` (no mask is read).

>>> from classweights import ClassStats
>>> volume_data(ClassStats.from_counts([[1, 2]])) is None  # plain 2-D scan: nothing shown
True
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..report.volumes import units_note
from ..stats import ClassStats
from .cells import cell, figure, section
from .svg import size_bars, size_grid

#: Style added to the page only when it shows volumes or objects (the spacing table).
CSS = (
    "table.spacing{font-size:12.5px}table.spacing th{position:static;cursor:default}"
    "table.spacing th,table.spacing td{padding:1px 8px}"
)

#: Class-table columns ``(field, header, number kind, hover text)`` in the order shown, when
#: present; ``{unit}`` is voxels (volumes) or pixels (2-D masks).
COLUMNS = (
    ("volume_mm3", "volume mm³", "num", "labelled volume: voxels x voxel volume, summed"),
    ("objects", "objects", "int", "connected components of the class, all images"),
    ("objects_per_image", "objects / image", "float", "objects per image holding the class"),
    ("object_min", "min object", "num", "smallest object, {unit}"),
    ("object_median", "median object", "num", "median object size, {unit}"),
    ("object_p90", "p90 object", "num", "90th percentile of object sizes, {unit}"),
    ("object_max", "max object", "num", "largest object, {unit}"),
    ("object_median_mm3", "median object mm³", "num", "median object volume, mm³"),
    (
        "images_with_small_objects",
        "small-object images",
        "int",
        "images holding an object below {small} {unit}",
    ),
)


def volume_data(stats: ClassStats) -> dict[str, Any] | None:
    """Overview fields, per-class columns and histogram of ``stats``; None for a plain 2-D
    scan without objects."""
    from ..report.volumes import volume_fields

    ds, rows = volume_fields(stats)
    if not ds:
        return None
    unit = "voxels" if stats.shape is not None else "pixels"
    first = rows[0] if rows else {}
    small = ds.get("objects", {}).get("small_below")
    cols = [
        (k, h, kind, tip.format(unit=unit, small=small))
        for k, h, kind, tip in COLUMNS
        if k in first and (k != "volume_mm3" or first[k] is not None)
    ]
    hist = None
    if stats.object_counts is not None:
        hist = size_histogram(stats)
    return {"dataset": ds, "rows": rows, "columns": cols, "unit": unit, "histogram": hist}


def size_bins(sizes: NDArray[np.int64]) -> NDArray[np.int64]:
    """Log₂ bin of each size (``k`` holds ``2**k <= size < 2**(k+1)``), exact below 2**53.

    >>> size_bins(np.array([1, 2, 3, 4, 7, 8, 1023, 1024])).tolist()
    [0, 1, 1, 2, 2, 3, 9, 10]
    """
    return np.frexp(np.asarray(sizes, np.float64))[1].astype(np.int64) - 1


def size_histogram(stats: ClassStats) -> dict[str, Any]:
    """Objects per log₂ size bin, overall and per class (``counts[c][b]``)."""
    from ..objects import component_table

    _, cls, size = component_table(stats)
    if not size.size:
        return {"lows": [], "overall": [], "counts": [[] for _ in range(stats.num_classes)]}
    b = size_bins(size)
    lo, hi = int(b.min()), int(b.max())
    grid = np.zeros((stats.num_classes, hi - lo + 1), np.int64)
    np.add.at(grid, (cls, b - lo), 1)
    return {
        "lows": [2**k for k in range(lo, hi + 1)],
        "overall": grid.sum(axis=0).tolist(),
        "counts": grid.tolist(),
    }


# ---- markup ----------------------------------------------------------------------------------
def overview_rows(v: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, html)`` rows for the overview list."""
    ds = v["dataset"]
    rows: list[tuple[str, str]] = []
    vol = ds.get("volumes")
    if vol:
        rows.append(("volumes", figure("ov:volumes", vol["images"])))
        if vol["volume_mm3"] is not None:
            rows.append(("labelled volume mm³", figure("ov:volume_mm3", vol["volume_mm3"], "num")))
        if vol["spacing"]:
            rows.append(("voxel spacing (mm)", spacing_table(vol["spacing"])))
        note = units_note(vol)
        if note:
            rows.append(("spacing unit", escape(note)))
    obj = ds.get("objects")
    if obj:
        conn = {"full": "full: 8 in 2-D, 26 in 3-D", "face": "face: 4 in 2-D, 6 in 3-D"}
        how = conn.get(obj["connectivity"], str(obj["connectivity"]))
        rows.append(
            (
                "objects",
                figure("ov:objects", obj["objects"])
                + escape(f" (connectivity {how}; small: below {obj['small_below']} {v['unit']})"),
            )
        )
    return rows


def spacing_table(sp: dict[str, list[float]]) -> str:
    axes = len(sp["median"])
    head = "".join(f"<th>axis {a}</th>" for a in range(axes))
    body = "".join(
        f"<tr><td>{k}</td>"
        + "".join(
            f"<td>{figure(f'sp:{k}:{a}', float(sp[k][a]), 'float')}</td>" for a in range(axes)
        )
        + "</tr>"
        for k in ("median", "min", "max")
    )
    return (
        f'<table class="spacing"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def objects_html(d: dict[str, Any]) -> str:
    """The object-size section: all objects per size bin, then one row per class."""
    v = d["volumes"]
    h, unit = v["histogram"], v["unit"]
    if not h["lows"]:
        return section("objects", "Object sizes", "<p>No objects were found.</p>")
    names = [r["name"] for r in d["classes"]]
    keep = [c for c, row in enumerate(h["counts"]) if sum(row)]
    grid = size_grid(
        [names[c] for c in keep], keep, h["lows"], [h["counts"][c] for c in keep], unit
    )
    body = (
        f"<h3>All classes ({figure('hist:total', sum(h['overall']))} objects)</h3>"
        f'<div class="scroll">{size_bars(h["lows"], h["overall"], unit)}</div>'
        "<h3>Per class (classes with objects)</h3>"
        f'<div class="scroll">{grid}</div>'
    )
    note = (
        f"Connected components per size, in {unit}, on log₂ bins (a bin holds sizes from "
        "its label up to twice it). Hover a bar or cell for its exact count."
    )
    return section("objects", "Object sizes", body, note)


def class_cells(v: dict[str, Any], c: int) -> list[str]:
    """The class table's volume and object cells of class ``c``."""
    row = v["rows"][c]
    return [cell(f"v:{k}:{c}", row[k], kind) for k, _, kind, _ in v["columns"]]
