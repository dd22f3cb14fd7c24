"""Cache entries on disk: removing a tree without following links out of it, its size, its age."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import time
from pathlib import Path
from typing import Any


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
