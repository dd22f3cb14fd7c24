"""fsspec URLs (``s3://``, ``gs://``, ``file://``, ``memory://``): discovery, listings and lazy
remote reads.

Entries keep the URL as given so Dask workers re-open it; credentials come from the environment
and the fsspec configuration, never from our flags.
"""

from __future__ import annotations

import io
import os
import posixpath
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ClassWeightsError, DatasetError
from .entries import (
    ARRAY_EXTS,
    IMAGE_EXTS,
    LIST_EXTS,
    STORE_MARKERS,
    Entry,
    enter_list,
    file_version,
    is_local_fs,
    is_url,
    url_fs,
)
from .found import check_single_layout, file_entries, perclass_entries, zarr_entries
from .volumes import VOLUME_EXTS


def discover_url(
    url: str,
    glob: str | None,
    multilabel: bool,
    class_names: Sequence[str] | None,
    chain: tuple[tuple[str, str], ...] = (),
) -> list[Entry]:
    """The remote twin of ``_discover_one``: same entries, same order, paths kept as URLs."""
    fs, root = url_fs(url)
    url, root = url.rstrip("/"), root.rstrip("/")
    try:
        if not fs.exists(root):
            raise DatasetError(f"{url}: no such file or folder")
        if any(fs.exists(f"{root}/{m}") for m in STORE_MARKERS):
            return _with_listing(zarr_entries(url, multilabel), fs)
        if not fs.isdir(root):
            if PurePosixPath(root).suffix.lower() in LIST_EXTS:
                return _url_list_entries(url, fs, root, multilabel, class_names, chain)
            return _with_listing(file_entries(url, multilabel), fs)
        found = fs.glob(f"{root}/{glob}", detail=True) if glob else fs.find(root, detail=True)
    except (OSError, ValueError) as e:
        if isinstance(e, ClassWeightsError):
            raise
        raise DatasetError(
            f"{url}: cannot list ({type(e).__name__}: {e}); credentials come from the "
            "environment or the fsspec configuration"
        ) from None
    infos = {_rel(root, info.get("name", name)): info for name, info in found.items()}
    infos.pop("", None)
    stores = {r.rpartition("/")[0] for r in infos if r.rpartition("/")[2] in STORE_MARKERS}
    stores |= {  # a glob may match the store folders themselves
        r
        for r, i in infos.items()
        if i.get("type") == "directory" and any(fs.exists(f"{root}/{r}/{m}") for m in STORE_MARKERS)
    }
    tops: list[str] = []
    for t in sorted(stores, key=len):  # a store's nested groups belong to the store
        if not any(t.startswith(u + "/") for u in tops):
            tops.append(t)
    inside: dict[str, list[str]] = {t: [] for t in tops}
    items: list[tuple[str, bool]] = [(t, True) for t in tops]
    for r, info in infos.items():
        top = next((t for t in tops if r.startswith(t + "/")), None)
        if top is not None:
            inside[top].append(r)
        elif info.get("type", "file") == "file" and (
            glob or r.lower().endswith(IMAGE_EXTS + ARRAY_EXTS + VOLUME_EXTS)
        ):
            items.append((r, False))
    items.sort(key=lambda it: _parts(it[0]))

    def join(r: str) -> str:
        return f"{url}/{r}"

    paths = [PurePosixPath(r) for r, _ in items]
    if multilabel and items and all(p.suffix.lower() == ".png" for p in paths):
        per_class = perclass_entries(paths, class_names)
        if per_class is not None:
            return [
                Entry(
                    "perclass",
                    join(e.path),
                    files=tuple((c, join(f)) for c, f in e.files),
                    listing=tuple(_stamp(join(f), infos[f], fs) for _, f in e.files),
                )
                for e in per_class
            ]
    check_single_layout(url, paths, [store for _, store in items], kinds=not glob)
    out: list[Entry] = []
    for r, store in items:
        if store:
            rows = tuple(_stamp(join(f), infos[f], fs) for f in sorted(inside[r], key=_parts))
            out.extend(_replace_listing(e, rows) for e in zarr_entries(join(r), multilabel))
        else:
            rows = (_stamp(join(r), infos[r], fs),)
            out.extend(_replace_listing(e, rows) for e in file_entries(join(r), multilabel))
    return out


