"""The scan engine: stream masks in parallel (or a seeded sample of them) into `ClassStats`.

One job per module: `engine` (`count`: a resolved `MaskSource` -> `ClassStats`), `plan`
(which images, in which units), `collect` (the per-image table), `run` (executors), `memory`
(in-memory sources), `void` (warnings about the numbers), `palettes` (palette masks counted by
index: do their palettes agree). :func:`scan` is the uncached front door: one `MaskSource`,
counted. (The settings moved to :mod:`classweights.requests`; ``classweights.scan.settings``
still imports them.)
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from ..counting import count_mask
from ..requests import MaskSource, ScanSettings, is_path_source
from ..requests.settings import scan_settings
from ..sources import Entry
from ..stats import ClassStats
from .engine import count
from .run import ProgressFn
from .void import BinaryMaskWarning, VoidLabelWarning, warn_void_label


def scan(
    source: Any,
    *,
    settings: ScanSettings | None = None,
    client: Any = None,
    progress: ProgressFn | None = None,
    entries: Sequence[Entry] | None = None,
    **kwargs: Any,
) -> ClassStats:
    """Scan label masks into exact per-class statistics.

    Args:
        source: a folder (recursive), a mask file (PNG/TIFF, ``.npy``, ``.npz``), a text file
            listing mask paths (relative to the list), a zarr array or group, a list of those,
            a Python iterable of arrays / ``(image, mask)`` pairs / dicts, a torch Dataset, or a
            Hugging Face ``Dataset`` / ``IterableDataset`` (or the ``save_to_disk`` folder,
            ``.arrow``/``.parquet`` files one is kept in; ``mask_column`` names the column).
        settings: a :class:`ScanSettings`; keywords given as well replace its fields.
        client: a ``distributed.Client``: run the same reading and counting on a Dask cluster
            (paths may then be fsspec URLs); the result is identical to the local scan.
        progress: called as ``progress(images_done, images_total)`` from the calling thread.
        entries: already discovered entries of ``source`` (the cache passes its listing, or
            the changed files of an incremental rescan); skips discovery.
        **kwargs: the fields of :class:`ScanSettings` (``num_classes``, ``ignore_index``,
            ``remap``, ``classes``, ``sample``, ``workers``, ``layout``, ...; see there). A
            misspelt one is a ``ConfigError`` naming the closest, before any file is read.
            ``ignore_index=None`` (the default) ignores no label value: the rule of the whole
            package but the losses (PyTorch's -100) and ``calculate_class_weights`` (255).

    Returns:
        ClassStats with the per-image table in input order.

    >>> import numpy as np
    >>> masks = [np.array([[0, 1], [1, 255]], np.uint8), np.array([[2, 2], [2, 2]], np.uint8)]
    >>> s = scan(masks, num_classes=3, ignore_index=255)
    >>> s.pixels.tolist(), s.images.tolist(), s.ignored_pixels
    ([1, 2, 4], [1, 1, 1], 1)
    """
    source = MaskSource.resolve(source, settings, **kwargs)  # a typo fails here, first
    return count(source, client=client, progress=progress, entries=entries)


# help(scan) and IDEs show every setting as a keyword (taken from ScanSettings, not re-listed)
scan.__signature__ = inspect.signature(
    scan
).replace(  # type: ignore[attr-defined]
    parameters=[
        *list(inspect.signature(scan).parameters.values())[:-1],
        *(
            inspect.Parameter(f, inspect.Parameter.KEYWORD_ONLY, default=d)
            for f, d in ScanSettings.defaults().items()
        ),
    ]
)


def discover_entries(source: Any, settings: ScanSettings) -> list[Entry]:
    """The entries of a path source, in the order :func:`scan` reads them."""
    return MaskSource(list(source) if isinstance(source, list) else [source], settings).entries


def count_images(source: Any, *, settings: ScanSettings | None = None, **kwargs: Any) -> int:
    """Number of images in a source, in the order :func:`scan` reads them (no mask decoded).

    ``settings`` / ``kwargs`` are those of :func:`scan` (``glob``, ``multilabel`` and
    ``classes`` decide which files are images).

    >>> count_images([[0], [1], [2]])
    3
    """
    return MaskSource.resolve(source, settings, **kwargs).image_count()


__all__: Sequence[str] = (
    "BinaryMaskWarning",
    "ClassStats",
    "MaskSource",
    "ScanSettings",
    "VoidLabelWarning",
    "count_images",
    "count_mask",
    "is_path_source",
    "scan",
    "scan_settings",
    "warn_void_label",
)
