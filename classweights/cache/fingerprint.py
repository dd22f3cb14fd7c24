"""The dataset fingerprint: what a cache key is made of.

A key hashes the file list (paths relative to the dataset root, sizes, local files' modification
and change times (`classweights.sources.file_version`) or remote etags;
with ``verify`` also an xxhash of every file's bytes), every scan setting that changes a count,
the schema version and the classweights version (a release that reads or counts differently
never serves counts made by an older one). Any change gives a new key, so a changed dataset is
never served stale statistics. Two datasets with equal listings share a key; which one an entry
is of is checked by identity.py before it is served. A *lineage* hashes the settings and the
dataset's absolute location only: it finds the previous entry of the same dataset, so an
incremental rescan reads just the changed files.

A Hugging Face dataset (:func:`table_fingerprint`) is keyed by what identifies it instead: a
``Dataset`` by ``datasets``' own fingerprint, its split, column and row count; its
``.arrow``/``.parquet`` files by their absolute paths, sizes and versions. Such a key has no
root and no place: its entry is never probed, never patched incrementally, and a copy of the
files elsewhere is scanned once under its own key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import ClassWeightsError
from ..sources import (
    ARRAY_EXTS,
    Entry,
    HFColumn,
    file_listing,
    file_version,
    is_url,
    is_zarr_dir,
    local_path,
    open_regular,
    walk_masks,
)
from ..sources.nrrd import NRRD_EXTS
from ..sources.walk import unique_masks
from .identity import place

SCHEMA_VERSION = 4  # 2: entries remember their place and a probe of their bytes (identity.py)
# 3: the per-image table as plain .npy files (stats/), not a zarr group
# 4: the warnings a scan raised are stored with its entry (raised again on every hit)
#: settings that do not change a count (they are stored, not hashed)
_NOT_COUNTING = ("paths", "class_names")


@dataclass(frozen=True)
class Fingerprint:
    key: str
    lineage: str
    root: str
    listing: tuple[tuple[str, int, int | str], ...]  # (relative path, size, version)
    settings: dict[str, Any]
    #: the dataset root's ``[path, device, inode, ctime]`` when fingerprinted (identity.place)
    place: tuple[Any, ...] = ()
    #: with ``verify``: the ``(relative path, size, version)`` rows seen when the bytes were hashed,
    #: so a file changed during the scan is noticed as in the default mode
    stamps: tuple[tuple[str, int, int | str], ...] | None = None

    def files(self) -> dict[str, tuple[int, int | str]]:
        return {p: (size, stamp) for p, size, stamp in self.listing}


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def dataset_root(paths: Sequence[str]) -> str:
    """The folder (or URL prefix) the listing's relative paths start from."""
    if all(is_url(p) for p in paths):
        urls = [p.rstrip("/") for p in paths]
        if len(urls) == 1:
            return (
                urls[0] if not urls[0].lower().endswith(_FILE_EXTS) else urls[0].rsplit("/", 1)[0]
            )
        return os.path.commonprefix(urls).rsplit("/", 1)[0]  # noqa: RUF071 (URL prefixes)
    absolute = [os.path.abspath(p) for p in paths if not is_url(p)]
    if len(absolute) == 1:
        p = absolute[0]
        return p if os.path.isdir(p) and not is_zarr_dir(Path(p)) else os.path.dirname(p)
    return os.path.commonpath([a if os.path.isdir(a) else os.path.dirname(a) for a in absolute])


_FILE_EXTS = (".png", ".tif", ".tiff", ".bmp", ".gif", ".npy", ".npz", ".txt", ".lst", ".list")


def relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` when inside it (local paths and URLs), else unchanged
    (always without a root: the row ids of a Hugging Face dataset)."""
    if not root:
        return path
    if is_url(path):
        base = root.rstrip("/")
        if path.rstrip("/") == base:
            return "."
        return path[len(base) + 1 :] if path.startswith(base + "/") else path
    full = os.path.abspath(path)
    base = os.path.abspath(root)
    if full == base:
        return "."
    return full[len(base) + 1 :] if full.startswith(os.path.join(base, "")) else full


def entry_files(entry: Entry) -> list[str]:
    """The files whose bytes an entry's images come from."""
    if entry.kind == "image" and not entry.files:  # (files: a detached NRRD's data)
        return [entry.path]
    return [row[0] for row in file_listing([entry])]


def listing(
    entries: Sequence[Entry], root: str, verify: bool = False
) -> list[tuple[str, int, int | str]]:
    """``(relative path, size, version)`` of every file behind the entries.

    The version is ``"mtime_ns:ctime_ns"`` of local files and the etag (or mtime) of
    remote ones; with ``verify`` local files are hashed (xxhash) instead.
    """
    return [
        (rel, size, _hashed(full, stamp) if verify else stamp)
        for rel, size, stamp, full in _rows(entries, root)
    ]


def _hashed(path: str, stamp: int | str) -> int | str:
    """The xxhash of a local file's bytes (a ``file://`` URL's too); a remote file's stamp."""
    local = local_path(path)
    return stamp if local is None else content_hash(local)


def _rows(entries: Sequence[Entry], root: str) -> list[tuple[str, int, int | str, str]]:
    rows = file_listing(entries)
    prefix = root.rstrip("/") + "/" if is_url(root) else os.path.join(os.path.abspath(root), "")
    n = len(prefix)
    return [
        (p[n:] if p.startswith(prefix) else relative(p, root), size, stamp, p)
        for p, size, stamp in rows
    ]


def content_hash(path: str) -> str:
    import xxhash

    h = xxhash.xxh3_128()
    try:
        with open_regular(path) as fh:  # a FIFO would block the hashing
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    except (OSError, ClassWeightsError):
        return "unreadable"
    return h.hexdigest()


def counting_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in _NOT_COUNTING}


def fingerprint(
    paths: Sequence[str], entries: Sequence[Entry], settings: dict[str, Any], verify: bool = False
) -> Fingerprint:
    """Fingerprint of a dataset (its entries, as `discover` found them) under scan settings."""
    root = dataset_root(paths)
    where = place(root)
    if not verify:
        return _fingerprint(paths, root, listing(entries, root), settings, False, where)
    rows = _rows(entries, root)  # stat first, then hash: a change in between shows up later
    hashed = [(r, size, _hashed(f, stamp)) for r, size, stamp, f in rows]
    fp = _fingerprint(paths, root, hashed, settings, True, where)
    return replace(fp, stamps=tuple((r, size, stamp) for r, size, stamp, _ in rows))


def quick_fingerprint(paths: Sequence[str], settings: dict[str, Any]) -> Fingerprint | None:
    """The same key for the common case, one local folder of mask images, from a single walk.

    Used only to look up an existing entry: it builds no entries and skips the layout check
    (an entry exists only for a listing whose check passed when it was written). Returns None
    for anything else (arrays, zarr, list files, URLs, globs, multi-label), which then takes
    the full path.
    """
    one_local = len(paths) == 1 and not is_url(paths[0])
    if not one_local or any(settings.get(k) for k in ("glob", "multilabel", "valid_mask")):
        return None
    root = os.path.abspath(paths[0])
    if not os.path.isdir(root) or is_zarr_dir(Path(root)):
        return None
    links: set[str] = set()
    items, stats, _ = walk_masks(root, links)
    if links:  # a symlink to a listed file is one mask, as discovery counts it
        kept, _ = unique_masks([(f, None) for f, _ in items], links)
        items = [items[i] for i in kept]
    cut = len(root) + 1
    other = ARRAY_EXTS + NRRD_EXTS  # (an NRRD header may name data files: the full listing)
    files = []
    append = files.append
    for f, store in items:
        st = stats.get(f)
        if store or st is None or f.lower().endswith(other):
            return None
        append((f[cut:], st[0], st[1]))
    return _fingerprint(paths, root, files, settings, False, place(root)) if files else None


def table_fingerprint(
    table: HFColumn, settings: dict[str, Any], verify: bool = False
) -> Fingerprint:
    """The fingerprint of a Hugging Face dataset's mask column under scan settings: a
    ``Dataset``'s listing is one row, ``(split and column, rows, datasets' fingerprint)``; files
    are listed as ``(absolute path, size, version)`` (with ``verify``, their bytes' hash).

    ``stamps`` holds the sizes and versions seen now (see :func:`table_stamps`), so files
    changed during the scan are noticed. No root, no place (see the module's docstring).
    """
    stamps = table_stamps(table)
    rows = (
        [(p, size, content_hash(p)) for p, size, _ in stamps] if verify and table.files else stamps
    )
    counting = settings | {"mask_column": table.column}
    fp = _fingerprint(list(table.files) or table.inputs, "", rows, counting, verify, [])
    return replace(fp, stamps=tuple(stamps))


def table_stamps(table: HFColumn) -> list[tuple[str, int, int | str]]:
    """The listing of a Hugging Face dataset now: its files' sizes and versions, or the
    ``Dataset``'s identity (which cannot change)."""
    if not table.files:
        if table.identity is None:
            raise ValueError(f"{table} has no identity: {table.uncached}")
        return [table.identity]
    rows: list[tuple[str, int, int | str]] = []
    for path in table.files:
        try:
            st = os.stat(path)
        except OSError:
            rows.append((path, -1, "missing"))
            continue
        rows.append((path, st.st_size, file_version(st)))
    return rows


def _fingerprint(
    paths: Sequence[str],
    root: str,
    files: list[tuple[str, int, int | str]],
    settings: dict[str, Any],
    verify: bool,
    where: list[Any],
) -> Fingerprint:
    from .. import __version__

    counting = counting_settings(settings) | {"verify": verify, "version": __version__}
    rel_inputs = sorted(relative(p, root) for p in paths)
    listed = hashlib.blake2b(
        "\n".join(f"{p}\t{size}\t{stamp}" for p, size, stamp in files).encode(), digest_size=16
    ).hexdigest()
    key = _digest(
        {"schema": SCHEMA_VERSION, "settings": counting, "inputs": rel_inputs, "files": listed}
    )
    lineage = _digest(
        {"schema": SCHEMA_VERSION, "settings": counting, "root": root, "inputs": rel_inputs}
    )
    return Fingerprint(key, lineage, root, tuple(map(tuple, files)), counting, tuple(where))