def _parts(rel: str) -> list[str]:
    """Sort key of a relative path: the order ``sorted()`` gives the same local ``Path``s."""
    return rel.split("/")


def _rel(root: str, name: str) -> str:
    name = name.rstrip("/")
    if name == root:
        return ""
    return name[len(root) + 1 :] if name.startswith(root + "/") else name


def _url_list_entries(url, fs, root, multilabel, class_names, chain=()) -> list[Entry]:
    identity = fs.unstrip_protocol(posixpath.normpath(root))  # `a/../b.txt` is `b.txt`
    chain = enter_list(chain, identity, url)  # a list naming itself, or a cycle: named
    base = url.rsplit("/", 1)[0]
    out: list[Entry] = []
    for raw in fs.cat_file(root).decode("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if is_url(line):
            target = line
        elif line.startswith("/"):
            target = fs.unstrip_protocol(line)
        else:
            target = f"{base}/{line}"
        out.extend(discover_url(target, None, multilabel, class_names, chain))
    return out


def _replace_listing(e: Entry, rows: tuple[tuple[str, int, int | str], ...]) -> Entry:
    return Entry(e.kind, e.path, e.n, e.key, e.files, rows)


def _with_listing(entries: list[Entry], fs: Any) -> list[Entry]:
    return [_replace_listing(e, tuple(remote_listing(e, fs))) for e in entries]


def _stamp(url: str, info: dict[str, Any], fs: Any) -> tuple[str, int, int | str]:
    """``(url, size, version)``: the etag when the store gives one, else the modification time;
    a local file reached by a ``file://`` URL gets the version a local path gets
    (`file_version`: modification and change time), so one rule holds however it is reached."""
    if is_local_fs(fs):
        try:
            st = os.stat(info["name"])
        except OSError:
            return url, -1, -1  # gone: a stamp no real file has
        return url, st.st_size, file_version(st)
    for key in ("ETag", "etag", "Etag", "md5Hash", "generation"):
        if info.get(key):
            return url, int(info.get("size") or 0), str(info[key]).strip('"')
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        v = info.get(key)
        if v is None:
            continue
        if hasattr(v, "timestamp"):
            v = v.timestamp()
        try:
            return url, int(info.get("size") or 0), f"mtime:{round(float(v) * 1e6)}"
        except (TypeError, ValueError):
            return url, int(info.get("size") or 0), f"mtime:{v}"
    return url, int(info.get("size") or 0), f"ukey:{fs.ukey(info['name'])}"


def remote_listing(e: Entry, fs: Any) -> list[tuple[str, int, int | str]]:
    if e.kind == "zarr":
        root = url_fs(e.path)[1].rstrip("/")
        found = {_rel(root, n): i for n, i in fs.find(root, detail=True).items()}
        base = e.path.rstrip("/")
        return [_stamp(f"{base}/{r}", found[r], fs) for r in sorted(found, key=_parts)]
    urls = [f for _, f in e.files] if e.kind == "perclass" else [e.path]
    return [_stamp(u, fs.info(url_fs(u)[1]), fs) for u in urls]


class RemoteNpy:
    """A remote ``.npy`` read lazily: one ranged request per image instead of the whole file."""

    def __init__(self, url: str):
        self.url = url
        self.fs, self.p = url_fs(url)
        with self.fs.open(self.p, "rb", block_size=1 << 16) as fh:
            fmt = np.lib.format
            version = fmt.read_magic(fh)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            self.shape, self.fortran, self.dtype = read(fh)
            self.offset = fh.tell()
        if self.dtype.hasobject:
            raise ValueError("object arrays are not label masks")
        self.ndim = len(self.shape)

    def __array__(self, dtype: Any = None, copy: Any = None) -> NDArray[Any]:
        arr = np.load(io.BytesIO(self.fs.cat_file(self.p)), allow_pickle=False)
        return arr if dtype is None else arr.astype(dtype)

    def __getitem__(self, i: int) -> NDArray[Any]:
        if self.fortran or not isinstance(i, (int, np.integer)):
            return np.asarray(self)[i]
        row = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        start = self.offset + int(i) * row
        buf = self.fs.cat_file(self.p, start, start + row)
        return np.frombuffer(buf, self.dtype).reshape(self.shape[1:])
