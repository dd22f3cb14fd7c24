"""JSON fields and table columns of 3-D volumes (spacing, mm³) and objects (components).

Only added when the statistics hold them; no existing field is renamed.
"""

from __future__ import annotations

from typing import Any

from ..stats import ClassStats
from ..stats_extras import units_assumed

SMALL_OBJECT = 10  # voxels: "images with a component below this size" (MONAI-style specks)


def volume_fields(stats: ClassStats) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(dataset fields, per-class fields)`` for ``stats`` JSON (empty for plain 2-D scans)."""
    ds: dict[str, Any] = {}
    rows: list[dict[str, Any]] = [{} for _ in range(stats.num_classes)]
    if stats.shape is not None:
        vol = stats.physical_volume
        assumed = units_assumed(stats)
        ds["volumes"] = {
            "images": int((stats.shape > 0).all(axis=1).sum()),
            "spacing": stats.spacing_summary(),  # median / min / max per axis, mm
            "volume_mm3": None if vol is None else float(vol.sum()),
            # volumes whose file gave a spacing without a unit: read as mm
            "spacing_units_assumed": bool(assumed),
            "spacing_units_assumed_volumes": assumed,
        }
        for c, row in enumerate(rows):
            row["volume_mm3"] = None if vol is None else float(vol[c])
    if stats.object_counts is not None:
        from ..object_stats import object_summary

        ds["objects"] = {
            "connectivity": stats.settings.get("objects", "full"),
            "small_below": SMALL_OBJECT,
            "objects": int(stats.object_counts.sum()),
        }
        for row, s in zip(rows, object_summary(stats, small=SMALL_OBJECT), strict=True):
            row["objects"] = s.pop("objects")
            row["images_with_small_objects"] = s.pop("images_with_small")
            row["objects_per_image"] = s.pop("mean_objects_per_image")
            row |= {f"object_{k}": v for k, v in s.items()}
    return ds, rows


def units_note(volumes: dict[str, Any]) -> str | None:
    """The note a report prints once when spacings were read as mm without a declared unit.

    >>> units_note({"images": 4, "spacing_units_assumed_volumes": 3})
    'spacing unit not declared by 3 of 4 volumes: mm assumed'
    """
    k = volumes.get("spacing_units_assumed_volumes") or 0
    if not k:
        return None
    return f"spacing unit not declared by {k:,} of {volumes['images']:,} volumes: mm assumed"


def table_columns(data: dict[str, Any]) -> tuple[str, ...]:
    """Extra table columns for the fields above, when present."""
    first = data["classes"][0] if data["classes"] else {}
    cols: tuple[str, ...] = ()
    if first.get("volume_mm3") is not None:
        cols += ("volume_mm3",)
    if "objects" in first:
        cols += ("objects", "object_median")
    return cols


def fmt(value: Any) -> str:
    """A table cell for these columns (thousands separators, no float noise)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"
