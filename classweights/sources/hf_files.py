"""The files a Hugging Face dataset is kept in, read with pyarrow alone (``datasets`` is never
imported): a folder written by ``Dataset.save_to_disk`` (its ``.arrow`` shards, IPC streams,
memory-mapped), ``.arrow`` files, and ``.parquet`` files (read a row group at a time, only the
mask column). The column is chosen as for a Dataset (:func:`.hf.choose_column`, from the
``datasets`` features the files carry, else from the column types); the files are identified
for the cache by their listing, as mask files are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, MaskReadError, require
from .entries import ARRAY_EXTS, IMAGE_EXTS, LIST_EXTS, is_url
from .hf import BATCH_ROWS, HFColumn, choose_column, image_columns, said
from .hf_cells import cell_kind, is_image_struct
from .volumes import VOLUME_EXTS

#: the files of a dataset, read with pyarrow
FILE_EXTS = (".arrow", ".parquet")
#: how an Arrow IPC stream ends (a continuation marker and a zero length), as pyarrow writes it
END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"
#: names of files (masks, lists, zarr stores aside) that cannot be a saved dataset's folder
_NOT_FOLDERS = (*IMAGE_EXTS, *ARRAY_EXTS, *LIST_EXTS, *VOLUME_EXTS)
#: what ``Dataset.save_to_disk`` writes beside its ``.arrow`` shards
SAVED_MARKERS = ("state.json", "dataset_info.json")


def hf_files(paths: Sequence[str], given: str | None) -> HFColumn | None:
    """The mask column of the dataset files ``paths`` name (a folder written by
    ``save_to_disk``, ``.arrow`` or ``.parquet`` files), or None when they name none; such
    files beside mask files are refused."""
    found = [p for p in paths if is_hf_path(p)]
    if not found:
        return None
    if len(found) != len(paths):
        other = next(p for p in paths if p not in found)
        raise DatasetError(
            f"{found[0]} is a dataset file (or folder) but {other} is not; scan the dataset's "
            "files and mask files separately"
        )
    files: list[str] = []
    for p in paths:
        if is_url(p):
            raise DatasetError(
                f"{p}: dataset files are read from local paths; download them first (e.g. "
                "huggingface-cli download)"
            )
        files += saved_files(p) if os.path.isdir(p) else [os.path.abspath(p)]
    table = _Files(files, list(paths), given)
    said(table)
    return table


def is_hf_path(path: str) -> bool:
    """A ``.arrow``/``.parquet`` file, or a folder written by ``save_to_disk`` (a Dataset's, or
    a DatasetDict's)."""
    name = str(path).lower()
    if name.endswith(FILE_EXTS):
        return True
    if name.endswith(_NOT_FOLDERS) or is_url(path) or not os.path.isdir(path):
        return False  # a long list of mask files costs no stat
    folder = Path(path)
    return (folder / "dataset_dict.json").is_file() or all(
        (folder / m).is_file() for m in SAVED_MARKERS
    )


def _json(path: Path) -> Any:
    try:
        if path.stat().st_size > 1 << 24:
            raise DatasetError(f"{path}: over 16 MB; not a file save_to_disk writes")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: cannot read it ({e}); save the dataset again") from None


def saved_files(folder: str) -> list[str]:
    """The ``.arrow`` shards of a folder written by ``Dataset.save_to_disk``, in order."""
    root = Path(folder).resolve()
    if (root / "dataset_dict.json").is_file():
        splits = [str(s) for s in _json(root / "dataset_dict.json").get("splits", [])]
        example = root / splits[0] if splits else root / "train"
        raise DatasetError(
            f"{folder}: a DatasetDict saved with save_to_disk (splits: {', '.join(splits)}); "
            f"name the folder of one split, e.g. {example}"
        )
    state = _json(root / "state.json")
    names = [f.get("filename") for f in state.get("_data_files", []) if isinstance(f, dict)]
    if not names or not all(isinstance(n, str) for n in names):
        raise DatasetError(f"{root / 'state.json'}: lists no data files; save the dataset again")
    return [str(root / n) for n in names]


class _Files(HFColumn):
    """``.arrow`` (IPC stream, as ``datasets`` writes them) and ``.parquet`` files."""

    def __init__(self, files: list[str], shown: list[str], given: str | None):
        self._pa = require("pyarrow", "hf", "reading .arrow/.parquet dataset files")
        self.files = tuple(files)
        self.inputs = shown
        schemas = [self._schema(f) for f in files]
        first, where = schemas[0], (shown[0] if len(shown) == 1 else files[0])
        features = _hf_features(first)
        if features is None and os.path.isdir(shown[0]):
            features = _json(Path(shown[0]) / "dataset_info.json").get("features")
        if isinstance(features, dict):
            images = image_columns(features)
        else:
            images = [f.name for f in first if is_image_struct(f.type)]
        self.column = choose_column(first.names, images, given, where)
        for f, schema in zip(files, schemas, strict=True):
            if self.column not in schema.names:
                raise DatasetError(f"{f}: has no column {self.column!r} (as {where} has)")
        self.kind = cell_kind(first.field(self.column).type, self.column, where)
        self._rows = [self._count(f) for f in files]
        self.rows = sum(self._rows)

    def _fail(self, path: str, e: Exception) -> MaskReadError:
        return MaskReadError(f"{path}: cannot read the dataset file ({e}); is it damaged?")

    def _stream(self, path: str) -> Any:
        """The record batches of an ``.arrow`` file, memory-mapped: an IPC stream (as
        ``datasets`` writes them) or an IPC file; ``.schema`` is theirs."""
        ipc = self._pa.ipc
        try:
            reader = ipc.open_stream(self._pa.memory_map(path))
        except self._pa.ArrowInvalid:
            return _FileBatches(ipc.open_file(self._pa.memory_map(path)))
        with open(path, "rb") as fh:  # a stream cut between two batches reads as a shorter one
            fh.seek(max(0, os.path.getsize(path) - len(END_OF_STREAM)))
            if fh.read() != END_OF_STREAM:
                raise MaskReadError(
                    f"{path}: the Arrow stream ends without its end-of-stream marker: the file "
                    "is cut short (a copy or download that stopped?); copy or save it again"
                )
        return reader

    def _schema(self, path: str) -> Any:
        try:
            if path.lower().endswith(".parquet"):
                import pyarrow.parquet as pq

                return pq.ParquetFile(path).schema_arrow
            return self._stream(path).schema
        except (OSError, self._pa.ArrowException) as e:
            raise self._fail(path, e) from None

    def _count(self, path: str) -> int:
        try:
            if path.lower().endswith(".parquet"):
                import pyarrow.parquet as pq

                return int(pq.ParquetFile(path).metadata.num_rows)
            return sum(b.num_rows for b in self._stream(path))  # memory-mapped: headers only
        except (OSError, self._pa.ArrowException) as e:
            raise self._fail(path, e) from None

    def _batches(self, rows: Sequence[int] | None) -> Iterator[tuple[Sequence[int], Any, str]]:
        wanted = None if rows is None else np.asarray(rows, np.int64)
        offset = 0
        for path, n in zip(self.files, self._rows, strict=True):
            local = None
            if wanted is not None:
                local = wanted[(wanted >= offset) & (wanted < offset + n)] - offset
            if local is None or local.size:
                try:
                    for index, array in self._read(path, local):
                        yield [offset + i for i in index], array, path
                except (OSError, self._pa.ArrowException) as e:
                    raise self._fail(path, e) from None
            offset += n

    def _read(self, path: str, local: np.ndarray | None) -> Iterator[tuple[Sequence[int], Any]]:
        """``(rows of the file, their cells)``: every row, or the ``local`` ones (sorted), at
        most :data:`BATCH_ROWS` at a time."""
        if path.lower().endswith(".parquet"):
            batches = _parquet_batches(path, self.column, local)
        else:
            batches = _stream_batches(self._stream(path), self.column)
        for start, array in batches:
            if local is None:
                for a in range(0, len(array), BATCH_ROWS):
                    part = array.slice(a, BATCH_ROWS)
                    yield range(start + a, start + a + len(part)), part
                continue
            mine = local[(local >= start) & (local < start + len(array))] - start
            for a in range(0, mine.size, BATCH_ROWS):
                part = mine[a : a + BATCH_ROWS]
                yield (part + start).tolist(), array.take(self._pa.array(part))


class _FileBatches:
    """The batches of an Arrow IPC *file*, iterated as a stream's are."""

    def __init__(self, reader: Any):
        self.reader, self.schema = reader, reader.schema

    def __iter__(self) -> Iterator[Any]:
        return (self.reader.get_batch(i) for i in range(self.reader.num_record_batches))


def _stream_batches(reader: Any, column: str) -> Iterator[tuple[int, Any]]:
    start = 0
    for batch in reader:
        yield start, batch.column(batch.schema.get_field_index(column))
        start += batch.num_rows


def _parquet_batches(path: str, column: str, local: np.ndarray | None) -> Iterator[tuple[int, Any]]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    sizes = [pf.metadata.row_group(g).num_rows for g in range(pf.metadata.num_row_groups)]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    for g, n in enumerate(sizes):
        if local is not None and not ((local >= starts[g]) & (local < starts[g] + n)).any():
            continue
        start = int(starts[g])
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[g], columns=[column]):
            yield start, batch.column(0)
            start += batch.num_rows


def _hf_features(schema: Any) -> dict[str, Any] | None:
    """The ``datasets`` features a file's schema carries (its ``huggingface`` metadata)."""
    meta = (schema.metadata or {}).get(b"huggingface")
    if not meta:
        return None
    try:
        features = json.loads(meta).get("info", {}).get("features")
    except (ValueError, AttributeError):
        return None
    return features if isinstance(features, dict) else None
