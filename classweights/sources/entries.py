"""What discovery produces: `Entry` (one readable thing holding N images), reader options,
constants."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MissingDependencyError, require

IMAGE_EXTS = (".png", ".tif", ".tiff", ".bmp", ".gif")


ARRAY_EXTS = (".npy", ".npz")


LIST_EXTS = (".txt", ".lst", ".list")


DEFAULT_MAX_PIXELS = 1 << 30


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


#: ``png_decoder`` settings: ``auto`` counts PNGs with the fused path where it applies,
#: ``library`` always decodes them with libpng / Pillow (to rule the fused path out).
PNG_DECODERS = ("auto", "library")


STORE_MARKERS = ("zarr.json", ".zarray", ".zgroup")


@dataclass(slots=True, unsafe_hash=True)
class Entry:
    """One readable thing holding ``n`` images.

    kind: ``image`` (one mask file), ``npy``, ``npz`` (``key`` names the array), ``zarr``
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


def open_binary(path: str) -> Any:
    if is_url(path):
        fs, p = url_fs(path)
        return fs.open(p, "rb")
    return open(path, "rb")
