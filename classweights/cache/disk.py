"""Cache entries on disk: the marker that says the cache made a folder, removing a tree without
following links out of it, its size, its age."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

#: the file every folder the cache makes carries (entries, their temporary and trash names):
#: ``cache clear`` and the sweep of leftovers remove only folders that carry it (or, for
#: entries made before it existed, that have an entry's full layout with a valid checksum)
MARKER = ".classweights-entry"


def write_marker(folder: Path, key: str, schema: int) -> None:
    """Mark ``folder`` (just made by the cache) as an entry of ``key``."""
    with open(folder / MARKER, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"schema": schema, "key": key}))


def has_marker(folder: Path, key: str | None = None) -> bool:
    """Whether ``folder`` is a real folder (not a link) holding the cache's marker as a regular
    file, for ``key`` when given. Nothing is followed: ``lstat`` only.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> has_marker(d), write_marker(d, "ab12", 3), has_marker(d, "ab12"), has_marker(d, "cd")
    (False, None, True, False)
    """
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return False
        st = os.lstat(folder / MARKER)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 4096:
            return False
        with open(folder / MARKER, encoding="utf-8") as fh:
            mark = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(mark, dict) and "schema" in mark and (key is None or mark.get("key") == key)


def is_real_dir(path: Path) -> bool:
    """A folder, not a link to one (``lstat``)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def rmtree_no_follow(path: Path) -> None:
    """Remove a tree without following symlinks out of it (links are unlinked, not entered)."""
    for dirpath, dirnames, filenames in os.walk(path, topdown=False, followlinks=False):
        for name in filenames:
            _unlink(os.path.join(dirpath, name))
        for name in dirnames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                _unlink(full)
            else:
                os.rmdir(full)
    os.rmdir(path)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def entry_size(path: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(path, followlinks=False):
        for n in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, n)).st_size
    return total


def entry_age(meta: dict[str, Any]) -> float:
    """Seconds since the entry was created."""
    try:
        created = _dt.datetime.fromisoformat(meta["created"])
    except (KeyError, ValueError):
        return float("nan")
    return time.time() - created.timestamp()
