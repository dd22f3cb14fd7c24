"""Hugging Face ``datasets`` as a source of masks: a map-style ``Dataset``, a streaming
``IterableDataset``, or the files a dataset is kept in (a ``save_to_disk`` folder, ``.arrow`` or
``.parquet`` files), these read with pyarrow alone (``datasets`` is never imported for them).

**Which column.** The one named (``mask_column``: any column); else the one ``Image`` column
whose name reads like a mask (a word of it starts with one of :data:`MASK_WORDS`:
``annotation``, ``semantic_map``, ``segmentation_mask``, ``mask``, ``label``...). The ``image``
column is never taken that way, nor a ``ClassLabel`` ``label`` column (one class per image, not
an ``Image``). No candidate, or several, is one error naming the columns and ``mask_column=``,
before any mask is read.

**As stored.** Cells are read as pyarrow holds them (a Dataset through its ``arrow`` format, so
neither ``datasets``' image decoding nor a transform set on the Dataset applies) and become
masks in the scan workers (:mod:`.hf_cells`: the checks of mask files).

**Identity.** A Dataset's is ``datasets``' own fingerprint (``Dataset._fingerprint``, which
``datasets`` derives anew at every ``map``/``filter``/``select``/``cast``), with its split,
column and row count; files are identified by their listing, as mask files are; a streaming
``IterableDataset`` has none, so its statistics are never cached.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import ConfigError, DatasetError
from .hf_cells import StoredCell, cell_kind, cells, is_image_struct

log = logging.getLogger(__name__)

#: a column is taken for the masks when a word of its name starts with one of these
MASK_WORDS = ("annotation", "semantic", "seg", "mask", "label", "gt", "target", "trimap")
#: rows read (and decoded into Python objects) at once
BATCH_ROWS = 64


def hf_kind(obj: Any) -> str | None:
    """``"dataset"``, ``"iterable"`` or ``"dict"`` for a ``datasets`` object, else None (found
    by class, without importing ``datasets``)."""
    for c in type(obj).__mro__:
        module, name = c.__module__, c.__name__
        if module == "datasets.arrow_dataset" and name == "Dataset":
            return "dataset"
        if module == "datasets.iterable_dataset" and name == "IterableDataset":
            return "iterable"
        if module == "datasets.dataset_dict" and name.endswith("DatasetDict"):
            return "dict"
    return None


def mask_like(name: str) -> bool:
    """True when a word of ``name`` starts as a mask column's name does (:data:`MASK_WORDS`).

    >>> names = ("annotation", "semantic_map", "segmentationMask", "gtFine", "label")
    >>> [mask_like(n) for n in names], [mask_like(n) for n in ("image", "pixel_values")]
    ([True, True, True, True, True], [False, False])
    """
    words = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)
    return any(w.lower().startswith(MASK_WORDS) for w in words)


def choose_column(
    columns: Sequence[str], images: Sequence[str], given: str | None, where: str
) -> str:
    """The column of masks: ``given`` (any column), else the one of ``images`` (the ``Image``
    columns) named like masks.

    >>> choose_column(["image", "annotation", "label"], ["image", "annotation"], None, "ds")
    'annotation'
    >>> choose_column(["image", "label"], ["image"], None, "ds")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classweights.errors.DatasetError: ds: no column of masks found: its Image column (image)...
    """
    if given is not None:
        if given not in columns:
            close = difflib.get_close_matches(given, list(columns), 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            error = ConfigError(
                f"mask_column={given!r} is not a column of {where}{hint}; its columns: "
                f"{', '.join(columns)}"
            )
            error.param = "mask_column"  # type: ignore[attr-defined]
            raise error
        return given
    found = [c for c in images if mask_like(c)]
    if len(found) == 1:
        return found[0]
    if found:
        raise DatasetError(
            f"{where}: several Image columns may hold the masks: {', '.join(found)}; name one "
            f"with mask_column={found[0]!r} (--mask-column {found[0]})"
        )
    if images:
        many = len(images) > 1
        what = (
            f"its Image column{'s' if many else ''} ({', '.join(images)}) "
            f"{'are' if many else 'is'} not named like masks (annotation, mask, label...)"
        )
    else:
        what = "it has no Image column"
    raise DatasetError(
        f"{where}: no column of masks found: {what}; columns: {', '.join(columns)}; name the "
        "column that holds the masks with mask_column='NAME' (--mask-column NAME)"
    )


def _feature_type(feature: Any) -> str:
    return str(feature.get("_type")) if isinstance(feature, dict) else type(feature).__name__


def image_columns(features: Any) -> list[str]:
    return [c for c, f in features.items() if _feature_type(f) == "Image"]


class HFColumn:
    """The mask column of a Hugging Face dataset, chosen and checked before any mask is read.

    Attributes:
        column: the column's name.
        kind: what its cells hold (:data:`~.hf_cells.CELL_KINDS`).
        rows: the number of rows (None for a stream: it has no length).
        inputs: how the statistics name the dataset (``stats.settings["paths"]``).
        identity: ``(split and column, rows, datasets' fingerprint)`` of a Dataset, the key of
            its cache entry; None otherwise.
        files: the ``.arrow``/``.parquet`` files it is read from (absolute; () in memory).
        uncached: why its statistics are never cached ("" when they may be).
    """

    column: str
    kind: str
    rows: int | None = None
    inputs: list[str]
    identity: tuple[str, int, str] | None = None
    files: tuple[str, ...] = ()
    uncached: str = ""

    def items(self, rows: Sequence[int] | None = None) -> Iterator[tuple[int, StoredCell]]:
        """``(row, cell)`` of the given rows (sorted positions; every row when None), in order;
        a cell is read by the scan worker that counts it (:meth:`StoredCell.read`)."""
        for index, array, where in self._batches(rows):
            yield from cells(array, self.kind, index, self._namer(where))

    def _namer(self, where: str) -> Any:
        column = self.column
        return lambda i: f"{where} row {i}, column {column!r}"

    def _batches(self, rows: Sequence[int] | None) -> Iterator[tuple[Sequence[int], Any, str]]:
        raise NotImplementedError  # pragma: no cover - every subclass has one

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self.inputs)}, column={self.column!r})"


def said(table: HFColumn) -> None:
    """One INFO line (``-v``): which column holds the masks, and how many rows."""
    rows = "streamed" if table.rows is None else f"{table.rows} rows"
    log.info("%s: the masks are column %r (%s)", ", ".join(table.inputs), table.column, rows)


class _InMemory(HFColumn):
    """A map-style ``datasets.Dataset``, read through its ``arrow`` format."""

    def __init__(self, ds: Any, given: str | None):
        features = ds.features
        self.column = choose_column(list(features), image_columns(features), given, "the Dataset")
        arrow_type = features.arrow_schema.field(self.column).type
        self.kind = cell_kind(arrow_type, self.column, "the Dataset")
        self.rows = int(ds.num_rows)
        self.inputs = [f"<Dataset[{self.column!r}]>"]
        split = "" if ds.split is None else str(ds.split)
        fingerprint = getattr(ds, "_fingerprint", None)
        if fingerprint:
            self.identity = (f"{split}[{self.column!r}]", self.rows, str(fingerprint))
        else:
            self.uncached = "the Dataset has no fingerprint"
        self._view = ds.with_format("arrow", columns=[self.column])

    def _batches(self, rows: Sequence[int] | None) -> Iterator[tuple[Sequence[int], Any, str]]:
        n = self.rows or 0
        if rows is None:
            for a in range(0, n, BATCH_ROWS):
                b = min(a + BATCH_ROWS, n)
                yield range(a, b), self._view[a:b].column(0), "the Dataset"
            return
        for a in range(0, len(rows), BATCH_ROWS):
            part = [int(i) for i in rows[a : a + BATCH_ROWS]]
            yield part, self._view[part].column(0), "the Dataset"


class _Stream(HFColumn):
    """A streaming ``datasets.IterableDataset``, read batch by batch in its ``arrow`` format."""

    uncached = "a streaming IterableDataset has no fingerprint"

    def __init__(self, ds: Any, given: str | None):
        features = ds.features
        view = ds.with_format("arrow")
        if features is not None:
            columns, images = list(features), image_columns(features)
            self.column = choose_column(columns, images, given, "the IterableDataset")
            arrow_type = features.arrow_schema.field(self.column).type
        else:  # features unknown until the first example is read: read it
            first = next(iter(view.iter(batch_size=1)), None)
            if first is None:
                raise DatasetError("the IterableDataset yields no rows; nothing to scan")
            schema = first.schema
            images = [f.name for f in schema if is_image_struct(f.type)]
            self.column = choose_column(schema.names, images, given, "the IterableDataset")
            arrow_type = schema.field(self.column).type
        self.kind = cell_kind(arrow_type, self.column, "the IterableDataset")
        self.inputs = [f"<IterableDataset[{self.column!r}]>"]
        self._view = view.select_columns([self.column])

    def _batches(self, rows: Sequence[int] | None) -> Iterator[tuple[Sequence[int], Any, str]]:
        if rows is not None:
            raise ConfigError("sampling needs a source with a length; a stream has none")
        start = 0
        for table in self._view.iter(batch_size=BATCH_ROWS):
            yield range(start, start + table.num_rows), table.column(0), "the IterableDataset"
            start += table.num_rows


def hf_column(obj: Any, given: str | None) -> HFColumn | None:
    """The mask column of an in-memory ``datasets`` object, or None for anything else."""
    kind = hf_kind(obj)
    if kind in ("dataset", "iterable"):
        table = _InMemory(obj, given) if kind == "dataset" else _Stream(obj, given)
        said(table)
        return table
    if kind == "dict":
        splits = list(obj)
        raise DatasetError(
            f"a {type(obj).__name__} holds several splits ({', '.join(map(str, splits))}); pass "
            f"one: ds[{(str(splits[0]) if splits else 'train')!r}]"
        )
    return None
