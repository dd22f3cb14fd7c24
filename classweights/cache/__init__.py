"""Cached statistics and weights, keyed by the dataset's contents and the scan settings.

    stats, info = cached_scan("gtFine/train", num_classes=19, ignore_index=255)
    w = load_weights("gtFine/train", method="sqrt_inv_freq", num_classes=19, ignore_index=255)

A warm ``load_weights`` lists and stats the files (that is the fingerprint), opens one ``.pth``
and returns its tensor. On a miss the dataset is scanned once under a file lock (other
processes wait and then read), or, when an earlier entry of the same dataset and settings
exists, only the added and changed files are read and the per-image table is patched.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ClassWeightsError, ConfigError
from ..sources import discover
from ..stats import ClassStats
from .fingerprint import Fingerprint, fingerprint, key_settings, quick_fingerprint
from .identity import Identity, alt_key
from .incremental import incremental
from .record import RECORD_SCHEMA, load_record, save_record, seal, weight_record
from .store import CacheCorrupt, Entry, EntryRemoved, LockTimeout, Store, default_cache_dir

log = logging.getLogger(__name__)

__all__ = [
    "CacheInfo",
    "CacheWarning",
    "LockTimeout",
    "Store",
    "cached_scan",
    "default_cache_dir",
    "find_records",
    "load_weights",
    "weight_file_name",
]

_SCAN_KEYS = (
    "num_classes", "ignore_index", "remap", "reduce_zero_label", "classes", "palette", "glob",
    "multilabel", "sample", "seed", "workers", "unknown", "on_error", "parallel", "max_pixels",
    "client", "objects", "layout", "split", "split_file", "root", "suffix",
)  # fmt: skip


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


def _paths(source: Any) -> list[str] | None:
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
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    verify: bool = False,
    refresh: bool = False,
    lock_timeout: float = 600.0,
    progress: Any = None,
    **scan_kwargs: Any,
) -> tuple[ClassStats, CacheInfo]:
    """:func:`classweights.scan` through the cache; returns the statistics and where they came from.

    Args:
        source, scan_kwargs: as for :func:`classweights.scan`.
        cache_dir: the cache folder (default ``$CLASSWEIGHTS_CACHE`` or the user cache dir).
        use_cache: ``False`` scans without reading or writing the cache.
        verify: also hash every file's bytes into the key (catches a file rewritten with the
            same size and modification time).
        refresh: rescan even on a hit and replace the entry.
        lock_timeout: seconds to wait for another process computing the same entry.
    """
    from ..layouts import apply

    source, scan_kwargs = apply(source, scan_kwargs)  # a layout / split file: concrete settings
    stats, info = _cached_scan(source, cache_dir, use_cache, verify, refresh, lock_timeout,
                               progress, scan_kwargs)  # fmt: skip
    if info.hit:
        log.info("statistics of %d images read from the cache (entry %s); no mask was read",
                 stats.num_images, info.key)  # fmt: skip
    elif info.path is not None:
        done = "updated incrementally" if info.incremental else "scanned"
        log.info("%s %d images; cached as %s", done, stats.num_images, info.key)
    else:
        log.info("scanned %d images; not cached", stats.num_images)
    return stats, info


def _cached_scan(
    source: Any, cache_dir: Any, use_cache: bool, verify: bool, refresh: bool,
    lock_timeout: float, progress: Any, scan_kwargs: dict[str, Any],
) -> tuple[ClassStats, CacheInfo]:  # fmt: skip
    from ..scan import scan, scan_settings, warn_void_label

    paths = _paths(source)
    settings, names = scan_settings(**scan_kwargs)
    if not use_cache or paths is None or scan_kwargs.get("indices") is not None:
        # explicit image indices are a one-off subset: not in the key, so never cached
        return scan(source, progress=progress, **scan_kwargs), CacheInfo(None, None, False)
    def listed() -> list[Any]:
        return discover(
            paths,
            glob=scan_kwargs.get("glob"),
            multilabel=scan_kwargs.get("multilabel", False),
            class_names=names,
        )

    entries = listed()
    fp = fingerprint(paths, entries, key_settings(settings, names), verify)
    store = Store(cache_dir)
    if not store.writable():
        warnings.warn(f"the cache folder {store.root} is not writable; scanning without the cache",
                      CacheWarning, stacklevel=3)  # fmt: skip
        return scan(source, progress=progress, entries=entries, **scan_kwargs), CacheInfo(
            fp.key, None, False
        )
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
            stats, inc = incremental(store, fp, paths, entries, progress, scan_kwargs)
            if stats is None:
                stats = scan(paths, progress=progress, entries=entries, **scan_kwargs)
            if _changed_since(fp, entries, listed):
                warnings.warn(
                    f"files of {', '.join(paths)} changed while they were scanned; the statistics "
                    "are returned but not cached (rerun once the dataset is stable)",
                    CacheWarning, stacklevel=3,
                )  # fmt: skip
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
            stats = scan(paths, progress=progress, entries=entries, **scan_kwargs)
        else:
            warnings.warn(f"{what}; the statistics were computed but not cached ({fix})",
                          CacheWarning, stacklevel=3)  # fmt: skip
        return _named(stats, names), CacheInfo(fp.key, None, False, inc)
    return _named(stats, names), CacheInfo(fp.key, str(entry.path), False, inc)


def _changed_since(fp: Fingerprint, entries: list[Any], listed: Any) -> bool:
    """True if a file's size or version differs from the fingerprint's (a dataset edited during
    the scan must not be cached under the key of its old state). Local files are stat-ed again;
    a remote dataset is listed again (``listed``: one listing, as when it was fingerprinted).
    With ``verify`` the sizes and times seen just before the bytes were hashed are compared,
    so the rule is the same in every mode (without hashing every file twice)."""
    from ..sources import is_url
    from .fingerprint import listing

    if any(is_url(e.path) for e in entries):
        fresh = [tuple(row) for row in listing(listed(), fp.root)]
    else:
        fresh = _restat(fp, entries)
    return fresh != list(fp.stamps if fp.stamps is not None else fp.listing)


def _restat(fp: Fingerprint, entries: list[Any]) -> list[tuple[str, int, int | str]]:
    from ..sources import Entry as SourceEntry
    from .fingerprint import listing

    bare = [SourceEntry(e.kind, e.path, e.n, e.key, e.files) for e in entries]  # drop cached stats
    return [tuple(row) for row in listing(bare, fp.root)]


def _named(stats: ClassStats, names: list[str] | None) -> ClassStats:
    """The class names of *this* call, as a scan would give them (never an earlier call's)."""
    stats.class_names = list(names) if names is not None else None
    return stats


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


# ---- weights ----------------------------------------------------------------------------
def weight_file_name(method: str, options: dict[str, Any]) -> str:
    """File name of a weight record: the method plus a digest of its options.

    Arrays and tensors are hashed by their exact values (``tolist``), never by their printed
    form, which rounds (``tensor([1.2345])``) and elides long vectors (``[1. 1. ... 1.]``).
    """

    def exact(obj: Any) -> Any:
        return obj.tolist() if hasattr(obj, "tolist") else str(obj)

    text = json.dumps(options, sort_keys=True, default=exact)
    return f"{method}-{hashlib.blake2b(text.encode(), digest_size=6).hexdigest()}"


def load_weights(
    source: Any,
    method: str = "sqrt_inv_freq",
    *,
    device: Any = None,
    dtype: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    verify: bool = False,
    refresh: bool = False,
    lock_timeout: float = 600.0,
    progress: Any = None,
    **kwargs: Any,
):
    """Class weights of a dataset as a ``torch.Tensor``, computed once and then read from the cache.

    Keyword arguments are split between :func:`classweights.scan` (``num_classes``,
    ``ignore_index``, ``remap``, ...) and :func:`classweights.compute_weights`
    (``normalize``, ``clip``, ``absent``, ``beta``, ...). ``method="pos_weight"`` (or
    ``"focal_alpha"``) returns BCE ``pos_weight`` (focal ``alpha``) of multi-label statistics.
    ``spatial_dims=2`` returns them shaped ``(C, 1, 1)``, which broadcasts over ``N x C x H x W``
    logits (``nn.BCEWithLogitsLoss(pos_weight=...)``); the cached record stays ``(C,)``.
    ``layout=``/``split=``/``split_file=`` are as for :func:`classweights.scan`.

    Returns:
        ``(C,) + (1,) * spatial_dims`` tensor on ``device`` with ``dtype`` (default float32).
    """
    import torch

    from ..layouts import apply

    scan_kwargs = {k: v for k, v in kwargs.items() if k in _SCAN_KEYS}
    source, scan_kwargs = apply(source, scan_kwargs)
    options = {k: v for k, v in kwargs.items() if k not in _SCAN_KEYS}
    dims = options.pop("spatial_dims", 0)
    if not isinstance(dims, int) or isinstance(dims, bool) or not 0 <= dims <= 3:
        raise ConfigError(f"spatial_dims={dims!r} is not valid; expected 0, 1, 2 or 3")
    shape = (-1,) + (1,) * dims
    from ..weights.options import check_method_options

    check_method_options(method, options)  # before any file is read
    name = weight_file_name(method, options)
    dtype = dtype or torch.float32
    paths = _paths(source)
    if paths is not None and not refresh:
        record = _warm_record(paths, name, cache_dir, verify, scan_kwargs)
        if record is not None:
            return record["weights"].reshape(shape).to(device=device, dtype=dtype)
    stats, info = cached_scan(source, cache_dir=cache_dir, verify=verify, refresh=refresh,
                              lock_timeout=lock_timeout, progress=progress, **scan_kwargs)  # fmt: skip
    weights = compute_named(stats, method, options)
    record = weight_record(stats, weights, method, options, fingerprint=info.key)
    if info.path is not None and (Path(info.path) / "meta.json").exists():  # not removed meanwhile
        try:
            _stamp(record, Path(info.path) / "meta.json")
            save_record(record, Path(info.path) / "weights" / f"{name}.pth")
        except OSError as e:
            warnings.warn(f"could not write weights into the cache folder {info.path} ({e})",
                          CacheWarning, stacklevel=2)  # fmt: skip
    return record["weights"].reshape(shape).to(device=device, dtype=dtype)


def _stamp(record: dict[str, Any], meta_file: Path) -> None:
    """Copy the entry's place and probe into the record (the warm path checks them there)."""
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError):
        return
    record["dataset"]["place"] = meta.get("place")
    record["dataset"]["probe"] = meta.get("probe")
    seal(record)


