"""The cached path of the pipeline: look a request up, else count it once under a lock, store it.

The store (:mod:`classweights.cache`) only reads and writes entries; this module decides hits,
misses, incremental rescans and what goes into an entry. A request is fingerprinted once: by
the quick walk where it applies (one local folder of images), else from its discovered entries
(the `MaskSource` lists them once); both give the same key. A Hugging Face dataset is keyed by
its identity (`table_fingerprint`) and is never rescanned incrementally.
"""

from __future__ import annotations

import errno
import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..cache.fingerprint import (
    Fingerprint,
    fingerprint,
    quick_fingerprint,
    table_fingerprint,
    table_stamps,
)
from ..cache.identity import Identity, alt_key
from ..cache.loader import CacheInfo, CacheWarning, changed_since
from ..cache.store import CacheCorrupt, EntryRemoved, Store
from ..cache.weights import weight_file_name as weight_file_name
from ..errors import ClassWeightsError
from ..records import RECORD_SCHEMA, WeightRecord
from ..requests import CacheOptions, MaskSource
from ..stats import ClassStats
from . import notes
from .incremental import incremental

log = logging.getLogger("classweights.cache")

Count = Callable[[MaskSource, Any], ClassStats]  # (source, entries or None) -> statistics


def full_fingerprint(source: MaskSource, verify: bool) -> Fingerprint:
    """The fingerprint of the discovered entries (computed once per request and ``verify``).

    What discovery warns (a mask given twice...) is kept in ``source.memo["listing notes"]``,
    stored with the entry and raised once by whoever serves the statistics."""
    memo = f"fingerprint:{verify}"
    if memo not in source.memo:
        if source.table is not None:
            fp = table_fingerprint(source.table, source.settings.key(), verify)
        else:
            with notes.collect(reraise=False) as listed:
                entries = source.entries
            source.memo["listing notes"] = notes.merged(source.memo.get("listing notes"), listed)
            fp = fingerprint(source.paths, entries, source.settings.key(), verify)
        source.memo[memo] = fp
    return source.memo[memo]


def lookup_fingerprint(source: MaskSource, verify: bool) -> Fingerprint:
    """The key to look a request up by: the quick walk where it applies, else the full one."""
    if not verify and source.paths is not None and "entries" not in source.__dict__:
        quick = quick_fingerprint(source.paths, source.settings.key())
        if quick is not None:
            return quick
    return full_fingerprint(source, verify)


# ---- statistics -----------------------------------------------------------------------------
def cached_statistics(
    source: MaskSource, cache: CacheOptions, count: Count
) -> tuple[ClassStats, CacheInfo]:
    """Statistics of ``source`` from the store, else counted once and stored."""
    store = Store(cache.folder)
    names = source.settings.names
    if not cache.refresh:
        hit = _hit(store, lookup_fingerprint(source, cache.verify), source)
        if hit is not None:
            return hit
    fp = full_fingerprint(source, cache.verify)
    _raise_listing_notes(source)
    if not store.writable():
        warnings.warn(
            f"the cache folder {store.root} is not writable; scanning without the cache",
            CacheWarning,
            stacklevel=4,
        )
        return count(source, None), CacheInfo(fp.key, None, False)
    fp = _own_key(store, fp)
    stats = inc = None
    try:
        with store.lock(fp.key, cache.lock_timeout):
            if not cache.refresh:  # another process may have written it while we waited
                hit = _hit(store, fp, source)
                if hit is not None:
                    return hit
            previous = store.previous(fp.lineage)
            with notes.collect() as found:
                if source.table is None:
                    stats, inc = incremental(
                        store,
                        fp,
                        source.paths,
                        source.entries,
                        source.settings,
                        lambda paths, entries: count(source, entries),
                    )
                if stats is None:
                    stats = count(source, None)
            listed = source.memo.get("listing notes")
            kept = notes.merged(
                listed, previous.meta.get("warnings") if inc and previous else (), found
            )
            if _changed(source, fp):
                shown = ", ".join(source.table.inputs if source.table else source.paths or [])
                warnings.warn(
                    f"files of {shown} changed while they were scanned; the "
                    "statistics are returned but not cached (rerun once the dataset is stable)",
                    CacheWarning,
                    stacklevel=4,
                )
                return _named(stats, names), CacheInfo(fp.key, None, False, inc)
            if cache.refresh:
                store.remove(fp.key)
            me = Identity.of(fp)
            probe = me.probe if fp.place else None  # no place (a Hugging Face dataset): no probe
            extra = {"place": list(fp.place), "probe": probe, "warnings": kept}
            entry = store.write(fp, stats, extra)
            if inc is not None and inc.get("previous"):
                store.remove(inc.pop("previous"))  # the entry is re-keyed: the old key is gone
    except OSError as e:  # disk full, quota, read-only remount, ... while locking or writing
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            what = f"the cache folder {store.root} is full ({e.strerror or e})"
        else:
            what = f"could not write into the cache folder {store.root} ({e.strerror or e})"
        fix = "free space there, pass --cache-dir DIR elsewhere, or --no-cache"
        if stats is None:
            warnings.warn(f"{what}; scanning without the cache ({fix})", CacheWarning, stacklevel=4)
            stats = count(source, None)
        else:
            warnings.warn(
                f"{what}; the statistics were computed but not cached ({fix})",
                CacheWarning,
                stacklevel=4,
            )
        return _named(stats, names), CacheInfo(fp.key, None, False, inc)
    return _named(stats, names), CacheInfo(fp.key, str(entry.path), False, inc)


