"""Cached statistics and weights, keyed by the dataset's contents and the scan settings.

    stats, info = cached_scan("gtFine/train", num_classes=19, ignore_index=255)
    w = load_weights("gtFine/train", method="sqrt_inv_freq", num_classes=19, ignore_index=255)

A warm ``load_weights`` lists and stats the files (that is the fingerprint), opens one ``.pth``
and returns its tensor. On a miss the dataset is scanned once under a file lock (other
processes wait and then read), or, when an earlier entry of the same dataset and settings
exists, only the added and changed files are read and the per-image table is patched.

One job per module: `loader` (the cached scan), `weights` (weight records, ``load_weights``),
`incremental` (patching the previous entry), `fingerprint` and `identity` (the key and
which dataset an entry is of), `store` (entries on disk, locks), `record` (``.pth`` records),
`admin` (what ``classweights cache list|show|clear`` show and do).
"""

from __future__ import annotations

from .admin import clear_entries, describe_entry, list_entries, parse_age
from .loader import CacheInfo, CacheWarning, Listing, cached_scan
from .store import CacheCorrupt, Entry, EntryRemoved, LockTimeout, Store, default_cache_dir
from .weights import compute_named, find_records, load_weights, weight_file_name

__all__ = [
    "CacheCorrupt",
    "CacheInfo",
    "CacheWarning",
    "Entry",
    "EntryRemoved",
    "Listing",
    "LockTimeout",
    "Store",
    "cached_scan",
    "clear_entries",
    "compute_named",
    "default_cache_dir",
    "describe_entry",
    "find_records",
    "list_entries",
    "load_weights",
    "parse_age",
    "weight_file_name",
]
