"""The cached scan: look a dataset up by its fingerprint, else scan it (or patch the previous
entry incrementally) once under a file lock and store the result.

Discovery and fingerprinting run once per call: a `Listing` (the discovered entries and their
fingerprint) is made here, or handed in by ``load_weights``, and passed down to the scan.
"""

from __future__ import annotations

import errno
import logging
import os
import warnings
from dataclasses import dataclass, replace
from importlib import import_module
from typing import Any

from ..errors import ClassWeightsError
from ..scan.settings import ScanSettings
from ..sources import Entry as SourceEntry
from ..sources import discover
from ..stats import ClassStats
from .fingerprint import Fingerprint, fingerprint
from .identity import Identity, alt_key
from .incremental import incremental
from .store import CacheCorrupt, EntryRemoved, Store

log = logging.getLogger("classweights.cache")


class CacheWarning(UserWarning):
    """The cache could not be used as asked (read-only folder, corrupt entry recomputed...)."""


@dataclass
class CacheInfo:
    key: str | None
    path: str | None
    hit: bool
    incremental: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "path": self.path,
            "hit": self.hit,
            "incremental": self.incremental,
        }


@dataclass(frozen=True)
class Listing:
    """A path dataset as discovered once: its paths, entries and fingerprint."""

    paths: list[str]
    entries: list[SourceEntry]
    fingerprint: Fingerprint

    @classmethod
    def of(cls, paths: list[str], settings: ScanSettings, verify: bool) -> Listing:
        """Discover ``paths`` and fingerprint them under ``settings``."""
        entries = discover_entries(paths, settings)
        return cls(paths, entries, fingerprint(paths, entries, settings.key(), verify))


def discover_entries(paths: list[str], settings: ScanSettings) -> list[SourceEntry]:
    """The dataset's entries, as :func:`classweights.scan` discovers them."""
    return discover(
        paths, glob=settings.glob, multilabel=settings.multilabel, class_names=settings.names
    )


def source_paths(source: Any) -> list[str] | None:
    """``source`` as a list of paths, or None for in-memory sources (never cached)."""
    from ..scan import is_path_source

    if not is_path_source(source):
        return None
    return (
        [os.fspath(source)]
        if isinstance(source, (str, os.PathLike))
        else [os.fspath(s) for s in source]
    )


def cached_scan(
    source: Any,
    *,
    settings: ScanSettings | None = None,
    client: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    verify: bool = False,
    refresh: bool = False,
    lock_timeout: float = 600.0,
    progress: Any = None,
    listing: Listing | None = None,
    **scan_kwargs: Any,
) -> tuple[ClassStats, CacheInfo]:
    """:func:`classweights.scan` through the cache; returns the statistics and where they came from.

    Args:
        source: as for :func:`classweights.scan`.
        settings, scan_kwargs: a :class:`~classweights.scan.settings.ScanSettings` and/or its
            fields as keywords, validated before any file is read.
        client: a Dask client for the scan, as for :func:`classweights.scan`.
        cache_dir: the cache folder (default ``$CLASSWEIGHTS_CACHE`` or the user cache dir).
        use_cache: ``False`` scans without reading or writing the cache.
        verify: also hash every file's bytes into the key (catches a file rewritten with the
            same size and modification time).
        refresh: rescan even on a hit and replace the entry.
        lock_timeout: seconds to wait for another process computing the same entry.
        listing: the dataset as the caller already discovered and fingerprinted it (with the
            same settings and ``verify``); discovered here when ``None``.
    """
    settings = ScanSettings.from_kwargs(settings, **scan_kwargs)  # a typo fails here, first
    source, settings = settings.locate(source)  # a layout / split file: concrete settings
    stats, info = _cached_scan(
        source,
        settings,
        client,
        cache_dir,
        use_cache,
        verify,
        refresh,
        lock_timeout,
        progress,
        listing,
    )
    if info.hit:
        log.info(
            "statistics of %d images read from the cache (entry %s); no mask was read",
            stats.num_images,
            info.key,
        )
    elif info.path is not None:
        done = "updated incrementally" if info.incremental else "scanned"
        log.info("%s %d images; cached as %s", done, stats.num_images, info.key)
    else:
        log.info("scanned %d images; not cached", stats.num_images)
    return stats, info


