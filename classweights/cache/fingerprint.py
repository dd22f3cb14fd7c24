"""The dataset fingerprint: what a cache key is made of.

A key hashes the file list (paths relative to the dataset root, sizes, modification times;
with ``verify`` also an xxhash of every file's bytes), every scan setting that changes a count,
and the schema version. Any change gives a new key, so a changed dataset is never served stale
statistics. A *lineage* hashes the settings and the dataset's absolute location only: it finds
the previous entry of the same dataset, so an incremental rescan reads just the changed files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..sources import Entry, is_zarr_dir

SCHEMA_VERSION = 1
#: settings that do not change a count (they are stored, not hashed)
_NOT_COUNTING = ("paths", "class_names")


@dataclass(frozen=True)
class Fingerprint:
    key: str
    lineage: str
    root: str
    listing: tuple[tuple[str, int, int | str], ...]  # (relative path, size, mtime_ns or etag)
    settings: dict[str, Any]

    def files(self) -> dict[str, tuple[int, int | str]]:
        return {p: (size, stamp) for p, size, stamp in self.listing}


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def dataset_root(paths: Sequence[str]) -> str:
    """The folder the listing's relative paths start from."""
    absolute = [os.path.abspath(p) for p in paths]
    if len(absolute) == 1:
        p = absolute[0]
        return p if os.path.isdir(p) and not is_zarr_dir(Path(p)) else os.path.dirname(p)
    return os.path.commonpath([a if os.path.isdir(a) else os.path.dirname(a) for a in absolute])


def entry_files(entry: Entry) -> list[str]:
    """The files whose bytes an entry's images come from."""
    if entry.kind == "perclass":
        return [f for _, f in entry.files]
    if entry.kind == "zarr":
        files = []
        for dirpath, _, names in os.walk(entry.path):
            files.extend(os.path.join(dirpath, n) for n in names)
        return sorted(files)
    return [entry.path]


def listing(entries: Sequence[Entry], root: str, verify: bool = False) -> list[tuple[str, int, int | str]]:
    """``(relative path, size, mtime_ns)`` of every file behind the entries (xxhash with verify)."""
    seen: set[str] = set()
    out = []
    prefix = os.path.join(os.path.abspath(root), "")
    for e in entries:
        for f in entry_files(e):
            if f in seen:
                continue
            seen.add(f)
            st = os.stat(f)
            stamp: int | str = content_hash(f) if verify else st.st_mtime_ns
            full = f if os.path.isabs(f) else os.path.abspath(f)
            rel = full[len(prefix):] if full.startswith(prefix) else os.path.relpath(full, root)
            out.append((rel, st.st_size, stamp))
    return out


def content_hash(path: str) -> str:
    import xxhash

    h = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def counting_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in _NOT_COUNTING}


def fingerprint(
    paths: Sequence[str], entries: Sequence[Entry], settings: dict[str, Any], verify: bool = False
) -> Fingerprint:
    """Fingerprint of a dataset (its entries, as `discover` found them) under scan settings."""
    root = dataset_root(paths)
    files = listing(entries, root, verify)
    counting = counting_settings(settings) | {"verify": verify}
    rel_inputs = sorted(os.path.relpath(os.path.abspath(p), root) for p in paths)
    key = _digest({"schema": SCHEMA_VERSION, "settings": counting, "inputs": rel_inputs, "files": files})
    lineage = _digest({"schema": SCHEMA_VERSION, "settings": counting, "root": root, "inputs": rel_inputs})
    return Fingerprint(key, lineage, root, tuple(map(tuple, files)), counting)
