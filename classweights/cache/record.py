"""Where the weight record's helpers used to live; the record is now
:class:`classweights.records.WeightRecord` (``WeightRecord.load`` is the one reader).

These functions keep working on the plain dict form (``record.to_dict()``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..records import (
    RECORD_SCHEMA,
    WeightRecord,
    plain,
    record_checksum,
    stats_counts,
)
from ..stats import ClassStats


def weight_record(
    stats: ClassStats,
    weights: Any,
    method: str,
    options: dict[str, Any],
    *,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """The record saved in a ``.pth`` file, as a dict (see ``WeightRecord.build``)."""
    return WeightRecord.build(stats, weights, method, options, fingerprint=fingerprint).to_dict()


def seal(record: dict[str, Any]) -> dict[str, Any]:
    """Set ``record["checksum"]`` over every other field (call again after editing a record)."""
    record.pop("checksum", None)
    record["checksum"] = record_checksum(record)
    return record


def save_record(record: dict[str, Any], path: str | Path) -> Path:
    """Write a record dict atomically (its checksum verified first)."""
    return WeightRecord.from_dict(record, source=str(path)).save(path)


def load_record(path: str | Path) -> dict[str, Any]:
    """``WeightRecord.load(path)`` as the dict a ``.pth`` holds (checksum verified)."""
    return WeightRecord.load(path).to_dict()


def load_any_record(path: str | Path) -> dict[str, Any]:
    """``WeightRecord.load(path)`` as plain data (``show``)."""
    return WeightRecord.load(path).as_dict()


__all__ = [
    "RECORD_SCHEMA",
    "load_any_record",
    "load_record",
    "plain",
    "record_checksum",
    "save_record",
    "seal",
    "stats_counts",
    "weight_record",
]
