"""Class weights from exact counts: every method, normalisation, absent classes, intervals.

Pure NumPy; no mask is read here. The public surface:

- :class:`WeightSpec` (a method and its options, validated) and :func:`compute`, the one
  dispatcher of every method (cross-entropy weights, ``pos_weight``, ``focal_alpha``);
- :func:`compute_weights` and the mode tuples :data:`WEIGHT_METHODS`,
  :data:`NORMALIZE_MODES`, :data:`ABSENT_POLICIES` (formulas in :data:`METHOD_INFO`);
- :func:`pos_weight`, :func:`focal_alpha` for sigmoid (multi-label) losses;
- :func:`diagnose` for the imbalance summary under the ``stats``/``compute`` tables;
- :func:`bootstrap_intervals`, :func:`auto_sample` for weights from a sample of images.

>>> import numpy as np
>>> import classweights as cw
>>> s = cw.ClassStats.from_counts([[750, 250]])
>>> np.round(cw.compute_weights(s, "inverse_freq", normalize="none"), 4).tolist()
[0.6667, 2.0]
"""

from __future__ import annotations

from .bootstrap import INTERVAL_KINDS, bootstrap_intervals
from .diagnose import diagnose
from .methods import compute_weights, suggest_beta
from .multilabel import MULTILABEL_METHODS, focal_alpha, pos_weight
from .options import (
    ABSENT_POLICIES,
    COUNT_MODES,
    ENET_SHARES,
    MEDIAN_DENOMINATORS,
    MEDIAN_OVER,
    METHOD_INFO,
    NORMALIZE_MODES,
    OBJECT_METHODS,
    WEIGHT_METHODS,
    WEIGHT_OPTIONS,
    ClassWeightsWarning,
    WeightOptions,
)
from .sampling import auto_sample
from .spec import WeightSpec, compute, method_weights

__all__ = [
    "ABSENT_POLICIES",
    "COUNT_MODES",
    "ENET_SHARES",
    "INTERVAL_KINDS",
    "MEDIAN_DENOMINATORS",
    "MEDIAN_OVER",
    "METHOD_INFO",
    "MULTILABEL_METHODS",
    "NORMALIZE_MODES",
    "OBJECT_METHODS",
    "WEIGHT_METHODS",
    "WEIGHT_OPTIONS",
    "ClassWeightsWarning",
    "WeightOptions",
    "WeightSpec",
    "auto_sample",
    "bootstrap_intervals",
    "compute",
    "compute_weights",
    "diagnose",
    "focal_alpha",
    "method_weights",
    "pos_weight",
    "suggest_beta",
]
