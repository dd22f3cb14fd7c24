"""The cache as a user sees it: its entries, one entry's metadata, and removing entries.

``classweights cache list|show|clear`` print what these return; nothing here writes to a
terminal. The cache lists and removes only what it made: a folder carrying its marker
(`disk.MARKER`, written into every entry since), or an entry made before the marker existed,
recognised by its full layout (``meta.json`` naming the folder's key, the count arrays) and a
valid checksum. Nothing is followed: a link in the cache folder is skipped (said with ``-v``),
links inside an entry are removed as links, never entered.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .disk import entry_age, entry_size, has_marker, is_real_dir
from .store import ARRAYS, OPTIONAL_ARRAYS, Store, _checksum

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    """Seconds in an age such as ``30d``, ``12h``, ``90m``, ``2w`` or ``45s``.

    >>> parse_age("30d"), parse_age(" 1.5h ")
    (2592000.0, 5400.0)
    >>> parse_age("soon")
    Traceback (most recent call last):
    ...
    classweights.errors.ConfigError: 'soon': expected an age such as 30d, 12h or 90m
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise ConfigError(f"{text!r}: expected an age such as 30d, 12h or 90m")
    return float(m.group(1)) * _UNITS[m.group(2)]


def list_entries(cache_dir: Any = None) -> dict[str, Any]:
    """``{"cache_dir", "entries"}``: per entry its key, dataset, images, whether sampled, the
    weight methods stored, size in bytes, age in seconds and, if it failed its checks, why.
    Folders the cache did not make are not entries (see the module docstring)."""
    store = Store(cache_dir)
    rows = []
    for e in store.entries():
        if not made_by_cache(e.path):
            continue
        methods = sorted({p.stem.rsplit("-", 1)[0] for p in (e.path / "weights").glob("*.pth")})
        meta = e.meta
        rows.append(
            {
                "key": meta["key"],
                "dataset": meta.get("dataset", []),
                "images": meta.get("images"),
                "sampled": meta.get("sampled"),
                "methods": methods,
                "size": entry_size(e.path),
                "age_seconds": entry_age(meta),
                "corrupt": meta.get("corrupt"),
            }
        )
    return {"cache_dir": str(store.root), "entries": rows}


def describe_entry(key: str, cache_dir: Any = None) -> dict[str, Any] | None:
    """The metadata of the entry ``key`` (or a unique prefix of it), without its file listing
    and checksummed arrays: their count (``files``) and the weight files instead; None if no
    entry has that key."""
    store = Store(cache_dir)
    full = store.resolve_key(key)
    if not made_by_cache(store.entry_dir(full)):  # a link, or a folder the cache did not make
        return None
    entry = store.entry(full)
    if entry is None:
        return None
    meta = {k: v for k, v in entry.meta.items() if k not in ("listing", "stats")}
    meta["files"] = len(entry.meta.get("listing", []))
    meta["weights"] = sorted(p.name for p in (entry.path / "weights").glob("*.pth"))
    return meta


def clear_entries(
    cache_dir: Any = None,
    *,
    key: str | None = None,
    all: bool = False,
    older_than: float | None = None,
) -> tuple[str, list[str]]:
    """Remove one entry (``key``, or a unique prefix of it), every entry (``all``), or those
    older than ``older_than`` seconds: exactly one of the three. Only folders the cache made
    are removed; links and other folders in the cache folder are left alone (logged at INFO,
    ``-v``). Returns the cache folder and the names removed.

    Raises:
        ConfigError: ``key`` names something that is not an entry the cache made.
    """
    if sum(x is not None and x is not False for x in (key, all or None, older_than)) != 1:
        raise ConfigError("give exactly one of KEY, --all or --older-than AGE")
    store = Store(cache_dir)
    if key:
        path = store.entry_dir(store.resolve_key(key))
        if not os.path.lexists(path):
            return str(store.root), []
        if not made_by_cache(path):
            link = " (a link)" if os.path.islink(path) else ""
            raise ConfigError(
                f"{path}{link} is not a cache entry (no entry marker, and not an entry's "
                "layout with a valid checksum); it is left alone: remove it yourself if you "
                "mean to"
            )
        victims = [path.name]
    else:
        victims = []
        for path in _children(store.root):
            if older_than is not None and not entry_age(_meta(path)) > older_than:
                continue
            victims.append(path.name)
    for k in victims:
        store.remove(k)
    return str(store.root), victims


def made_by_cache(path: Path) -> bool:
    """Whether ``path`` is an entry folder the cache made (module docstring); ``lstat`` only,
    and bounded: an old entry's arrays are mapped, never read past their files' sizes."""
    if not is_real_dir(path):
        return False
    return has_marker(path, path.name) or _old_entry(path)


def _old_entry(path: Path) -> bool:
    """An entry made before the marker: meta.json with this key, the arrays, a valid checksum."""
    folder = path / "stats"
    try:
        if not (_regular(path / "meta.json") and is_real_dir(folder)):
            return False
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("key") != path.name or "checksum" not in meta:
            return False
        names = ARRAYS + tuple(k for k in OPTIONAL_ARRAYS if _regular(folder / f"{k}.npy"))
        if not all(_regular(folder / f"{n}.npy") for n in names):
            return False
        arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in names}
        body = {k: v for k, v in meta.items() if k != "checksum"}
        return _checksum(arrays, body) == meta["checksum"]
    except (OSError, ValueError, TypeError):
        return False


def _children(root: Path) -> list[Path]:
    """The cache folder's entries-to-be: real folders with a hexadecimal name (links skipped,
    said at INFO)."""
    try:
        children = sorted(os.scandir(root), key=lambda c: c.name)
    except OSError:
        return []
    out = []
    for c in children:
        if c.name.startswith(".") or c.name in ("locks", "lineage"):
            continue
        if c.is_symlink():
            log.info("cache clear: %s is a link; skipped (links are never followed)", c.path)
        elif not c.is_dir(follow_symlinks=False):
            continue
        elif any(ch not in "0123456789abcdef" for ch in c.name) or not made_by_cache(Path(c.path)):
            log.info("cache clear: %s is not a cache entry; left alone", c.path)
        else:
            out.append(Path(c.path))
    return out


def _meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
