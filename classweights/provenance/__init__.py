"""Provenance: how a weight vector was made (:func:`explain`) and which formula made a
published one (:func:`match`).

Both work from dataset-level counts only: ``explain`` from the counts stored in a weight
record (no dataset access), ``match`` from a :class:`ClassStats` (cached statistics, no
rescan). Both call the formulas of :mod:`classweights.weights.methods` on those counts, so
what they print is what :func:`classweights.compute_weights` computes. Pure NumPy; torch
tensors inside a record are read through ``.numpy()``.

Scale fitting (``match``). Every normalisation is one positive factor on the raw weights, so
candidates are compared as raw (``normalize="none"``) vectors times a free scale ``s``:

1. if some ``s`` reproduces every published value up to its rounding
   (``|s w_i - y_i| <= half a unit in y_i's last digit`` for all ``i``: an interval of
   ``s``), ``s`` is taken inside that interval;
2. otherwise ``s`` minimises the largest relative error ``max_i |s w_i - y_i| / y_i``.

Then the scaled candidate is rounded to the published precision and compared. If one of the
library's normalisations (none, mean, sum, max) fits as well as ``s``, that normalisation is
reported with scale 1; otherwise ``--normalize none`` and the scale.
"""

from __future__ import annotations

from ._explain import explain
from ._fit import MATCH_TOLERANCE
from ._match import MEDIAN_FREQ_NOTE, Candidate, match, match_notes
from .published import dataset_args, parse_published

__all__ = [
    "MATCH_TOLERANCE",
    "MEDIAN_FREQ_NOTE",
    "Candidate",
    "dataset_args",
    "explain",
    "match",
    "match_notes",
    "parse_published",
]
