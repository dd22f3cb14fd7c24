"""``match``: which formula and convention made a published weight vector."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..stats import ClassStats
from ._common import _METHOD_KEYS
from ._fit import _Fitter, _precision
from ._search import _grid, _Matcher, _refine


@dataclass
class Candidate:
    """One formula and convention, fitted to a published vector.

    Attributes:
        method: a :data:`~classweights.weights.WEIGHT_METHODS` name.
        options: the :func:`~classweights.compute_weights` options reproducing it.
        scale: the factor applied after ``options`` (1 when a normalisation explains it).
        max_rel_error: largest relative error after rounding to the published precision.
        rmse: root mean square relative error before rounding (breaks ties).
        fits: reproduces the vector up to rounding, or within :data:`MATCH_TOLERANCE`.
        predicted: the candidate, scaled and rounded to the published precision.
        residuals: per-entry relative error after rounding.
        void: ``"formula"``/``"zero"`` when the published vector has the ignore label as
            its last entry (its weight by the same formula, or 0); ``None`` otherwise.
        command: the ``classweights compute`` line reproducing the class weights.
        equivalent: other configurations giving the same rounded vector.
    """

    method: str
    options: dict[str, Any]
    scale: float
    max_rel_error: float
    rmse: float
    fits: bool
    predicted: list[float]
    residuals: list[float]
    void: str | None = None
    command: str = ""
    equivalent: list[str] = field(default_factory=list)
    refined: bool = False
    scale_note: str | None = None

    @property
    def label(self) -> str:
        opts = " ".join(f"{k}={v}" for k, v in self.options.items())
        void = f" void={self.void}" if self.void else ""
        scale = f" x{self.scale:.6g}" if self.scale != 1.0 else ""
        scale += f" ({self.scale_note})" if self.scale_note else ""
        return f"{self.method} {opts}{void}{scale}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "options": self.options,
            "scale": self.scale,
            "max_rel_error": self.max_rel_error,
            "rmse": self.rmse,
            "fits": self.fits,
            "void": self.void,
            "command": self.command,
            "equivalent": self.equivalent,
            "refined": self.refined,
            "scale_note": self.scale_note,
            "predicted": self.predicted,
            "residuals": self.residuals,
        }


#: said with every match that shows a median-frequency candidate (a user comparing with SegNet's
#: table sees a different scale first: classweights normalises to mean 1 by default)
MEDIAN_FREQ_NOTE = (
    "published median-frequency weights (SegNet's CamVid table, Eigen & Fergus) are usually "
    "unnormalised: compute them with --normalize none (classweights' default, --normalize "
    "mean, rescales them to mean 1, the same vector at another scale)"
)


def match_notes(found: Sequence[Candidate]) -> list[str]:
    """What to know about the candidates found (the median-frequency scale convention).

    >>> s = ClassStats.from_counts([[600, 300, 100]])
    >>> match_notes(match(s, ["0.5", "1", "3"])) == [MEDIAN_FREQ_NOTE]
    True
    """
    return [MEDIAN_FREQ_NOTE] if any(c.method == "median_freq" for c in found) else []


def _command(c: dict[str, Any], dataset_args: str) -> str:
    o = c["options"]
    parts = [f"classweights compute {dataset_args}", f"--method {c['method']}"]
    for k in _METHOD_KEYS.get(c["method"], ()):
        v = o[k]
        parts.append(
            f"--{k.replace('_', '-')} {v!r}"
            if isinstance(v, float)
            else f"--{k.replace('_', '-')} {v}"
        )
    parts.append(f"--normalize {o['normalize']}")
    if o.get("absent", "zero") != "zero":
        parts.append(f"--absent {o['absent']}")
    line = " ".join(parts)
    notes = []
    if c["scale"] != 1.0:
        why = f" ({c['scale_note']})" if c.get("scale_note") else ""
        notes.append(f"then multiply by {c['scale']:.6g}{why}")
    if c["void"]:
        notes.append(
            "last entry: the ignore label's own weight"
            if c["void"] == "formula"
            else "last entry: 0 for the ignore label"
        )
    return line + (f"  # {'; '.join(notes)}" if notes else "")


def _dataset_args(stats: ClassStats) -> str:
    st = stats.settings
    paths = " ".join(shlex.quote(str(p)) for p in st.get("paths", [])) or "DATA"
    args = [paths, f"--num-classes {stats.num_classes}"]
    if stats.ignore_index is not None:
        args.append(f"--ignore-index {stats.ignore_index}")
    if st.get("reduce_zero_label"):
        args.append("--reduce-zero-label")
    if st.get("remap"):
        args.append("--remap REMAP")
    if st.get("glob"):
        args.append(f"--glob {shlex.quote(st['glob'])}")
    return " ".join(args)


def match(
    stats: ClassStats,
    published: Sequence[float | str],
    *,
    decimals: int | None = None,
    top: int = 5,
    include_void_variants: bool = True,
    dataset_args: str | None = None,
) -> list[Candidate]:
    """Which method and convention produced a published weight vector, on these statistics.

    Searches every method of :func:`~classweights.compute_weights` (manual excepted) with its
    conventions: ``median_over`` x ``median_denominator``; ENet ``c`` in (1.02, 1.10, 1.2) x
    ``enet_share``; effective-number ``beta`` in (0.9, 0.99, 0.999, 0.9999, 1 - 1/max n) x
    ``count``; ``power`` in 0.25..1.5; absent-class policies when a class has no pixels; and
    with ``C + 1`` published values, the ignore label as the last class (its weight by the
    same formula, or 0). Normalisation is a free scale (:mod:`classweights.provenance`).
    When a family's best grid point does not fit, its continuous parameter (``power``,
    ``enet_c``, ``beta``) is searched in 1-D.

    Args:
        stats: the dataset's statistics.
        published: ``C`` (or ``C + 1``) weights; strings keep their precision ("0.9180").
        decimals: the published precision; default: each value's own last digit.
        top: how many distinct candidates to return.
        include_void_variants: also try the ignore label as a class.
        dataset_args: the dataset part of the reproducing command (default from ``stats``).

    Returns:
        Candidates, best first (fitting ones first, then by ``max_rel_error``); configurations
        giving the same rounded vector are folded into ``equivalent``.

    Raises:
        ConfigError: the published length is neither ``C`` nor ``C + 1``, or a value is not a
            weight.

    >>> s = ClassStats.from_counts([[600, 300, 100]])
    >>> best = match(s, ["0.5556", "1.1111", "3.3333"])[0]
    >>> best.method, best.options["normalize"], best.fits
    ('inverse_freq', 'none', True)
    """
    y, unit = _precision(published, decimals)
    C = stats.num_classes
    void = y.size == C + 1 and include_void_variants
    if y.size != C and not void:
        extra = f" or {C + 1} with the ignore label as a class" if include_void_variants else ""
        raise ConfigError(
            f"the published vector has {y.size} weights but the dataset has {C} classes "
            f"(expected {C}{extra}); check --num-classes and --ignore-index"
        )
    if void and stats.ignored_pixels == 0:
        raise ConfigError(
            f"the published vector has {C + 1} weights (the ignore label as a class?) but the "
            "dataset has no ignored pixels; check --ignore-index"
        )
    m = _Matcher(stats, _Fitter(y, unit), void)
    found: list[dict[str, Any]] = []
    grid = _grid(m.aggs["all"], include_void_variants)
    for i, (method, opts) in enumerate(grid):
        found += m.candidates(method, opts, i)
    for method in ("power", "enet", "effective_num") if not any(c["fits"] for c in found) else ():
        family = [c for c in found if c["method"] == method]
        if family:
            best = min(family, key=lambda c: (c["err"], c["rmse"]))
            found += _refine(m, best, len(grid))
    found.sort(
        key=lambda c: (
            not c["fits"],
            round(c["err"], 12),
            c["scale"] != 1.0,
            c["refined"],
            float(f"{c['rmse']:.8g}"),
            c["order"],
        )
    )
    args = dataset_args if dataset_args is not None else _dataset_args(stats)
    result: list[Candidate] = []
    for c in found:
        twin = next(
            (
                r
                for r in result
                if r.fits == c["fits"] and np.array_equal(r.predicted, c["pred"].tolist())
            ),
            None,
        )
        cand = Candidate(
            method=c["method"],
            options=c["options"],
            scale=c["scale"],
            max_rel_error=c["err"],
            rmse=c["rmse"],
            fits=c["fits"],
            predicted=c["pred"].tolist(),
            residuals=c["res"].tolist(),
            void=c["void"],
            command=_command(c, args),
            refined=c["refined"],
            scale_note=c["scale_note"],
        )
        if twin is not None:
            if len(twin.equivalent) < 8 and cand.label not in twin.equivalent:
                twin.equivalent.append(cand.label)
        elif len(result) < top:
            result.append(cand)
    return result
