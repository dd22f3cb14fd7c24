"""Incremental rescans: patch the previous entry of a dataset, reading only what changed.

The previous entry (same settings, same root: its *lineage*) is reused only when it is of the
same folder (path, device, inode) and its sampled files still hash the same. Rows are taken
from the old per-image table for unchanged files and from a scan of the changed ones; rows
that had unknown pixels are read again, since unknown-value tallies are kept per dataset, so
the result equals a full rescan field for field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..cache.fingerprint import Fingerprint, entry_files, relative
from ..cache.identity import hash_files, same_root
from ..cache.store import CacheCorrupt, Store
from ..requests import ScanSettings
from ..stats import ClassStats, compact_uint


def incremental(
    store: Store,
    fp: Fingerprint,
    paths: list[str],
    entries: list[Any],
    settings: ScanSettings,
    rescan: Callable[[list[str], list[Any]], ClassStats],
) -> tuple[ClassStats | None, dict[str, int] | None]:
    """Patch the previous entry of this dataset: read only added and changed files.

    ``rescan(paths, entries)`` scans the given entries of ``paths`` under ``settings``.
    """
    if settings.sample is not None:
        return None, None
    prev = store.previous(fp.lineage)
    if prev is None or prev.key == fp.key:
        return None, None
    try:
        old = store.read_stats(prev, fp.root, paths)
    except CacheCorrupt:
        return None, None
    old_files = {p: (size, stamp) for p, size, stamp in prev.meta["listing"]}
    new_files = fp.files()
    changed = {p for p, v in new_files.items() if old_files.get(p) != tuple(v)}
    removed = set(old_files) - set(new_files)
    if not _same_bytes(prev.meta, fp, changed):
        return None, None
    if old.unknown_values and not old.image_unknown.any():
        return None, None  # tallies not attributable to rows: recount them all
    # unknown-value tallies are kept per dataset, not per image: rows that had unknown pixels
    # are read again, so the tallies are exactly those of the freshly read files
    unknown_rows = {old.sources[i] for i in np.flatnonzero(old.image_unknown)}
    stale = [
        e
        for e in entries
        if any(relative(f, fp.root) in changed for f in entry_files(e))
        or (unknown_rows and any(e.source_id(i) in unknown_rows for i in range(e.n)))
    ]
    stale_ids = {id(e) for e in stale}
    old_rows = {s: i for i, s in enumerate(old.sources)}
    fresh = rescan(paths, stale) if stale else None
    fresh_rows = {s: i for i, s in enumerate(fresh.sources)} if fresh else {}
    order: list[tuple[ClassStats, int]] = []
    for e in entries:
        src, index = (fresh, fresh_rows) if id(e) in stale_ids else (old, old_rows)
        for i in range(e.n):
            sid = e.source_id(i)
            if sid in index:
                order.append((src, index[sid]))
            elif src is old:  # not in the old table (e.g. skipped then): rescan everything
                return None, None
    stats = _assemble(old, fresh, order)
    return stats, {
        "reused_images": sum(1 for s, _ in order if s is old),
        "rescanned_files": len(stale),
        "removed_files": len(removed),
        "previous": prev.key,
    }


def _same_bytes(meta: dict[str, Any], fp: Fingerprint, changed: set[str]) -> bool:
    """The previous entry is of this folder: same root, and its sampled files that are
    listed as unchanged still hash the same (a folder replaced by other bytes is rescanned)."""
    if not same_root(meta.get("place"), list(fp.place)):
        return False
    stored = meta.get("probe") or {}
    files = fp.files()
    keep = sorted(p for p in stored if p in files and p not in changed)
    return hash_files(fp.root, keep) == {p: stored[p] for p in keep}


def _assemble(
    old: ClassStats, fresh: ClassStats | None, order: list[tuple[ClassStats, int]]
) -> ClassStats:
    """A ClassStats whose rows are taken, in order, from the old and the freshly scanned tables."""

    def take(attr: str) -> np.ndarray:
        return np.array([getattr(s, attr)[i] for s, i in order], dtype=np.int64)

    counts = (
        np.stack([s.counts[i].astype(np.int64) for s, i in order])
        if order
        else np.zeros((0, old.num_classes), np.int64)
    )
    # every row with unknown pixels was rescanned (see _incremental): the tallies are fresh's
    unknown = dict(fresh.unknown_values) if fresh is not None else {}
    return ClassStats(
        num_classes=old.num_classes,
        ignore_index=old.ignore_index,
        counts=counts.astype(compact_uint(int(counts.max(initial=0)))),
        image_total=take("image_total"),
        image_ignored=take("image_ignored"),
        image_unknown=take("image_unknown"),
        sources=[s.sources[i] for s, i in order],
        class_names=old.class_names,
        multilabel=old.multilabel,
        unknown_values={k: v for k, v in unknown.items() if v},
        skipped=(fresh.skipped if fresh else []),
        settings=dict(fresh.settings if fresh else old.settings),
        **_extras(order),
    )


def _extras(order: list[tuple[ClassStats, int]]) -> dict[str, np.ndarray]:
    """Volume and object rows of the assembled table, taken run by run from their sources."""
    sources = {id(s): s for s, _ in order}.values()  # the old table and the fresh one
    if not any(s.extras() for s in sources):
        return {}
    parts, i = [], 0
    while i < len(order):
        j = i
        while j < len(order) and order[j][0] is order[i][0]:
            j += 1
        parts.append(order[i][0].subset([k for _, k in order[i:j]]))
        i = j
    merged = parts[0]
    for p in parts[1:]:
        merged = merged + p
    return merged.extras()