def _raise_listing_notes(source: MaskSource, stored: Any = None) -> None:
    """Raise what discovery warned (held back) and what an entry stored, once per request."""
    seen = source.memo.setdefault("raised", set())
    notes.replay(notes.merged(stored, source.memo.get("listing notes")), seen)


def _changed(source: MaskSource, fp: Fingerprint) -> bool:
    """True if the dataset changed while it was scanned (then it is not cached)."""
    if source.table is not None:
        return tuple(table_stamps(source.table)) != fp.stamps
    return changed_since(fp, source.entries, lambda: _relisted(source))


def _relisted(source: MaskSource) -> Any:
    """The entries of ``source`` listed again (to see whether a remote dataset changed)."""
    return MaskSource(source.source, source.settings).entries


def _hit(store: Store, fp: Fingerprint, source: MaskSource) -> tuple[ClassStats, CacheInfo] | None:
    """The stored statistics of ``fp`` (under its own key if another dataset has the listing),
    with their warnings raised again; None on a miss."""
    fp = _own_key(store, fp)
    try:
        entry = store.entry(fp.key)
        if entry is None:
            return None
        shown = source.table.inputs if source.table is not None else source.paths
        stats = store.read_stats(entry, fp.root, shown)
    except EntryRemoved:  # `cache clear` raced us: a plain miss
        return None
    except CacheCorrupt as e:
        warnings.warn(f"{e}; recomputing it", CacheWarning, stacklevel=5)
        store.remove(fp.key)
        return None
    _raise_listing_notes(source, entry.meta.get("warnings"))
    stats = _named(stats, source.settings.names)
    return stats, CacheInfo(fp.key, str(entry.path), True)


def _own_key(store: Store, fp: Fingerprint) -> Fingerprint:
    """``fp``, or ``fp`` under its own key when the entry of ``fp.key`` holds another dataset
    with the same listing (made elsewhere and its sampled bytes differ; see identity.py)."""
    try:
        entry = store.entry(fp.key)
    except ClassWeightsError:
        return fp  # corrupt: `_hit` reports it and recomputes
    if entry is None:
        return fp
    me = Identity.of(fp)
    if me.confirms(entry.meta):
        return fp
    log.info("cache entry %s has the listing but not the bytes of %s", fp.key, fp.root)
    return replace(fp, key=alt_key(fp.key, me.probe))


def _named(stats: ClassStats, names: list[str] | None) -> ClassStats:
    """The class names of *this* request, as a scan would give them (never an earlier one's)."""
    return replace(stats, class_names=list(names) if names is not None else None)


# ---- weight records -------------------------------------------------------------------------
def warm_record(source: MaskSource, name: str, cache: CacheOptions) -> WeightRecord | None:
    """The stored record ``name`` if the dataset is unchanged (None on any miss)."""
    try:
        fp = lookup_fingerprint(source, cache.verify)
        store = Store(cache.folder)
        me = Identity.of(fp)
        record = _record_at(store.entry_dir(fp.key) / "weights" / f"{name}.pth", fp.key)
        if record is None or me.confirms(record.dataset):
            return record
        # same listing, other bytes: this dataset's entry lives under its own key
        key = alt_key(fp.key, me.probe)
        record = _record_at(store.entry_dir(key) / "weights" / f"{name}.pth", key)
        return record if record is not None and me.confirms(record.dataset) else None
    except (OSError, ClassWeightsError):
        return None


def _record_at(path: Path, key: str) -> WeightRecord | None:
    """The weight record at ``path`` if it is intact, current and made for ``key``."""
    if not path.is_file():
        return None
    try:
        record = WeightRecord.load(path)
    except ClassWeightsError as e:
        if path.exists():  # else removed by `cache clear` meanwhile: a plain miss
            warnings.warn(f"{e}; recomputing it", CacheWarning, stacklevel=5)
        return None
    if record.schema != RECORD_SCHEMA or record.checksum is None:
        warnings.warn(
            f"{path}: not a checksummed weight record of this version; recomputing it",
            CacheWarning,
            stacklevel=5,
        )
        return None
    if record.dataset.get("fingerprint") != key:
        warnings.warn(
            f"{path}: belongs to another dataset; recomputing it", CacheWarning, stacklevel=5
        )
        return None
    return record


def store_record(
    record: WeightRecord, info: CacheInfo, name: str, found: list[dict[str, str]]
) -> WeightRecord:
    """Save ``record`` beside its cache entry, stamped with the entry's place and probe and
    the warnings of the scan and of the weights (``found``), raised again on a warm hit."""
    meta_file = Path(str(info.path)) / "meta.json"
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError):
        return record  # removed meanwhile: nothing to store beside
    record = record.with_dataset(
        place=meta.get("place"),
        probe=meta.get("probe"),
        warnings=notes.merged(meta.get("warnings"), found),
    )
    try:
        record.save(Path(info.path) / "weights" / f"{name}.pth")
    except OSError as e:
        warnings.warn(
            f"could not write weights into the cache folder {info.path} ({e})",
            CacheWarning,
            stacklevel=4,
        )
    return record
