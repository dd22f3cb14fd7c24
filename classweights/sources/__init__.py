"""Finding masks and turning each into an array.

A source (folder, file, list file, zarr store, fsspec URL, Python iterable, torch Dataset) is
resolved into :class:`Entry` objects, each holding one or more images (`discover.py`, with the
URL twin in `remote.py`); a Hugging Face dataset (in memory, or its ``.arrow``/``.parquet``
files) into an :class:`HFColumn` (`hf.py`, `hf_files.py`, `hf_cells.py`). ``read_entry``
yields ``(source_id, array)`` for the requested images of an entry (`readers.py`); `png.py`
walks PNG chunks and gives the fused path a PNG's image data (its zlib stream, or its rows
inflated, still filtered) and libdeflate's decoder for the Numba kernels. In-memory sources are
in `memory.py`. No counting happens here. Local paths use plain ``open``/``os.walk`` and never
import fsspec.
"""

from __future__ import annotations

from .discover import discover
from .entries import (
    ARRAY_EXTS,
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTS,
    LIST_EXTS,
    PNG_DECODERS,
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
from .png import (
    PNG_DECODER_ENV,
    PngRows,
    PngStream,
    check_png_chunks,
    fused_available,
    inflate_rows,
    png_decoder,
    png_header,
    png_rows,
    png_stream,
    zlib_decompressor,
)
from .readers import decode_image, read_bytes, read_entry, read_image, read_stacks
from .scratch import Scratch, ThreadScratch
from .walk import walk_masks

__all__ = [
    "ARRAY_EXTS",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTS",
    "LIST_EXTS",
    "PNG_DECODERS",
    "PNG_DECODER_ENV",
    "PNG_SIGNATURE",
    "STORE_MARKERS",
    "Entry",
    "HFColumn",
    "Indexed",
    "PngRows",
    "PngStream",
    "ReadOptions",
    "Scratch",
    "StoredCell",
    "ThreadScratch",
    "check_png_chunks",
    "decode_image",
    "discover",
    "file_entries",
    "file_listing",
    "file_version",
    "fused_available",
    "hf_column",
    "hf_files",
    "inflate_rows",
    "is_torch_dataset",
    "is_url",
    "is_zarr_dir",
    "iter_items",
    "iter_torch_dataset",
    "local_path",
    "mask_from_item",
    "open_binary",
    "open_regular",
    "png_decoder",
    "png_header",
    "png_rows",
    "png_stream",
    "read_bytes",
    "read_entry",
    "read_image",
    "read_stacks",
    "url_fs",
    "walk_masks",
    "zarr_entries",
    "zlib_decompressor",
]
