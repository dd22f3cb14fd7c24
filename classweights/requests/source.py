"""`MaskSource`: a resolved request for masks, what to read and how to count it.

Every front door turns its arguments into one `MaskSource` (``MaskSource.resolve``): a layout or
a split file is applied once (the line saying what it set is logged once), the settings are
concrete, and the files are discovered at most once, when first needed. The pipeline
(:mod:`classweights.pipeline`) and the scan engine take it as it is; nothing below a front door
resolves a layout or re-lists the settings' keywords.

>>> import numpy as np
>>> src = MaskSource.resolve([np.zeros((2, 2), np.uint8)], num_classes=2)
>>> src.settings.num_classes, src.paths is None
(2, True)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..errors import ConfigError
from ..sources import Entry, HFColumn, discover, hf_column, hf_files
from .settings import ScanSettings

log = logging.getLogger("classweights.layouts")


@dataclass(frozen=True)
class MaskSource:
    """The masks of one request, resolved.

    Attributes:
        source: the paths to scan (a list of ``str``), the mask column of a Hugging Face
            dataset (an :class:`~classweights.sources.HFColumn`: a ``Dataset``, an
            ``IterableDataset``, or the ``.arrow``/``.parquet`` files the paths name), or the
            in-memory source as given (arrays, an iterable, a torch Dataset).
        settings: concrete :class:`ScanSettings` (a layout or split file applied).
        note: what a layout or split file set, as one line ("" without one).
    """

    source: Any
    settings: ScanSettings
    note: str = ""
    #: what later stages computed once for this request (the fingerprint per ``verify``)
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def resolve(
        cls, source: Any, settings: ScanSettings | None = None, /, **kwargs: Any
    ) -> MaskSource:
        """Resolve ``source`` under ``settings`` and/or keyword settings (a ``ConfigError``
        names a misspelt keyword or a bad value before any file is listed)."""
        if isinstance(source, MaskSource):
            if settings is not None or kwargs:
                raise ConfigError("a MaskSource is already resolved; pass its settings there")
            return source
        settings = ScanSettings.from_kwargs(settings, **kwargs)
        source, settings, note = settings.resolve_layout(source)
        if note:
            log.info("%s", note)
        column = settings.mask_column
        if is_path_source(source):
            source = [os.fspath(p) for p in ([source] if _one(source) else source)]
            table = hf_files(source, column)
            if table is None and column is not None:
                error = ConfigError(
                    f"mask_column={column!r} names the column of a Hugging Face dataset (a "
                    "save_to_disk folder, .arrow or .parquet files) or the key of dict items; "
                    f"{source[0]} holds mask files, which have no columns: drop it"
                )
                error.param = "mask_column"  # type: ignore[attr-defined]
                raise error
            source = table if table is not None else source
        else:
            source = hf_column(source, column) or source
        return cls(source, settings, note)

    # ---- what the stages read -----------------------------------------------------------------
    @property
    def paths(self) -> list[str] | None:
        """The mask files to scan, or None for a Hugging Face dataset or an in-memory source."""
        return (
            self.source if isinstance(self.source, list) and is_path_source(self.source) else None
        )

    @property
    def table(self) -> HFColumn | None:
        """The mask column of a Hugging Face dataset (in memory or its files), else None."""
        return self.source if isinstance(self.source, HFColumn) else None

    @property
    def cacheable(self) -> bool:
        """Mask files, and Hugging Face datasets with an identity (a Dataset's fingerprint,
        the listing of files) may be cached; a stream and other in-memory sources may not."""
        table = self.table
        if table is not None:
            return not table.uncached
        return self.paths is not None

    @cached_property
    def entries(self) -> list[Entry]:
        """The discovered entries, in the order the scan reads them (listed once)."""
        if self.paths is None:
            raise ConfigError("an in-memory source has no files to list")
        s = self.settings
        found = discover(self.paths, glob=s.glob, multilabel=s.multilabel, class_names=s.names)
        if s.valid_mask is None:
            return found
        from ..sources.valid import pair_valid_masks

        return pair_valid_masks(found, s.valid_mask)

    def image_count(self) -> int:
        """Number of images, in the order the scan reads them (no mask decoded)."""
        if self.paths is not None:
            return sum(e.n for e in self.entries)
        if self.table is not None and self.table.rows is not None:
            return self.table.rows
        if not hasattr(self.source, "__len__"):
            raise ConfigError("counting images needs a path or a source with a length")
        return len(self.source)

    def with_settings(self, **changes: Any) -> MaskSource:
        """The same files under changed settings (e.g. ``indices`` of a sample): concrete
        settings, no layout resolved again, the listing kept when it cannot change."""
        fixed = ("glob", "multilabel", "classes", "layout", "split", "mask_column")
        if any(k in changes for k in fixed):
            raise ConfigError(f"with_settings cannot change which files are read: {changes}")
        out = MaskSource(self.source, self.settings.replace(**changes), self.note)
        if "entries" in self.__dict__:
            out.__dict__["entries"] = self.__dict__["entries"]
        return out


def _one(source: Any) -> bool:
    return isinstance(source, (str, os.PathLike))


def is_path_source(source: Any) -> bool:
    """A path, or a non-empty list of paths (as opposed to in-memory masks)."""
    if _one(source):
        return True
    return (
        isinstance(source, (list, tuple))
        and bool(source)
        and all(isinstance(s, (str, os.PathLike)) for s in source)
    )
