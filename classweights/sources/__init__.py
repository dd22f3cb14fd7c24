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

from .discover import discover, file_entries, zarr_entries
from .entries import (
    ARRAY_EXTS,
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTS,
    LIST_EXTS,
    PNG_SIGNATURE,
    STORE_MARKERS,
    Entry,
    ReadOptions,
    is_url,
    is_zarr_dir,
    open_binary,
    url_fs,
)
from .hf import HFColumn, hf_column
from .hf_cells import StoredCell
from .hf_files import hf_files
from .memory import is_torch_dataset, iter_items, iter_torch_dataset, mask_from_item
from .readers import png_header, read_entry, read_image, read_stacks
from .scratch import Scratch, ThreadScratch
from .walk import file_listing, file_version, walk_masks

__all__ = [
    "ARRAY_EXTS",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTS",
    "LIST_EXTS",
    "PNG_SIGNATURE",
    "STORE_MARKERS",
    "Entry",
    "HFColumn",
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
    "mask_from_item",
    "open_binary",
    "png_header",
    "read_entry",
    "read_image",
    "read_stacks",
    "url_fs",
    "walk_masks",
    "zarr_entries",
]
