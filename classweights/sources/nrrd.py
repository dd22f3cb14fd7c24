"""NRRD label volumes (``.nrrd``, detached ``.nhdr``): the header within bounds, detached data
files only inside the dataset's folder, and data decoded into an array of the declared size.

pynrrd parses the header fields (``nrrd.read_header``); the data is read by :mod:`.nrrd_data`,
because ``nrrd.read`` follows ``data file:`` anywhere (an absolute path, a FIFO that never
ends) and inflates a gzip/bzip2 stream whole before comparing it with the declared size.

Detached data (``data file: NAME``, ``data file: LIST [SUBDIM]`` with the names on the
header's last lines, or ``data file: FORMAT MIN MAX STEP [SUBDIM]`` with a printf-style
``%d``) is found when the dataset is listed (:func:`with_data_files`): each file must be a
regular file inside the folder the scan was given, and joins the entry's listing, so the cache
key, ``--verify`` and incremental rescans cover it. The reader reads exactly those files.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import MaskReadError, require
from .entries import Entry, open_regular, special_kind

#: most bytes an NRRD header may take (a LIST of data files included)
MAX_HEADER = 1 << 20

NRRD_EXTS = (".nrrd", ".nhdr")

_CONVERSION = re.compile(r"%[-+ #0]*\d*[diuoxX]")


@dataclass(frozen=True)
class Header:
    """An NRRD header: pynrrd's fields, where attached data starts, the data file spec."""

    fields: dict[str, Any]
    offset: int | None  # attached data: its first byte in the header file
    spec: str | None  # the ``data file`` value, for detached data
    names: tuple[str, ...] = ()  # the names after ``data file: LIST``


def is_nrrd_path(path: str) -> bool:
    return str(path).lower().endswith(NRRD_EXTS)


def read_header(path: str) -> Header:
    """Parse the header of an NRRD file (at most :data:`MAX_HEADER` bytes)."""
    nrrd = require("nrrd", "medical", f"reading {path}")
    try:
        with open_regular(path) as fh:
            head = fh.read(MAX_HEADER + 1)
    except OSError as e:
        raise MaskReadError(f"{path}: cannot read ({e.strerror or e})") from None
    if not head.startswith(b"NRRD"):
        raise MaskReadError(f"{path}: not an NRRD file (it does not start with 'NRRD')")
    lines: list[str] = []
    pos, offset, spec, names = 0, None, None, ()
    while True:
        end = head.find(b"\n", pos)
        if end < 0:
            if len(head) > MAX_HEADER:
                raise MaskReadError(
                    f"{path}: the NRRD header runs past {MAX_HEADER:,} bytes without the blank "
                    "line that ends it; the file is damaged"
                )
            end = len(head)  # a detached header may end without a newline
        line = head[pos:end].decode("latin-1").rstrip()
        pos = end + 1
        if not line:
            if end < len(head):
                offset = pos  # the blank line: attached data follows
            break
        if line.startswith("#"):
            continue
        lines.append(line)
        field, _, value = line.partition(":")
        if field.strip().lower() in ("data file", "datafile"):
            spec = value.lstrip("=").strip()
            if spec.split()[:1] == ["LIST"]:  # the data file names fill the header's end
                if len(head) > MAX_HEADER:
                    raise MaskReadError(
                        f"{path}: the NRRD header's list of data files runs past "
                        f"{MAX_HEADER:,} bytes; split the volume over fewer files"
                    )
                rest = head[pos:].decode("latin-1").splitlines()
                names = tuple(n.strip() for n in rest if n.strip())
                break
        if pos >= len(head):
            break
    try:
        fields = nrrd.read_header(lines)
    except Exception as e:
        why = f"{type(e).__name__}: {e}"
        raise MaskReadError(f"{path}: cannot read the NRRD header ({why})") from None
    return Header(dict(fields), None if spec else offset, spec, names)


def sizes(h: Header, path: str) -> tuple[int, ...]:
    shape = tuple(int(s) for s in np.asarray(h.fields.get("sizes", ()), np.int64).reshape(-1))
    if not shape or any(s <= 0 for s in shape) or h.fields.get("dimension") != len(shape):
        raise MaskReadError(
            f"{path}: the NRRD header gives sizes {shape} for dimension "
            f"{h.fields.get('dimension')}; the header is damaged"
        )
    return shape


def data_names(h: Header, path: str) -> list[str]:
    """The detached data files as the header names them (before resolving)."""
    if h.spec is None:
        return []
    words = h.spec.split()
    if words[:1] == ["LIST"]:
        if not h.names:
            raise MaskReadError(f"{path}: 'data file: LIST' is followed by no file names")
        return list(h.names)
    if len(words) >= 4 and "%" in words[0]:
        fmt = words[0]
        bare = fmt.replace("%%", "")
        if len(_CONVERSION.findall(bare)) != 1 or bare.count("%") != 1:
            raise MaskReadError(
                f"{path}: the data file pattern {fmt!r} must hold exactly one integer "
                "conversion such as %03d"
            )
        try:
            lo, hi, step = (int(w) for w in words[1:4])
        except ValueError:
            raise MaskReadError(
                f"{path}: 'data file: {h.spec}' is not FORMAT MIN MAX STEP"
            ) from None
        total = math.prod(sizes(h, path))
        if step == 0 or (hi - lo) * step < 0 or abs(hi - lo) // abs(step) + 1 > total:
            raise MaskReadError(f"{path}: 'data file: {h.spec}' names no sensible file sequence")
        return [fmt % i for i in range(lo, hi + (1 if step > 0 else -1), step)]
    return [h.spec]


def resolve_data(path: str, h: Header, root: str) -> list[str]:
    """The detached data files of the header at ``path``, each checked: inside ``root`` (the
    folder the scan was given, symlinks resolved), an existing regular file."""
    names = data_names(h, path)
    if not names:
        return []
    base = os.path.dirname(os.path.abspath(path))
    top = os.path.realpath(root)
    out = []
    for name in names:
        full = os.path.normpath(os.path.join(base, name))  # an absolute name stays absolute
        real = os.path.realpath(full)
        if real != top and not real.startswith(os.path.join(top, "")):
            raise MaskReadError(
                f"{path}: its data file {name!r} lies outside the dataset folder {root}; "
                "detached NRRD data is read only inside the folder given: move the data next "
                "to the header, or pass the folder that holds both"
            )
        try:
            st = os.stat(full)
        except OSError as e:
            raise MaskReadError(
                f"{path}: its data file {name!r} cannot be read ({e.strerror or e})"
            ) from None
        if not stat.S_ISREG(st.st_mode):
            raise MaskReadError(
                f"{path}: its data file {name!r} is {special_kind(st.st_mode)}, not a regular "
                "file; point 'data file:' at the file that holds the voxels"
            )
        out.append(full)
    return out


def with_data_files(entry: Entry, root: str) -> Entry:
    """An NRRD entry with its detached data files (``entry.files``: ``(part, path)``) and their
    listing rows; other entries unchanged."""
    if entry.kind != "image" or not is_nrrd_path(entry.path):
        return entry
    h = read_header(entry.path)
    files = resolve_data(entry.path, h, root)
    if not files:
        return entry
    from .entries import file_version

    rows = list(entry.listing)
    if not rows:
        st = os.stat(entry.path)
        rows = [(entry.path, st.st_size, file_version(st))]
    for f in files:
        st = os.stat(f)
        rows.append((f, st.st_size, file_version(st)))
    return replace(entry, files=tuple(enumerate(files)), listing=tuple(rows))