def compute_named(stats: ClassStats, method: str, options: dict[str, Any]) -> np.ndarray:
    """``compute_weights`` plus the multi-label vectors ``pos_weight`` and ``focal_alpha``."""
    from ..weights import compute_weights, focal_alpha, pos_weight

    if method == "pos_weight":
        return pos_weight(stats, **options).reshape(-1)
    if method == "focal_alpha":
        return focal_alpha(stats, **options).reshape(-1)
    return compute_weights(stats, method, **options)


def _warm_record(
    paths: list[str], name: str, cache_dir: Any, verify: bool, scan_kwargs: dict[str, Any]
) -> dict[str, Any] | None:
    """The cached record for ``name`` if the dataset is unchanged; None on any miss."""
    from ..scan import scan_settings

    settings, names = scan_settings(**scan_kwargs)
    settings = key_settings(settings, names)
    try:
        fp = None if verify else quick_fingerprint(paths, settings)
        if fp is None:
            entries = discover(
                paths,
                glob=scan_kwargs.get("glob"),
                multilabel=scan_kwargs.get("multilabel", False),
                class_names=names,
            )
            fp = fingerprint(paths, entries, settings, verify)
        store = Store(cache_dir)
        me = Identity.of(fp)
        record = _record_at(store.entry_dir(fp.key) / "weights" / f"{name}.pth", fp.key)
        if record is None or me.confirms(record.get("dataset", {})):
            return record
        # same listing, other bytes: this dataset's entry lives under its own key
        key = alt_key(fp.key, me.probe)
        record = _record_at(store.entry_dir(key) / "weights" / f"{name}.pth", key)
        return record if record is not None and me.confirms(record.get("dataset", {})) else None
    except (OSError, ClassWeightsError):
        return None


