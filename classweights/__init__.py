"""classweights: exact class statistics, class weights and losses for segmentation datasets.

>>> import classweights as cw
>>> s = cw.ClassStats.from_counts([[90, 10]])
>>> s.share.tolist()
[0.9, 0.1]

Heavy dependencies (torch, dask, zarr, rich) are imported only where they are used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import (
    ClassWeightsError,
    ConfigError,
    DatasetError,
    MaskReadError,
    MissingDependencyError,
    UnknownLabelError,
)
from .scan import calculate_class_weights, scan
from .stats import ClassStats

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use)
_LAZY = {
    "compute_weights": "weights",
    "WEIGHT_METHODS": "weights",
    "load_weights": "cache",
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
