"""Requests that are valid from construction: what to scan, how to use the cache.

- :class:`ScanSettings` (`settings`): every scan setting, one constraint table, ``UNSET``
  meaning "not given" (a layout fills only those);
- :class:`MaskSource` (`source`): the masks of one request, resolved once (layout applied,
  settings concrete, files listed once, when first needed);
- :class:`CacheOptions` (`cache`): folder, on/off, verify, refresh, lock timeout.

The weight request, :class:`~classweights.weights.WeightSpec`, lives with the weights (pure
NumPy). The pipeline (:mod:`classweights.pipeline`) takes these objects as they are.
"""

from __future__ import annotations

from .cache import CacheOptions
from .settings import MAX_CLASSES, SCAN_CONSTRAINTS, ScanSettings
from .source import MaskSource, is_path_source

__all__ = [
    "MAX_CLASSES",
    "SCAN_CONSTRAINTS",
    "CacheOptions",
    "MaskSource",
    "ScanSettings",
    "is_path_source",
]
