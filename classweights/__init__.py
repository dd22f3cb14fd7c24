"""classweights: exact class statistics, class weights and losses for segmentation datasets.

>>> import classweights as cw
>>> s = cw.ClassStats.from_counts([[90, 10]])
>>> s.share.tolist()
[0.9, 0.1]

Heavy dependencies (torch, dask, zarr, rich) are imported only where they are used.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import (
    ClassWeightsError,
    ConfigError,
    DatasetError,
    MaskReadError,
    MissingDependencyError,
    UnknownLabelError,
)

if TYPE_CHECKING:
    from .pipeline import cached_scan as cached_scan
    from .pipeline import load_weights as load_weights
    from .records import WeightRecord as WeightRecord
    from .requests import CacheOptions as CacheOptions
    from .requests import MaskSource as MaskSource
    from .requests import ScanSettings as ScanSettings
    from .scan import scan
    from .stats import ClassStats
    from .weights.options import WeightOptions as WeightOptions
    from .weights.spec import WeightSpec as WeightSpec

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use, so that `classweights
# --version` and `--help` import neither numpy nor the engine)
_LAZY = {
    "scan": "scan",
    "cached_scan": "pipeline",
    "calculate_class_weights": "compat",
    "ScanSettings": "requests",
    "MaskSource": "requests",
    "CacheOptions": "requests",
    "WeightSpec": "weights.spec",
    "WeightRecord": "records",
    "WeightOptions": "weights.options",
    "ClassStats": "stats",
    "compute_weights": "weights",
    "WEIGHT_METHODS": "weights",
    "load_weights": "pipeline",
    "sampling_weights": "rebalance",
    "report_html": "html",
    "Volume": "sources.volumes",
}

__all__ = [
    "ClassStats",
    "ClassWeightsError",
    "ConfigError",
    "DatasetError",
    "MaskReadError",
    "MissingDependencyError",
    "UnknownLabelError",
    "__version__",
    "calculate_class_weights",
    "scan",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'classweights' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(ModuleType):
    """``classweights.scan`` is the function, as it has always been: importing the submodule
    ``classweights.scan`` (which the import system binds on its parent) must not shadow it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "scan" and isinstance(value, ModuleType):
            return  # the module stays reachable as sys.modules["classweights.scan"]
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
