"""The stages in their order: :func:`statistics` and :func:`weights` (and :func:`weigh`, the
weights stage given statistics). Every front door is an adapter over these."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from ..cache.loader import CacheInfo, CacheWarning
from ..records import WeightRecord
from ..requests import CacheOptions, MaskSource
from ..scan.engine import count
from ..stats import ClassStats
from ..weights.spec import WeightSpec, compute
from . import notes
from .storing import cached_statistics, store_record, warm_record, weight_file_name

log = logging.getLogger("classweights.cache")


def statistics(
    source: MaskSource,
    cache: CacheOptions | None = None,
    *,
    client: Any = None,
    progress: Any = None,
) -> tuple[ClassStats, CacheInfo]:
    """The statistics of ``source``: from the cache when it holds them, else scanned (and
    stored). Returns them with where they came from.

    In-memory sources (a Hugging Face ``Dataset`` aside: it is cached under its fingerprint),
    streams and explicit image ``indices`` (a one-off subset) are never cached.
    """
    cache = cache or CacheOptions()

    def scan(src: MaskSource, entries: Any) -> ClassStats:
        return count(src, client=client, progress=progress, entries=entries)

    if not cache.enabled or not source.cacheable or source.settings.index_array is not None:
        if cache.enabled:
            _not_cacheable(source)
        stats, info = scan(source, None), CacheInfo(None, None, False)
    else:
        stats, info = cached_statistics(source, cache, scan)
    _say(stats, info)
    return stats, info


#: reasons already warned about in this process (a warning once; an INFO line every time)
_WARNED: set[str] = set()


def _not_cacheable(source: MaskSource) -> None:
    """Say why a Hugging Face dataset is not cached (a stream: it has no fingerprint)."""
    table = source.table
    if table is None or not table.uncached:
        return
    why = (
        f"{table.uncached}: its statistics are not cached and are counted again on every call "
        "(materialise it as a Dataset, e.g. Dataset.from_generator, to cache them)"
    )
    log.info("%s", why)
    if why not in _WARNED:
        _WARNED.add(why)
        warnings.warn(why, CacheWarning, stacklevel=4)


def _say(stats: ClassStats, info: CacheInfo) -> None:
    """Where the statistics came from, one INFO line (shown with ``-v``)."""
    if info.hit:
        log.info(
            "statistics of %d images read from the cache (entry %s); no mask was read",
            stats.num_images,
            info.key,
        )
    elif info.path is not None:
        done = "updated incrementally" if info.incremental else "scanned"
        log.info("%s %d images; cached as %s", done, stats.num_images, info.key)
    else:
        log.info("scanned %d images; not cached", stats.num_images)


def weights(
    source: MaskSource,
    spec: WeightSpec,
    cache: CacheOptions | None = None,
    *,
    client: Any = None,
    progress: Any = None,
) -> WeightRecord:
    """The weight record of ``spec`` for ``source``: read from the cache when the dataset is
    unchanged (a warm call lists the files, opens one record and raises its stored warnings
    again), else computed from :func:`statistics` and stored beside them."""
    cache = cache or CacheOptions()
    options = spec.options()
    name = weight_file_name(spec.method, options)
    cacheable = cache.enabled and source.cacheable and source.settings.index_array is None
    if cacheable and not cache.refresh:
        record = warm_record(source, name, cache)
        if record is not None:
            notes.replay(record.dataset.get("warnings"))
            return record
    stats, info = statistics(source, cache, client=client, progress=progress)
    return weigh(stats, spec, info)


def weigh(stats: ClassStats, spec: WeightSpec, info: CacheInfo | None = None) -> WeightRecord:
    """The weights stage: ``spec`` computed from ``stats`` (the one dispatcher) as a sealed
    record, stored beside the cache entry ``info`` names (with the warnings of the scan and of
    the weights, raised again on a warm hit)."""
    options = spec.options()
    with notes.collect() as found:
        w = compute(stats, spec)
    key = info.key if info is not None else None
    record = WeightRecord.build(stats, w, spec.method, options, fingerprint=key)
    if info is None or info.path is None:
        return record
    return store_record(record, info, weight_file_name(spec.method, options), found)
