"""The pipeline: the order of the stages, and nothing else.

    MaskSource (resolved request) ─► fingerprint ─► cache hit? ─► scan ─► ClassStats
                                                                    └─► weights ─► WeightRecord

Every front door is an adapter over :func:`statistics` or :func:`weights`: ``scan`` (no
cache), :func:`cached_scan`, :func:`load_weights`, every CLI command, ``Loss.from_cache``,
``build_loss(dataset=...)`` and ``calculate_class_weights``. So the same request gives the
same numbers at every door. The stages themselves live in their rooms: layouts and discovery
in :class:`~classweights.requests.MaskSource`, the key and the store in :mod:`classweights.cache`
(which never scans), counting in the scan engine, formulas in :mod:`classweights.weights` (one
dispatcher, :func:`~classweights.weights.spec.compute`).
"""

from __future__ import annotations

from ..cache.loader import CacheInfo
from ..records import WeightRecord
from ..requests import CacheOptions, MaskSource
from ..weights.spec import WeightSpec
from .doors import cached_scan, load_weights, record_for
from .stages import statistics, weigh, weights

__all__ = [
    "CacheInfo",
    "CacheOptions",
    "MaskSource",
    "WeightRecord",
    "WeightSpec",
    "cached_scan",
    "load_weights",
    "record_for",
    "statistics",
    "weigh",
    "weights",
]
