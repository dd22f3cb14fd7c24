"""What ``classweights compute`` and ``compare`` report, for Python users too: the weights
with the class statistics as one JSON-ready dict (the CLI renders it with
:func:`classweights.report.render`).

>>> import classweights as cw
>>> s = cw.ClassStats.from_counts([[750, 250]])
>>> w, data = weights_result(s, "inverse_freq", {"normalize": "none"})
>>> [c["weight"] for c in data["classes"]], data["method"]
([0.6666666666666666, 2.0], 'inverse_freq')
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .report.plain import stats_dict
from .stats import ClassStats
from .weights import bootstrap_intervals, compute_weights
from .weights.options import OBJECT_METHODS, WEIGHT_METHODS


def weights_result(
    stats: ClassStats,
    method: str,
    options: dict[str, Any],
    *,
    weights: Any = None,
    ci: float | None = None,
    seed: int | None = 0,
    auto: dict[str, Any] | None = None,
    cache: dict[str, Any] | None = None,
) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """The weights of ``method`` and the ``compute`` JSON object.

    With ``ci`` (a confidence level) each class gets ``weight_low``/``weight_high`` from
    :func:`classweights.weights.bootstrap_intervals`, and a ``±`` column; ``auto`` (the
    info of :func:`classweights.weights.auto_sample`) supplies those intervals instead and
    is reported under ``auto_sample``.
    """
    if weights is None:  # the one dispatcher (pos_weight / focal_alpha too)
        from .weights.spec import APPLIES, WeightSpec, compute

        mine = {k: v for k, v in options.items() if k in APPLIES[method]}
        weights = compute(stats, WeightSpec(method, **mine))
    w = np.asarray(weights, dtype=np.float64)
    extra: dict[str, Any] = {}
    if ci or auto:
        population = (stats.sample or {}).get("population")
        lo, hi = (
            (auto["low"], auto["high"])
            if auto
            else bootstrap_intervals(
                stats, method, ci=ci, population=population, seed=seed, **options
            )
        )
        extra = {
            "weight_low": [float(v) for v in lo],
            "weight_high": [float(v) for v in hi],
            "±": [f"{(h - low) / 2:.4f}" for low, h in zip(lo, hi, strict=True)],
        }
    key = cache["key"] if cache else None
    data = stats_dict(
        stats, weights=w, method=method, extra_columns=extra, cache=cache, fingerprint=key
    )
    data["weight_options"] = dict(options)
    if auto:
        data["auto_sample"] = {k: v for k, v in auto.items() if k not in ("low", "high")}
    return w, data


def compare_result(
    stats: ClassStats, options: dict[str, Any], cache: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Every method's weights (``methods``: name -> list) with the class statistics; the
    object-aware methods too when the scan found objects."""
    from .weights.spec import full_options

    options = full_options(options)
    methods = WEIGHT_METHODS + (OBJECT_METHODS if stats.object_counts is not None else ())
    table = {m: compute_weights(stats, m, **options).tolist() for m in methods if m != "manual"}
    data = stats_dict(stats, cache=cache, fingerprint=cache["key"] if cache else None)
    return {**data, "weight_options": options, "methods": table}
