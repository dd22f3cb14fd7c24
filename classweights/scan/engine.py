"""The engine's one entry: count the masks of a resolved `MaskSource` into `ClassStats`.

Workers (threads; decoders and the nogil kernels release the GIL) read and count masks into
sparse raw-value histograms; the calling thread maps raw values to classes through the label
space and fills the per-image table in file order, so the result is bit-identical for any
worker count. At most a few units per worker are in flight, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..requests import MaskSource
from ..sources import Entry
from ..stats import ClassStats
from . import plan
from .collect import Collector
from .memory import in_memory
from .run import ProgressFn, log_png_decoder, run_items, run_units
from .void import warn_void_label


def count(
    source: MaskSource,
    *,
    client: Any = None,
    progress: ProgressFn | None = None,
    entries: Sequence[Entry] | None = None,
) -> ClassStats:
    """Scan ``source`` (no cache): per-image exact counts in its image order.

    Args:
        source: the resolved request.
        client: a ``distributed.Client``: the same units on a Dask cluster.
        progress: called as ``progress(images_done, images_total)`` from the calling thread.
        entries: the entries to read instead of ``source.entries`` (the changed files of an
            incremental rescan).
    """
    settings = source.settings
    collector = Collector(settings)  # sized once the count is known
    if source.paths is not None:
        entries = source.entries if entries is None else entries
        pixels = plan.pixels_per_image(entries)
        per_unit = plan.unit_images(pixels) if client is None else 4
        units, total, picked = plan.units(settings, entries, per_unit)
        collector.reserve(total)
        opts = settings.counting(total * pixels)
        if client is not None:
            from ..distributed import run_units as run_on_cluster

            run_on_cluster(list(units), total, opts, client, collector, progress)
        else:
            run_units(
                units, total, opts, settings.worker_count, settings.parallel, collector, progress
            )
        if any(e.kind == "image" for e in entries):
            log_png_decoder(opts, collector.fused, total)
        paths = list(source.paths)
        sample_info = plan.sample_info(settings, picked, sum(e.n for e in entries))
    else:
        workers = settings.worker_count
        total, items, picked, population = in_memory(source.source, settings, workers)
        opts = settings.counting(total * plan.TYPICAL_PIXELS)
        run_items(items, total, opts, workers, collector, progress)
        table = source.table
        paths = table.inputs if table is not None else [f"<{type(source.source).__name__}>"]
        sample_info = plan.sample_info(settings, picked, population or total)
    stats = collector.finish(settings.record | {"paths": paths}, settings.names, sample_info)
    warn_void_label(stats, settings)
    return stats
