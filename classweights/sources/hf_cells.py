"""The cells of a Hugging Face dataset's mask column, as stored, turned into masks.

A cell is taken as pyarrow holds it (never decoded by ``datasets``) and read in a scan worker
(:meth:`StoredCell.read`), so decoding runs in parallel and an unreadable cell is one failure
of that row (``on_error="skip"`` skips it, as it skips a file):

- an ``Image`` cell (``{"bytes", "path"}``, decoded or not in ``datasets``' eyes): its bytes
  are decoded by :func:`~classweights.sources.readers.decode_image`, with every check a mask
  file gets (PNG CRCs, truncation, low bit depths, the pixel limit; never Pillow's lenient
  path); a cell holding only a ``path`` reads that file as a mask file. A JPEG is refused: it
  blurs the labels at every edge;
- a binary cell (``Value("binary")``): the same, its bytes are the encoded mask;
- an array cell (``Array2D``/``Array3D``, nested ``List``/``Sequence`` of integers): its
  values with their shape (a ragged one is refused).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import DatasetError, MaskReadError
from .entries import ReadOptions
from .readers import decode_image, read_image

#: what each kind of column holds: an encoded image (struct of bytes and path), encoded bytes,
#: or nested lists of values
CELL_KINDS = ("image", "binary", "array")
JPEG_SIGNATURE = b"\xff\xd8\xff"


class StoredCell:
    """One mask as a dataset stores it, read when a scan worker counts it."""

    name: str  # how messages name it: "<where> row 3, column 'annotation'"

    def read(self, opts: ReadOptions) -> Any:  # pragma: no cover - every subclass has one
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class StoredImage(StoredCell):
    """An encoded mask (``data``), or the file it was made from (``path``) when the dataset
    holds only that."""

    data: bytes | None
    path: str | None
    name: str

    def read(self, opts: ReadOptions) -> NDArray[Any]:
        if self.data is None:
            if not self.path:
                raise MaskReadError(
                    f"{self.name}: holds no mask (null); drop such rows (Dataset.filter) or pass "
                    "on_error='skip' (--on-error skip)"
                )
            return read_image(self.path, opts)  # not stored in the dataset: read as a file
        if self.data[:3] == JPEG_SIGNATURE:
            raise MaskReadError(
                f"{self.name}: is a JPEG; JPEG blurs the labels at every edge into values of "
                "no class, so a mask must be stored losslessly: re-encode the masks as PNG"
            )
        return decode_image(self.data, self.name, opts)


@dataclass(frozen=True, slots=True)
class StoredArray(StoredCell):
    """Nested lists of labels (a pyarrow list array, or None for a null cell)."""

    values: Any
    name: str

    def read(self, opts: ReadOptions) -> NDArray[Any]:
        if self.values is None:
            return StoredImage(None, None, self.name).read(opts)
        return nested_array(self.values, self.name, opts.max_pixels)


def cell_kind(arrow_type: Any, column: str, where: str) -> str:
    """The kind of cells a column of ``arrow_type`` holds (:data:`CELL_KINDS`); a column of
    one value per row (a class id, a string) is refused: it holds no mask."""
    import pyarrow as pa

    t = arrow_type.storage_type if isinstance(arrow_type, pa.ExtensionType) else arrow_type
    if pa.types.is_struct(t) and t.get_field_index("bytes") >= 0:
        return "image"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    if _is_list(t):
        leaf = t
        while _is_list(leaf):
            leaf = leaf.value_type
        if not _is_label_type(leaf):
            what = (
                "images (e.g. one mask per class or instance)"
                if pa.types.is_struct(leaf)
                else f"{leaf} values"
            )
            raise DatasetError(
                f"{where}: column {column!r} holds lists of {what}, not one mask per row of "
                "labels; name a column of masks with mask_column="
            )
        return "array"
    raise DatasetError(
        f"{where}: column {column!r} holds one {t} value per row (e.g. a class of the whole "
        "image), not a mask; name the column of masks with mask_column= (--mask-column)"
    )


def is_image_struct(arrow_type: Any) -> bool:
    """The storage of an ``Image`` (or ``Audio``) feature: a struct of ``bytes`` and ``path``."""
    import pyarrow as pa

    t = arrow_type.storage_type if isinstance(arrow_type, pa.ExtensionType) else arrow_type
    return bool(
        pa.types.is_struct(t) and t.get_field_index("bytes") >= 0 and t.get_field_index("path") >= 0
    )


def cells(
    array: Any, kind: str, rows: Sequence[int], name: Callable[[int], str]
) -> Iterator[tuple[int, StoredCell]]:
    """``(row, cell)`` for each row of a column's ``array`` (rows: their dataset positions)."""
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if isinstance(array.type, pa.ExtensionType):
        array = array.storage
    if kind == "image":
        fields = dict(zip([f.name for f in array.type], array.flatten(), strict=True))
        paths = fields["path"].to_pylist() if "path" in fields else [None] * len(array)
        for i, data, path in zip(rows, fields["bytes"].to_pylist(), paths, strict=True):
            yield i, StoredImage(data, path, name(i))
    elif kind == "binary":
        for i, data in zip(rows, array.to_pylist(), strict=True):
            yield i, StoredImage(data, None, name(i))
    else:
        for k, i in enumerate(rows):
            value = array[k]
            yield i, StoredArray(value.values if value.is_valid else None, name(i))


def _is_list(t: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    )


def _is_label_type(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t))


def nested_array(values: Any, name: str, max_pixels: int) -> NDArray[Any]:
    """The array of a cell's nested lists (``values``: the cell's outer list as a pyarrow
    array); every level must be rectangular.

    >>> import pyarrow as pa
    >>> nested_array(pa.array([[0, 1, 2], [3, 4, 5]]), "row 0", 100).tolist()
    [[0, 1, 2], [3, 4, 5]]
    >>> nested_array(pa.array([[0, 1], [2]]), "row 0", 100)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classweights.errors.MaskReadError: row 0: a ragged array (rows of 2 and 1 values); a mask...
    """
    import pyarrow.compute as pc

    shape = [len(values)]
    level = values
    while _is_list(level.type):
        if level.null_count:
            raise MaskReadError(f"{name}: the array holds null rows; a mask has a label per pixel")
        lengths = np.asarray(pc.list_value_length(level).to_numpy(zero_copy_only=False), np.int64)
        if lengths.size and (lengths != lengths[0]).any():
            other = int(lengths[np.flatnonzero(lengths != lengths[0])[0]])
            raise MaskReadError(
                f"{name}: a ragged array (rows of {int(lengths[0])} and {other} values); a mask "
                "has as many labels in every row"
            )
        shape.append(int(lengths[0]) if lengths.size else 0)
        if math.prod(shape) > max_pixels:
            raise MaskReadError(
                f"{name}: holds {math.prod(shape):,} values, above the limit of {max_pixels:,}; "
                "raise it with --max-pixels if the mask is genuine"
            )
        level = level.flatten()
    if not _is_label_type(level.type):
        raise MaskReadError(f"{name}: holds {level.type} values, not labels")
    if level.null_count:
        raise MaskReadError(f"{name}: the array holds nulls; a mask has a label per pixel")
    flat = level.to_numpy(zero_copy_only=False)
    return np.asarray(flat).reshape(shape)
