"""What discovery produces: `Entry` (one readable thing holding N images), reader options,
constants."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DatasetError, MaskReadError, MissingDependencyError, require

IMAGE_EXTS = (".png", ".tif", ".tiff", ".bmp", ".gif")


ARRAY_EXTS = (".npy", ".npz")


LIST_EXTS = (".txt", ".lst", ".list")
#: list files may name list files, this many deep (a deeper chain is refused, as is a cycle)
MAX_LIST_DEPTH = 16


def enter_list(
    chain: tuple[tuple[str, str], ...], key: str, shown: str
) -> tuple[tuple[str, str], ...]:
    """The chain of list files being read, ``(identity, name)`` each, with one more; a list
    file that names itself, a cycle, or a chain deeper than :data:`MAX_LIST_DEPTH` is refused.

    >>> enter_list((("/d/a.txt", "a.txt"),), "/d/a.txt", "a.txt")
    Traceback (most recent call last):
    ...
    classweights.errors.DatasetError: a.txt lists itself; remove that line from it
    """
    keys = [k for k, _ in chain]
    if key in keys:
        if keys[-1] == key:
            raise DatasetError(f"{shown} lists itself; remove that line from it")
        cycle = " -> ".join(n for _, n in chain[keys.index(key) :])
        raise DatasetError(
            f"list files form a cycle: {cycle} -> {shown}; remove the line of "
            f"{chain[-1][1]} that names {shown}"
        )
    if len(chain) >= MAX_LIST_DEPTH:
        raise DatasetError(
            f"{shown}: list files name list files more than {MAX_LIST_DEPTH} deep (from "
            f"{chain[0][1]}); list the masks, or folders, directly"
        )
    return (*chain, (key, shown))


DEFAULT_MAX_PIXELS = 1 << 30


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


#: ``png_decoder`` settings: ``auto`` counts PNGs with the fused path where it applies,
#: ``library`` always decodes them with libpng / Pillow (to rule the fused path out).
PNG_DECODERS = ("auto", "library")


STORE_MARKERS = ("zarr.json", ".zarray", ".zgroup")


@dataclass(slots=True, unsafe_hash=True)
class Entry:
    """One readable thing holding ``n`` images.

    kind: ``image`` (one mask file; for an NRRD header with detached data, ``files`` lists
    ``(part, path)`` of its data files), ``npy``, ``npz`` (``key`` names the array), ``zarr``
    (``key`` names the array inside a group), ``perclass`` (multi-label: one binary PNG per
    class, ``files`` lists ``(class_index, path)``).
    """

    kind: str
    path: str
    n: int = 1
    key: str | None = None
    files: tuple[tuple[int, str], ...] = ()
    # rows of `file_listing` already known from a remote listing (saves a request per file);
    # not pickled, so tasks sent to Dask workers do not carry a zarr store's whole listing
    listing: tuple[tuple[str, int, int | str], ...] = field(default=(), compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in ("kind", "path", "n", "key", "files")} | {
            "listing": ()
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def source_id(self, i: int) -> str:
        name = f"{self.path}:{self.key}" if self.key else self.path
        return f"{name}[{i}]" if self.kind in ("npy", "npz", "zarr") and self.n > 1 else name


@dataclass(frozen=True)
class ReadOptions:
    """Decoder settings that change what a mask reads as (and ``png_decoder``, which never
    does: ``auto`` counts PNGs with the fused path where it applies, ``library`` decodes every
    one with libpng / Pillow, for a bug report; see `classweights.sources.png`)."""

    multilabel: bool = False
    rgb: bool = False  # a colour table is given: 3-channel masks are colours
    max_pixels: int = DEFAULT_MAX_PIXELS
    png_decoder: str = "auto"

    def __post_init__(self) -> None:
        if self.png_decoder not in PNG_DECODERS:
            raise ConfigError(
                f"png_decoder={self.png_decoder!r} is not one of {', '.join(PNG_DECODERS)}"
            )


def is_zarr_dir(p: Path) -> bool:
    return p.is_dir() and any((p / m).exists() for m in ("zarr.json", ".zarray", ".zgroup"))


def is_url(path: Any) -> bool:
    """True for an fsspec URL such as ``s3://bucket/masks`` (local paths take the fast path)."""
    return isinstance(path, str) and "://" in path


def url_fs(url: str) -> tuple[Any, str]:
    fsspec = require("fsspec", "dask", f"reading {url}")
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as e:  # e.g. s3fs / gcsfs missing: fsspec names the package
        raise MissingDependencyError(f"{url}: {e}") from None


def is_local_fs(fs: Any) -> bool:
    """True for fsspec's local file system (``file://`` and ``local://`` URLs)."""
    protocol = getattr(fs, "protocol", ())
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return any(p in ("file", "local") for p in protocols)


def local_path(path: str) -> str | None:
    """The local file behind ``path``: itself, the path of a ``file://`` URL, or None for a
    remote URL.

    >>> local_path("masks/a.png"), local_path("s3://bucket/a.png")
    ('masks/a.png', None)
    """
    if not is_url(path):
        return path
    for scheme in ("file://", "local://"):  # what fsspec's local file system strips
        if path.startswith(scheme):
            rest = path[len(scheme) :]
            return rest if rest.startswith("/") else os.path.abspath(rest)
    return None


def open_binary(path: str) -> Any:
    if is_url(path):
        fs, p = url_fs(path)
        return fs.open(p, "rb")
    return open(path, "rb")


def open_regular(path: str) -> Any:
    """``open(path, "rb")`` for a regular file only: a FIFO or a device is refused instead of
    blocking the scan (opened without waiting for a writer, then checked)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise MaskReadError(
                f"{path}: is {special_kind(mode)}, not a regular file; a mask must be a file"
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def special_kind(mode: int) -> str:
    """What a non-regular file is, for messages.

    >>> special_kind(stat.S_IFIFO), special_kind(stat.S_IFDIR)
    ('a FIFO (named pipe)', 'a folder')
    """
    kinds = (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((what for test, what in kinds if test(mode)), "not a regular file")


def file_version(st: os.stat_result) -> str:
    """A local file's version for fingerprints: ``"mtime_ns:ctime_ns"``.

    The modification time alone can be set back (``touch -r``, ``tar``/``rsync -a`` restoring an
    archive's times), so a file rewritten with its old size and time would keep its old key;
    the change time is set by the kernel on every write or metadata change and cannot be set
    back. A copy of a dataset therefore gets new versions (and is scanned once), a move or
    rename within a file system keeps them.

    >>> import os, tempfile
    >>> f = os.path.join(tempfile.mkdtemp(), "m.npy"); _ = open(f, "wb").write(b"a")
    >>> before = file_version(os.stat(f)); st = os.stat(f)
    >>> _ = open(f, "wb").write(b"b"); os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    >>> os.stat(f).st_mtime_ns == st.st_mtime_ns, file_version(os.stat(f)) == before
    (True, False)
    """
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}"
