"""Finding masks and turning each into an array.

A source (folder, file, list file, zarr store, fsspec URL, Python iterable, torch Dataset) is
resolved into :class:`Entry` objects, each holding one or more images (`discover.py`, with the
URL twin in `remote.py`); a Hugging Face dataset (in memory, or its ``.arrow``/``.parquet``
files) into an :class:`HFColumn` (`hf.py`, `hf_files.py`, `hf_cells.py`). ``read_entry``
yields ``(source_id, array)`` for the requested images of an entry (`readers.py`). In-memory
sources are in `memory.py`. No counting happens here. Local paths use plain ``open``/``os.walk``
and never import fsspec.
"""

from __future__ import annotations

from .discover import discover
from .entries import (
    ARRAY_EXTS,
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTS,
    LIST_EXTS,
    PNG_SIGNATURE,
    STORE_MARKERS,
    Entry,
    ReadOptions,
    file_version,
    is_url,
    is_zarr_dir,
    local_path,
    open_binary,
    open_regular,
    url_fs,
)
from .found import file_entries, zarr_entries
from .hf import HFColumn, hf_column
from .hf_cells import StoredCell
from .hf_files import hf_files
from .listing import file_listing
from .memory import is_torch_dataset, iter_items, iter_torch_dataset, mask_from_item
from .palettes import Indexed
from .readers import png_header, read_entry, read_image, read_stacks
from .scratch import Scratch, ThreadScratch
from .walk import walk_masks

__all__ = [
    "ARRAY_EXTS",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTS",
    "LIST_EXTS",
    "PNG_SIGNATURE",
    "STORE_MARKERS",
    "Entry",
    "HFColumn",
    "Indexed",
    "ReadOptions",
    "Scratch",
    "StoredCell",
    "ThreadScratch",
    "discover",
    "file_entries",
    "file_listing",
    "file_version",
    "hf_column",
    "hf_files",
    "is_torch_dataset",
    "is_url",
    "is_zarr_dir",
    "iter_items",
    "iter_torch_dataset",
    "local_path",
    "mask_from_item",
    "open_binary",
    "open_regular",
    "png_header",
    "read_entry",
    "read_image",
    "read_stacks",
    "url_fs",
    "walk_masks",
    "zarr_entries",
]