def _cached_scan(
    source: Any,
    settings: ScanSettings,
    client: Any,
    cache_dir: Any,
    use_cache: bool,
    verify: bool,
    refresh: bool,
    lock_timeout: float,
    progress: Any,
    listing: Listing | None,
) -> tuple[ClassStats, CacheInfo]:
    # the scan room's `scan`, looked up per call (tests count the scans); `classweights.scan`
    # itself is the function, so the module is imported by name
    scan_room = import_module("classweights.scan")

    warn_void_label = scan_room.warn_void_label

    def scan(source: Any, entries: Any = None) -> ClassStats:
        return scan_room.scan(
            source, settings=settings, client=client, progress=progress, entries=entries
        )

    paths = source_paths(source)
    names = settings.names
    if not use_cache or paths is None or settings.index_array is not None:
        # explicit image indices are a one-off subset: not in the key, so never cached
        return scan(source), CacheInfo(None, None, False)
    if listing is None:
        listing = Listing.of(paths, settings, verify)
    entries, fp = listing.entries, listing.fingerprint
    store = Store(cache_dir)
    if not store.writable():
        warnings.warn(
            f"the cache folder {store.root} is not writable; scanning without the cache",
            CacheWarning,
            stacklevel=3,
        )
        return scan(source, entries), CacheInfo(fp.key, None, False)
    fp = _resolve(store, fp)
    if not refresh:
        stats = _read(store, fp, paths)
        if stats is not None:
            warn_void_label(stats, settings)  # a hit warns as the scan that made it did
            return _named(stats, names), CacheInfo(fp.key, str(store.entry_dir(fp.key)), True)
    stats = inc = None
    try:
        with store.lock(fp.key, lock_timeout):
            if not refresh:  # another process may have written it while we waited
                stats = _read(store, fp, paths)
                if stats is not None:
                    warn_void_label(stats, settings)
                    return _named(stats, names), CacheInfo(
                        fp.key, str(store.entry_dir(fp.key)), True
                    )
            stats, inc = incremental(store, fp, paths, entries, settings, scan)
            if stats is None:
                stats = scan(paths, entries)
            if _changed_since(fp, entries, lambda: discover_entries(paths, settings)):
                warnings.warn(
                    f"files of {', '.join(paths)} changed while they were scanned; the statistics "
                    "are returned but not cached (rerun once the dataset is stable)",
                    CacheWarning,
                    stacklevel=3,
                )
                return _named(stats, names), CacheInfo(fp.key, None, False, inc)
            if refresh:
                store.remove(fp.key)
            me = Identity.of(fp)
            entry = store.write(fp, stats, {"place": list(fp.place), "probe": me.probe})
            if inc is not None and inc.get("previous"):
                store.remove(inc.pop("previous"))  # the entry is re-keyed: the old key is gone
    except OSError as e:  # disk full, quota, read-only remount, ... while locking or writing
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            what = f"the cache folder {store.root} is full ({e.strerror or e})"
        else:
            what = f"could not write into the cache folder {store.root} ({e.strerror or e})"
        fix = "free space there, pass --cache-dir DIR elsewhere, or --no-cache"
        if stats is None:
            warnings.warn(f"{what}; scanning without the cache ({fix})", CacheWarning, stacklevel=3)
            stats = scan(paths, entries)
        else:
            warnings.warn(
                f"{what}; the statistics were computed but not cached ({fix})",
                CacheWarning,
                stacklevel=3,
            )
        return _named(stats, names), CacheInfo(fp.key, None, False, inc)
    return _named(stats, names), CacheInfo(fp.key, str(entry.path), False, inc)


def _changed_since(fp: Fingerprint, entries: list[Any], listed: Any) -> bool:
    """True if a file's size or version differs from the fingerprint's (a dataset edited during
    the scan must not be cached under the key of its old state). Local files are stat-ed again;
    a remote dataset is listed again (``listed``: one listing, as when it was fingerprinted).
    With ``verify`` the sizes and times seen just before the bytes were hashed are compared,
    so the rule is the same in every mode (without hashing every file twice)."""
    from ..sources import is_url
    from .fingerprint import listing as listing_rows

    if any(is_url(e.path) for e in entries):
        fresh = [tuple(row) for row in listing_rows(listed(), fp.root)]
    else:
        fresh = _restat(fp, entries)
    return fresh != list(fp.stamps if fp.stamps is not None else fp.listing)


def _restat(fp: Fingerprint, entries: list[Any]) -> list[tuple[str, int, int | str]]:
    from .fingerprint import listing as listing_rows

    bare = [SourceEntry(e.kind, e.path, e.n, e.key, e.files) for e in entries]  # drop cached stats
    return [tuple(row) for row in listing_rows(bare, fp.root)]


def _named(stats: ClassStats, names: list[str] | None) -> ClassStats:
    """The class names of *this* call, as a scan would give them (never an earlier call's)."""
    return replace(stats, class_names=list(names) if names is not None else None)


def _resolve(store: Store, fp: Fingerprint) -> Fingerprint:
    """``fp``, or ``fp`` under its own key when the entry of ``fp.key`` holds another dataset
    with the same listing (made elsewhere and its sampled bytes differ; see identity.py)."""
    try:
        entry = store.entry(fp.key)
    except ClassWeightsError:
        return fp  # corrupt: `_read` reports it and recomputes
    if entry is None:
        return fp
    me = Identity.of(fp)
    if me.confirms(entry.meta):
        return fp
    log.info("cache entry %s has the listing but not the bytes of %s", fp.key, fp.root)
    return replace(fp, key=alt_key(fp.key, me.probe))


def _read(store: Store, fp: Fingerprint, paths: list[str]) -> ClassStats | None:
    try:
        entry = store.entry(fp.key)
        return None if entry is None else store.read_stats(entry, fp.root, paths)
    except EntryRemoved:  # `cache clear` raced us: a plain miss
        return None
    except CacheCorrupt as e:
        warnings.warn(f"{e}; recomputing it", CacheWarning, stacklevel=3)
        store.remove(fp.key)
        return None
