"""The stages of :func:`classweights.compute_weights`, public for the rooms built on them.

``compute_weights(stats, method, **options)`` is this chain (torchmetrics' habit: small
stages chained by one public function)::

    o = parse_options(method, **options)        # validated, frozen Options
    agg = aggregate(features(stats, o))         # Aggregate: per-class counts as float64
    raw, present = raw_weights(agg, o)          # the method's formula (NaN where absent)
    w = finalize(raw, present, o)               # normalise, clip, renormalise
    w = fill_absent(w, present, o.absent)       # classes with no pixels

:func:`pipeline` runs them in order; the bootstrap resamples the per-image
:func:`features` (``aggregate(feats, mult)`` sums them with row multiplicities).
``provenance`` (explain, match), ``weights.bootstrap`` (intervals), ``weights.multilabel``
and ``rebalance`` import these names from here and nowhere else;
their signatures are a contract between rooms (docs/architecture.md).

>>> import numpy as np
>>> from classweights import ClassStats
>>> s = ClassStats.from_counts([[750, 250]])
>>> o = parse_options("inverse_freq", normalize="none")
>>> raw, present = raw_weights(aggregate(features(s, o)), o)
>>> np.round(fill_absent(finalize(raw, present, o), present, o.absent), 4).tolist()
[0.6667, 2.0]
"""

from __future__ import annotations

from .methods import _absent_fill as absent_fill
from .methods import _Aggregate as Aggregate
from .methods import _aggregate as aggregate
from .methods import _features as features
from .methods import _fill_absent as fill_absent
from .methods import _finalize as finalize
from .methods import _pipeline as pipeline
from .methods import _raw_weights as raw_weights
from .options import _choice as choice
from .options import _manual_vector as manual_vector
from .options import _Options as Options
from .options import _options as parse_options

__all__ = [
    "Aggregate",
    "Options",
    "absent_fill",
    "aggregate",
    "choice",
    "features",
    "fill_absent",
    "finalize",
    "manual_vector",
    "parse_options",
    "pipeline",
    "raw_weights",
]
