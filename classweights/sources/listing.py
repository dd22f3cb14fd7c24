"""Every file behind discovered entries, with its size and version: what a dataset fingerprint
hashes. Local files are stat-ed (`file_version`); URLs are listed through their store."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from . import remote
from .entries import Entry, file_version, is_url, url_fs


def file_listing(entries: Sequence[Entry]) -> list[tuple[str, int, int | str]]:
    """Every file behind the entries as ``(path, size, version)``, for dataset fingerprints.

    ``version`` is `file_version` (modification and change time) for local files and, for URLs,
    the store's etag (or its modification time, or fsspec's ``ukey``) taken from the listing
    made by :func:`discover`.
    A zarr store lists every file inside it. Each file appears once, in entry order.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); f = os.path.join(d, "m.png"); _ = open(f, "wb").write(b"x" * 3)
    >>> [(os.path.basename(p), size) for p, size, _ in file_listing([Entry("image", f)])]
    [('m.png', 3)]
    """
    out: list[tuple[str, int, int | str]] = []
    seen: set[str] = set()
    for e in entries:
        if e.listing:
            rows: Iterable[tuple[str, int, int | str]] = e.listing
        elif is_url(e.path):
            fs, _ = url_fs(e.path)
            rows = remote.remote_listing(e, fs)
        else:
            rows = _local_listing(e)
        for row in rows:
            if row[0] not in seen:
                seen.add(row[0])
                out.append(row)
    return out


def _local_listing(e: Entry) -> Iterator[tuple[str, int, int | str]]:
    if e.kind == "zarr":
        files = sorted(Path(d) / n for d, _, names in os.walk(e.path) for n in names)
    elif e.kind == "perclass":
        files = [Path(f) for _, f in e.files]
    else:  # an image, with a detached NRRD's data files
        files = [Path(e.path), *(Path(f) for _, f in e.files)]
    for f in files:
        try:
            st = f.stat()
        except OSError:  # gone or a broken link: a stamp no real file has, so the key changes
            yield str(f), -1, -1
            continue
        yield str(f), st.st_size, file_version(st)