def _record_at(path: Path, key: str) -> dict[str, Any] | None:
    """The weight record at ``path`` if it is intact, current and made for ``key``."""
    if not path.is_file():
        return None
    try:
        record = load_record(path)
    except ClassWeightsError as e:
        if path.exists():  # else removed by `cache clear` meanwhile: a plain miss
            warnings.warn(f"{e}; recomputing it", CacheWarning, stacklevel=4)
        return None
    if record.get("schema") != RECORD_SCHEMA or "checksum" not in record:
        warnings.warn(f"{path}: not a checksummed weight record of this version; recomputing it",
                      CacheWarning, stacklevel=4)  # fmt: skip
        return None
    if record.get("dataset", {}).get("fingerprint") != key:
        warnings.warn(
            f"{path}: belongs to another dataset; recomputing it", CacheWarning, stacklevel=4
        )
        return None
    return record


def find_records(key_or_path: str, cache_dir: Any = None) -> list[tuple[str, dict[str, Any]]]:
    """Weight records of a ``.pth`` file, or of every weight file of a cache entry (by key)."""
    p = Path(key_or_path)
    if p.suffix == ".pth" or p.is_file():
        return [(str(p), load_record(p))]
    store = Store(cache_dir)
    entry = store.entry(store.resolve_key(key_or_path))
    if entry is None:
        raise ConfigError(f"{key_or_path!r} is neither a .pth file nor a cache key in {store.root}")
    files = sorted((entry.path / "weights").glob("*.pth"))
    if not files:
        raise ConfigError(f"cache entry {key_or_path} holds statistics but no weights yet")
    return [(str(f), load_record(f)) for f in files]


__all__ += ["CacheCorrupt", "Entry", "EntryRemoved", "compute_named"]
