"""The cache: a store of statistics and weight records, keyed by the dataset and the settings.

The store knows nothing of what it stores (as zarr's stores): it computes keys (`fingerprint`,
`identity`), reads and writes entries atomically with checksums (`store`, `disk`), names weight
records (`weights`) and shows what it holds (`admin`). It never scans and never computes a
weight: the pipeline (:mod:`classweights.pipeline`) decides hits, misses and incremental
rescans. ``cached_scan`` and ``load_weights`` moved there (``classweights.cached_scan``,
``classweights.load_weights``); importing them from here still works, with a warning.
"""

from __future__ import annotations

import warnings
from typing import Any

from .admin import clear_entries, describe_entry, list_entries, parse_age
from .loader import CacheInfo, CacheWarning, Listing
from .store import (
    CacheCorrupt,
    CacheEntry,
    Entry,
    EntryRemoved,
    LockTimeout,
    Store,
    default_cache_dir,
)
from .weights import compute_named, find_records, weight_file_name

_MOVED = {"cached_scan": "classweights.pipeline", "load_weights": "classweights.pipeline"}


def __getattr__(name: str) -> Any:
    """``classweights.cache.cached_scan`` / ``load_weights``: moved to the pipeline."""
    if name in _MOVED:
        import importlib

        warnings.warn(
            f"classweights.cache.{name} moved to {_MOVED[name]} (also classweights.{name}); "
            "import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'classweights.cache' has no attribute {name!r}")


__all__ = [
    "CacheCorrupt",
    "CacheEntry",
    "CacheInfo",
    "CacheWarning",
    "Entry",
    "EntryRemoved",
    "Listing",
    "LockTimeout",
    "Store",
    "clear_entries",
    "compute_named",
    "default_cache_dir",
    "describe_entry",
    "find_records",
    "list_entries",
    "parse_age",
    "weight_file_name",
]
