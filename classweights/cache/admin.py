"""The cache as a user sees it: its entries, one entry's metadata, and removing entries.

``classweights cache list|show|clear`` print what these return; nothing here writes to a
terminal. Removal never follows a link out of the cache folder (`Store.remove`).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ConfigError
from .disk import entry_age, entry_size
from .store import Store

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
    weight methods stored, size in bytes, age in seconds and, if it failed its checks, why."""
    store = Store(cache_dir)
    rows = []
    for e in store.entries():
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
    entry = store.entry(store.resolve_key(key))
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
    """Remove one entry (``key``), every entry (``all``, with any link placed in the cache
    folder, removed as a link), or those older than ``older_than`` seconds: exactly one of the
    three. Returns the cache folder and the names removed."""
    if sum(x is not None and x is not False for x in (key, all or None, older_than)) != 1:
        raise ConfigError("give exactly one of KEY, --all or --older-than AGE")
    store = Store(cache_dir)
    if key:
        victims = [key]
    else:
        victims = [
            e.path.name
            for e in store.entries()
            if older_than is None or entry_age(e.meta) > older_than
        ]
        if all:
            victims += [p.name for p in store.root.glob("*") if p.is_symlink()]
    for k in victims:
        store.remove(k)
    return str(store.root), victims
