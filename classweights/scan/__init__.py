"""The scan engine: stream masks in parallel (or a seeded sample of them) into `ClassStats`.

Workers (threads by default; decoders and the nogil kernels release the GIL) read and count
masks into sparse raw-value histograms; the calling thread maps raw values to classes through
the label space and fills the per-image table in file order, so the result is bit-identical for
any worker count. At most a few units per worker are in flight, so memory stays bounded.

One job per module: `settings` (`ScanSettings`, validated once), `plan` (which images, in
which units), `collect` (the per-image table), `run` (executors), `memory` (in-memory
sources), `void` (warnings about the numbers). This module is the entry point: `scan` builds
the settings once and passes them down.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from typing import Any

from ..counting import count_mask
from ..errors import ConfigError
from ..sources import Entry, discover
from ..stats import ClassStats
from . import plan
from .collect import Collector
from .memory import in_memory
from .run import ProgressFn, log_png_decoder, run_items, run_units
from .settings import ScanSettings, scan_settings
from .void import VoidLabelWarning, warn_void_label


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
            a Python iterable of arrays / ``(image, mask)`` pairs / dicts, or a torch Dataset.
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
    settings = ScanSettings.from_kwargs(settings, **kwargs)  # a typo fails here, first
    source, settings = settings.locate(source)  # a layout / split file: concrete settings
    workers = settings.worker_count
    collector = Collector(settings)  # sized once the count is known
    if is_path_source(source):
        if entries is None:
            entries = discover_entries(source, settings)
        pixels = plan.pixels_per_image(entries)
        per_unit = plan.unit_images(pixels) if client is None else 4
        units, total, picked = plan.units(settings, entries, per_unit)
        collector.reserve(total)
        opts = settings.counting(total * pixels)
        if client is not None:
            from ..distributed import run_units as run_on_cluster

            run_on_cluster(list(units), total, opts, client, collector, progress)
        else:
            run_units(units, total, opts, workers, settings.parallel, collector, progress)
        if any(e.kind == "image" for e in entries):
            log_png_decoder(opts, collector.fused, total)
        paths = [
            os.fspath(s) for s in ([source] if isinstance(source, (str, os.PathLike)) else source)
        ]
        sample_info = plan.sample_info(settings, picked, sum(e.n for e in entries))
    else:
        total, items, picked, population = in_memory(source, settings, workers)
        opts = settings.counting(total * plan.TYPICAL_PIXELS)
        run_items(items, total, opts, workers, collector, progress)
        paths = [f"<{type(source).__name__}>"]
        sample_info = plan.sample_info(settings, picked, population or total)
    stats = collector.finish(settings.record | {"paths": paths}, settings.names, sample_info)
    warn_void_label(stats, settings)
    return stats


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


def is_path_source(source: Any) -> bool:
    """A path, or a non-empty list of paths (as opposed to in-memory masks)."""
    if isinstance(source, (str, os.PathLike)):
        return True
    return (
        isinstance(source, (list, tuple))
        and bool(source)
        and all(isinstance(s, (str, os.PathLike)) for s in source)
    )


def discover_entries(source: Any, settings: ScanSettings) -> list[Entry]:
    """The entries of a path source, in the order :func:`scan` reads them."""
    return discover(
        source, glob=settings.glob, multilabel=settings.multilabel, class_names=settings.names
    )


def count_images(source: Any, *, settings: ScanSettings | None = None, **kwargs: Any) -> int:
    """Number of images in a source, in the order :func:`scan` reads them (no mask decoded).

    ``settings`` / ``kwargs`` are those of :func:`scan` (``glob``, ``multilabel`` and
    ``classes`` decide which files are images).

    >>> count_images([[0], [1], [2]])
    3
    """
    source, settings = ScanSettings.from_kwargs(settings, **kwargs).locate(source)
    if is_path_source(source):
        return sum(e.n for e in discover_entries(source, settings))
    if not hasattr(source, "__len__"):
        raise ConfigError("counting images needs a path or a source with a length")
    return len(source)


__all__: Sequence[str] = (
    "ClassStats",
    "ScanSettings",
    "VoidLabelWarning",
    "count_images",
    "count_mask",
    "is_path_source",
    "scan",
    "scan_settings",
    "warn_void_label",
)
