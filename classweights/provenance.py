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

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError
from .stats import ClassStats
from .weights.methods import _Aggregate, _fill_absent, _finalize, _raw_weights
from .weights.options import METHOD_INFO, WEIGHT_OPTIONS, _manual_vector, _Options, _options

#: A candidate fits when it reproduces every published value up to rounding, or when its
#: largest relative error after rounding to the published precision is at most this.
MATCH_TOLERANCE = 1e-3

_FMT = "{:.6g}"


def _num(x: float) -> str:
    return _FMT.format(float(x))


# ---- counts -> aggregate (shared by explain and match) ------------------------------------
def _np(x: Any) -> NDArray[Any]:
    """A numpy array from a numpy array, a list or a torch tensor (without importing torch)."""
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _counts(stats: ClassStats) -> dict[str, Any]:
    """The record's counts of ``stats`` plus the labelled pixels of images with void."""
    from .cache.record import stats_counts

    void = stats.image_ignored > 0
    labelled = stats.image_total - stats.image_ignored if stats.multilabel else stats.counts.sum(1)
    return stats_counts(stats) | {
        "void_image_labelled_pixels": int((labelled + stats.image_ignored)[void].sum())
    }


def _aggregate(counts: Mapping[str, Any], median_denominator: str = "all") -> _Aggregate:
    """The dataset counts of ``_raw_weights`` (0-d totals) from a record's ``counts``."""

    def f(key: str) -> NDArray[np.float64]:
        return np.asarray(_np(counts[key]), dtype=np.float64)

    lab = median_denominator == "labelled"
    void_den = counts["void_image_pixels"]
    if lab:  # exact when stored; else equal to the above when there are no unknown pixels
        void_den = counts.get("void_image_labelled_pixels", void_den)
    return _Aggregate(
        pixels=f("pixels"), labelled=f("labelled_pixels"), total=f("total_pixels"),
        images=f("images"), den=f("image_labelled_pixels" if lab else "image_pixels"),
        void_pixels=f("ignored_pixels"), void_den=np.asarray(float(_np(void_den))),
    )  # fmt: skip


# ---- explain ------------------------------------------------------------------------------
def _stored_options(record: Mapping[str, Any]) -> tuple[_Options | None, dict[str, Any]]:
    stored = dict(record.get("options") or {})
    method = record.get("method")
    if method not in METHOD_INFO:
        return None, stored
    return _options(method, **{k: v for k, v in stored.items() if k in WEIGHT_OPTIONS}), stored


def _substitute(o: _Options, agg: _Aggregate, c: int, raw: float, names: Any) -> list[str]:
    """The method's formula with class ``c``'s counts substituted, ending in the raw weight."""
    n, N, C = float(agg.pixels[c]), float(agg.labelled), agg.pixels.shape[-1]
    f = n / N if N else math.nan
    m = o.method
    if m == "inverse_freq":
        return [f"n_c = {n:.0f} pixels; N = {N:.0f} labelled pixels; C = {C}",
                f"w_c = N / (C * n_c) = {N:.0f} / ({C} * {n:.0f}) = {_num(raw)}"]  # fmt: skip
    share = [f"f_c = n_c / N = {n:.0f} / {N:.0f} = {_num(f)}"]
    if m == "sqrt_inv_freq":
        return [*share, f"w_c = 1 / sqrt(f_c) = 1 / sqrt({_num(f)}) = {_num(raw)}"]
    if m == "power":
        return [*share, f"w_c = 1 / f_c**p = 1 / {_num(f)}**{o.power:g} = {_num(raw)}"]
    if m == "effective_num":
        k = n if o.count == "pixels" else float(agg.images[c])
        x = math.exp(k * math.log(o.beta)) if o.beta > 0 else 0.0
        return [f"n_c = {k:.0f} {o.count} containing the class; beta = {o.beta!r}",
                f"beta**n_c = exp(n_c ln beta) = exp({k:.0f} * ln {o.beta!r}) = {_num(x)}",
                f"w_c = (1 - beta) / (1 - beta**n_c) = {_num(1 - o.beta)} / {_num(1 - x)} = {_num(raw)}"]  # fmt: skip
    if m == "median_freq":
        den = float(agg.den[c])
        freq = n / den
        present = agg.pixels > 0
        pool = list(agg.pixels[present] / agg.den[present])
        where = f"the {int(present.sum())} present classes"
        lines = [f"n_c = {n:.0f}; P_c = {den:.0f} ({o.median_denominator} pixels of the images containing the class)",
                 f"freq_c = n_c / P_c = {n:.0f} / {den:.0f} = {_num(freq)}"]  # fmt: skip
        if o.median_over == "all" and float(agg.void_pixels) > 0:
            vf = float(agg.void_pixels) / float(agg.void_den)
            pool.append(vf)
            where += " and the ignore label"
            lines.append(
                f"ignore label: freq = {float(agg.void_pixels):.0f} / {float(agg.void_den):.0f} = {_num(vf)}"
            )
        med = float(np.median(pool))
        return [*lines, f"median(freq) over {where} = {_num(med)}",
                f"w_c = median(freq) / freq_c = {_num(med)} / {_num(freq)} = {_num(raw)}"]  # fmt: skip
    if m == "enet":
        d = N if o.enet_share == "labelled" else float(agg.total)
        p = n / d
        return [f"p_c = n_c / {o.enet_share} pixels = {n:.0f} / {d:.0f} = {_num(p)}",
                f"w_c = 1 / ln(c + p_c) = 1 / ln({o.enet_c:g} + {_num(p)}) = {_num(raw)}"]  # fmt: skip
    if m == "uniform":
        return ["w_c = 1"]
    return [f"w_c = {_num(raw)} (given by the user)"]


def _norm_factor(
    w: NDArray[np.float64], present: NDArray[np.bool_], mode: str
) -> tuple[float, str]:
    wp = w[present]
    if mode == "mean":
        return (
            wp.size / wp.sum(),
            f"{wp.size} present classes / sum of their raw weights {_num(wp.sum())}",
        )
    if mode == "sum":
        return w.size / wp.sum(), f"C = {w.size} / sum of the present raw weights {_num(wp.sum())}"
    return 1.0 / wp.max(), f"1 / largest raw weight {_num(wp.max())}"


def _derivation(
    record: Mapping[str, Any], o: _Options, c: int, why: str
) -> tuple[list[str], float]:
    """Step-by-step lines for class ``c`` and the final number they end in."""
    counts = record["counts"]
    names = record.get("class_names") or None
    agg = _aggregate(counts, o.median_denominator)
    stub = SimpleNamespace(
        num_classes=agg.pixels.size, names=names or [str(i) for i in range(agg.pixels.size)]
    )
    manual = _manual_vector(o.manual, stub) if o.method == "manual" else None
    w, present = _raw_weights(agg, o, manual)
    if o.method == "power":
        with np.errstate(over="ignore"):
            w = np.exp(w)
    label = f"class {c} ({names[c]})" if names else f"class {c}"
    lines = [f"worked example: {label}, {why}"]
    if not present[c]:
        final = float(
            _fill_absent(_finalize(_raw_weights(agg, o, manual)[0], present, o), present, o.absent)[
                c
            ]
        )
        lines.append(f"the class has no pixels: absent={o.absent!r} gives it {_num(final)}")
        return lines, final
    value = float(w[c])
    lines += _substitute(o, agg, c, value, names)
    if not np.all(np.isfinite(w[present])):
        lines.append("(raw weights exceed float64; the library normalises them in log space)")
        final = float(_finalize(_raw_weights(agg, o, manual)[0], present, o)[c])
        return lines, final

    def normalise(v: float, step: str) -> float:
        if o.normalize == "none":
            lines.append(f"{step}normalize='none': the raw value is kept = {_num(v)}")
            return v
        g, what = _norm_factor(w if step == "" else cur, present, o.normalize)
        lines.append(f"{step}normalize={o.normalize!r}: x {_num(g)} ({what}) = {_num(v * g)}")
        return v * g

    cur = w.copy()
    value = normalise(value, "")
    if o.normalize != "none":
        cur = cur * _norm_factor(w, present, o.normalize)[0]
    if o.clip is not None:
        lo, hi = o.clip
        clipped = float(np.clip(value, lo, hi))
        lines.append(f"clip={list(o.clip)}: min(max(w, {lo}), {hi}) = {_num(clipped)}")
        value, cur = clipped, np.clip(cur, lo, hi)
        if o.renormalize:
            value = normalise(value, "renormalize: ")
    return lines, value


def explain(record: Mapping[str, Any], class_index: int | None = None) -> str:
    """How a stored weight vector was made: formula, options, one class worked through, table.

    Works from the record alone (its ``counts``), without the dataset. The worked example
    defaults to the rarest present class; its last number is the stored weight.

    Args:
        record: a weight record (:func:`classweights.cache.record.weight_record`, or read
            with :func:`~classweights.cache.record.load_record`).
        class_index: the class to work through.

    Returns:
        Plain text, several lines.

    >>> from classweights.cache.record import stats_counts
    >>> from classweights.weights import compute_weights
    >>> s = ClassStats.from_counts([[600, 300, 100]])
    >>> rec = {"method": "inverse_freq", "options": {"normalize": "mean"}, "counts": stats_counts(s),
    ...        "weights": compute_weights(s, "inverse_freq", normalize="mean")}
    >>> text = explain(rec)
    >>> print(text[text.index("worked example"):].split(chr(10) * 2)[0])
    worked example: class 2, the rarest present class
      n_c = 100 pixels; N = 1000 labelled pixels; C = 3
      w_c = N / (C * n_c) = 1000 / (3 * 100) = 3.33333
      normalize='mean': x 0.6 (3 present classes / sum of their raw weights 5) = 2
      weight = 2   (stored: 2)
    """
    weights = _np(record["weights"]).astype(np.float64).reshape(-1)
    names = record.get("class_names") or [str(i) for i in range(weights.size)]
    method = record.get("method")
    info = METHOD_INFO.get(method or "", {})
    lines = [f"method      {method or 'unknown (the file holds only a weight tensor)'}"]
    if info:
        lines += [f"formula     {info['formula']}", f"source      {info['source']}"]
    o, stored = _stored_options(record)
    if stored:
        lines.append("options     " + ", ".join(f"{k}={v!r}" for k, v in stored.items()))
    if o is not None:  # the options that were not stored took their defaults
        relevant = ("normalize", "clip", "renormalize", "absent", *_METHOD_KEYS.get(o.method, ()))
        unset = [f"{k}={getattr(o, k)!r}" for k in relevant if k not in stored]
        if unset:
            lines.append("defaults    " + ", ".join(unset))
    counts = record.get("counts")
    if o is not None and counts is not None:
        pixels = _np(counts["pixels"]).astype(np.float64)
        present = np.flatnonzero(pixels > 0)
        if class_index is None:
            c = int(present[np.argmin(pixels[present])]) if present.size else 0
            why = "the rarest present class"
        else:
            if not 0 <= class_index < weights.size:
                raise ConfigError(
                    f"class {class_index} is not a class; expected 0..{weights.size - 1}"
                )
            c, why = class_index, "as asked"
        steps, final = _derivation(record, o, c, why)
        lines += ["", steps[0], *("  " + s for s in steps[1:])]
        lines.append(f"  weight = {_num(final)}   (stored: {_num(weights[c])})")
        if not math.isclose(final, weights[c], rel_tol=1e-9, abs_tol=1e-12):
            lines.append("  warning: the stored weight differs from the recomputation from the stored "
                         "counts; the file was edited or made by another version")  # fmt: skip
    lines.append("")
    ds = record.get("dataset") or {}
    if record.get("num_classes") is not None:
        lines.append(
            f"classes     {record['num_classes']} (ignore_index {record.get('ignore_index')})"
        )
    for key, label in (
        ("paths", "dataset"),
        ("fingerprint", "fingerprint"),
        ("sampled", "sampled"),
    ):
        if key in ds:
            value = ", ".join(map(str, ds[key])) if key == "paths" else ds[key]
            lines.append(
                f"{label:<12}{value}"
                + (f" {ds.get('sample')}" if key == "sampled" and ds.get("sample") else "")
            )
    for key in ("version", "created"):
        if key in record:
            lines.append(f"{key:<12}{record[key]}")
    lines += ["", _table(weights, names, counts)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _table(
    weights: NDArray[np.float64], names: Sequence[str], counts: Mapping[str, Any] | None
) -> str:
    head = f"{'id':>3}  {'name':<16} {'pixels':>14} {'share':>9} {'weight':>10}"
    rows = [head, "-" * len(head)]
    pixels = _np(counts["pixels"]) if counts is not None else None
    total = float(_np(counts["labelled_pixels"])) if counts is not None else 0.0
    for c, w in enumerate(weights):
        px = f"{int(pixels[c]):>14}" if pixels is not None else f"{'-':>14}"
        sh = f"{100 * pixels[c] / total:>8.3f}%" if pixels is not None and total else f"{'-':>9}"
        rows.append(f"{c:>3}  {str(names[c])[:16]:<16} {px} {sh} {_num(w):>10}")
    return "\n".join(rows)


# ---- match --------------------------------------------------------------------------------
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
        return {"method": self.method, "options": self.options, "scale": self.scale,
                "max_rel_error": self.max_rel_error, "rmse": self.rmse, "fits": self.fits,
                "void": self.void, "command": self.command, "equivalent": self.equivalent,
                "refined": self.refined, "scale_note": self.scale_note,
                "predicted": self.predicted, "residuals": self.residuals}  # fmt: skip


def _precision(
    published: Sequence[Any], decimals: int | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Published values and their unit in the last digit (from the strings or float reprs)."""
    y, unit = [], []
    for v in published:
        if isinstance(v, str):
            text = v.strip()
        elif isinstance(v, np.floating):
            text = np.format_float_positional(v, unique=True, trim="-")
        else:
            text = np.format_float_positional(float(v), unique=True, trim="-")
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise ConfigError(f"published weight {v!r} is not a number") from None
        if not d.is_finite() or d < 0:
            raise ConfigError(f"published weight {v!r} is not a finite weight >= 0")
        y.append(float(d))
        unit.append(10.0 ** (-decimals if decimals is not None else d.as_tuple().exponent))
    y_arr = np.array(y)
    if not np.any(y_arr > 0):
        raise ConfigError("the published weights are all 0; nothing to match")
    return y_arr, np.array(unit)


class _Fitter:
    """Scale fitting and scoring of candidate vectors against one published vector."""

    def __init__(self, y: NDArray[np.float64], unit: NDArray[np.float64]) -> None:
        self.y, self.unit, self.h = y, unit, unit / 2 * (1 + 1e-9)
        self.den = np.maximum(y, unit)

    def rounded(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.round(x / self.unit) * self.unit

    def score(self, w: NDArray[np.float64], s: float) -> tuple[float, float, bool]:
        x = s * w
        err = np.abs(self.rounded(x) - self.y) / self.den
        exact = bool(np.all(np.abs(x - self.y) <= self.h))
        rmse = float(np.sqrt(np.mean(((x - self.y) / self.den) ** 2)))
        e = float(err.max())
        e = 0.0 if e < 1e-12 else e  # float noise of the rounding
        return e, rmse, exact or e <= MATCH_TOLERANCE

    def scale(self, w: NDArray[np.float64]) -> float | None:
        """Rule 1 (an interval of exact scales) or rule 2 (minimax relative error)."""
        pos = w > 0
        if not np.any(pos & (self.y > 0)):
            return None
        a, b = w[pos] / self.den[pos], self.y[pos] / self.den[pos]
        lo_all, hi_all = (self.y[pos] - self.h[pos]) / w[pos], (self.y[pos] + self.h[pos]) / w[pos]
        zero_ok = np.all(self.y[~pos] <= self.h[~pos])
        s = self._minimax(a, b)
        lo, hi = max(float(lo_all.max()), 0.0), float(hi_all.min())
        if zero_ok and hi > 0 and lo <= hi:
            margin = 0.25 * (hi - lo)
            s = min(max(s, lo + margin), hi - margin) if hi > lo else lo
        return s

    @staticmethod
    def _minimax(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
        """argmin_s max_i |a_i s - b_i| (convex, piecewise linear) by golden section in log s."""
        ratios = b[b > 0] / a[b > 0]
        if ratios.size == 0:
            return 1.0
        if ratios.size == b.size and np.all(b == 1.0):  # plain relative errors: closed form
            r = a / b
            return float(2.0 / (r.min() + r.max()))
        lo, hi = math.log(ratios.min()), math.log(ratios.max())
        if hi - lo < 1e-15:
            return float(ratios[0])
        g = (math.sqrt(5) - 1) / 2

        def f(t: float) -> float:
            return float(np.max(np.abs(a * math.exp(t) - b)))

        x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
        f1, f2 = f(x1), f(x2)
        for _ in range(80):
            if f1 <= f2:
                hi, x2, f2 = x2, x1, f1
                x1 = hi - g * (hi - lo)
                f1 = f(x1)
            else:
                lo, x1, f1 = x1, x2, f2
                x2 = lo + g * (hi - lo)
                f2 = f(x2)
        return math.exp((lo + hi) / 2)


_BETAS = (0.9, 0.99, 0.999, 0.9999)
_ENET_C = (1.02, 1.10, 1.2)
_POWERS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
_METHOD_KEYS = {
    "effective_num": ("beta", "count"), "median_freq": ("median_over", "median_denominator"),
    "enet": ("enet_c", "enet_share"), "power": ("power",),
}  # fmt: skip


def _grid(agg: _Aggregate, void_variants: bool) -> list[tuple[str, dict[str, Any]]]:
    from .weights.methods import suggest_beta

    grid: list[tuple[str, dict[str, Any]]] = [("inverse_freq", {}), ("sqrt_inv_freq", {})]
    for count in ("pixels", "images"):
        n = agg.pixels if count == "pixels" else agg.images
        betas = dict.fromkeys((*_BETAS, suggest_beta(n[n > 0])))
        grid += [("effective_num", {"beta": b, "count": count}) for b in betas if 0 < b < 1]
    overs = ("classes", "all") if void_variants and float(agg.void_pixels) > 0 else ("classes",)
    grid += [
        ("median_freq", {"median_over": m, "median_denominator": d})
        for m in overs
        for d in ("all", "labelled")
    ]
    grid += [("enet", {"enet_c": c, "enet_share": s}) for c in _ENET_C for s in ("labelled", "all")]
    grid += [("power", {"power": p}) for p in _POWERS]
    return [*grid, ("uniform", {})]


class _Matcher:
    def __init__(self, stats: ClassStats, fitter: _Fitter, void: bool) -> None:
        counts = _counts(stats)
        self.aggs = {d: _aggregate(counts, d) for d in ("all", "labelled")}
        self.C, self.fitter, self.void = stats.num_classes, fitter, void
        self.void_images = float(counts["void_images"])
        self.void_zero = void and fitter.y[-1] <= fitter.h[-1]

    def raw(self, method: str, opts: dict[str, Any]) -> tuple[NDArray, NDArray, float]:
        """Raw class weights (NaN where absent), present mask, and the void's raw weight."""
        o = _options(method, normalize="none", **opts)
        agg = self.aggs[o.median_denominator]
        with np.errstate(all="ignore"):
            w, present = _raw_weights(agg, o)
            if method == "power":
                w = np.exp(np.minimum(w, 700.0))
            return w, present, self._void_raw(agg, o, w, present) if self.void else math.nan

    def _void_raw(self, agg: _Aggregate, o: _Options, w: NDArray, present: NDArray) -> float:
        """The ignore label's weight by the same formula, from its own counts."""
        v, N = float(agg.void_pixels), float(agg.labelled)
        if v <= 0:
            return math.nan
        if o.method == "inverse_freq":
            return N / (agg.pixels.size * v)
        if o.method in ("sqrt_inv_freq", "power"):
            return (v / N) ** -(0.5 if o.method == "sqrt_inv_freq" else o.power)
        if o.method == "effective_num":
            n = v if o.count == "pixels" else self.void_images
            return -(1 - o.beta) / math.expm1(n * math.log(o.beta))
        if o.method == "median_freq":
            c = int(np.flatnonzero(present)[0])
            med = w[c] * agg.pixels[c] / agg.den[c]
            return med / (v / float(agg.void_den))
        if o.method == "enet":
            return 1.0 / math.log(
                o.enet_c + v / (N if o.enet_share == "labelled" else float(agg.total))
            )
        return 1.0

    def candidates(
        self, method: str, opts: dict[str, Any], order: int, refined: bool = False
    ) -> list[dict[str, Any]]:
        w, present, vw = self.raw(method, opts)
        if not np.any(present):
            return []
        out = []
        absents = ("zero", "max", "mean") if not np.all(present) else ("zero",)
        voids = [None] if not self.void else ["formula"] + (["zero"] if self.void_zero else [])
        for absent in absents:
            full = np.where(present, w, _fill_absent_raw(w, present, absent))
            for void in voids:
                if void == "formula" and not np.isfinite(vw):
                    continue
                vec = full if void is None else np.append(full, 0.0 if void == "zero" else vw)
                if not np.all(np.isfinite(vec)):
                    continue
                out.append(self._fit(method, opts, vec, w, present, absent, void, order, refined))
        return [c for c in out if c is not None]

    def _fit(self, method, opts, vec, w, present, absent, void, order, refined):
        s = self.fitter.scale(vec)
        if s is None or not np.isfinite(s) or s <= 0:
            return None
        err, rmse, fits = self.fitter.score(vec, s)
        normalize, scale = "none", s
        for mode in ("none", "mean", "sum", "max"):
            g = 1.0 if mode == "none" else _norm_factor(w, present, mode)[0]
            e, r, ok = self.fitter.score(vec, g)
            if ok == fits and e <= err + 1e-12:
                normalize, scale, err, rmse = mode, 1.0, e, r
                s = g
                break
        note = None
        if normalize == "none" and scale != 1.0:  # conventions compute does not offer
            for note_, g in self._other_normalisations(w, present):
                e, r, ok = self.fitter.score(vec, g)
                if ok == fits and e <= err + 1e-12:
                    note, scale, err, rmse, s = note_, g, e, r, g
                    break
        x = s * vec
        pred = self.fitter.rounded(x)
        absent_opt = {} if np.all(present) else {"absent": absent}
        return {"method": method, "options": {**opts, "normalize": normalize, **absent_opt},
                "scale": float(scale), "err": err, "rmse": rmse, "fits": fits, "void": void,
                "pred": pred, "res": np.abs(pred - self.fitter.y) / self.fitter.den,
                "order": order, "refined": refined, "scale_note": note}  # fmt: skip

    def _other_normalisations(self, w: NDArray, present: NDArray) -> list[tuple[str, float]]:
        wp = w[present]
        share = (self.aggs["all"].pixels / float(self.aggs["all"].labelled))[present]
        return [("the weights sum to 1 (L1)", 1.0 / wp.sum()),
                ("the smallest weight is 1", 1.0 / wp.min()),
                ("the mean weight per labelled pixel is 1", 1.0 / float(share @ wp))]  # fmt: skip


def _fill_absent_raw(w: NDArray, present: NDArray, policy: str) -> NDArray:
    return _fill_absent(np.where(present, w, np.nan), present, policy)


def _refine(m: _Matcher, best: dict[str, Any], order: int) -> list[dict[str, Any]]:
    """A 1-D search of the continuous parameter of ``best``'s family (power, enet_c, beta)."""
    method, opts = (
        best["method"],
        {k: best["options"][k] for k in _METHOD_KEYS.get(best["method"], ())},
    )
    if method == "power":
        w, present, _ = m.raw("power", {"power": 1.0})
        y = m.fitter.y[: m.C]
        ok = present & (y > 0)
        if ok.sum() < 2:
            return []
        p = float(np.polyfit(np.log(w[ok]), np.log(y[ok]), 1)[0])  # log y = p log(1/f) + k
        key, lo, hi, to = "power", p - 0.2, p + 0.2, float
    elif method == "enet":
        key, lo, hi = "enet_c", math.log(1e-3), math.log(5.0)
        to = lambda t: 1.0 + math.exp(t)  # noqa: E731  t = ln(c - 1)
    elif method == "effective_num":
        n = m.aggs["all"].pixels if opts["count"] == "pixels" else m.aggs["all"].images
        top = math.log10(max(float(n.max()), 10.0)) + 2
        key, lo, hi = "beta", -top, -0.5
        to = lambda t: 1.0 - 10.0**t  # noqa: E731  t = log10(1 - beta)
    else:
        return []

    def objective(t: float) -> tuple[float, list[dict[str, Any]]]:
        try:
            cands = m.candidates(method, {**opts, key: to(t)}, order, refined=True)
        except ConfigError:
            return math.inf, []
        return min((c["err"] + c["rmse"] for c in cands), default=math.inf), cands

    ts = np.linspace(lo, hi, 25)
    vals = [objective(float(t))[0] for t in ts]
    i = int(np.argmin(vals))
    a, b = float(ts[max(i - 1, 0)]), float(ts[min(i + 1, len(ts) - 1)])
    g = (math.sqrt(5) - 1) / 2
    for _ in range(50):
        x1, x2 = b - g * (b - a), a + g * (b - a)
        if objective(x1)[0] <= objective(x2)[0]:
            b = x2
        else:
            a = x1
    t = (a + b) / 2
    full = objective(t)[1]
    fits = any(c["fits"] for c in full)
    for digits in (2, 3, 4, 5, 6, 8, 12):  # the shortest parameter that fits as well
        value = float(f"{to(t):.{digits}g}")
        try:
            cands = m.candidates(method, {**opts, key: value}, order, refined=True)
        except ConfigError:
            continue
        if any(c["fits"] for c in cands) == fits:
            return cands
    return full


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
    same formula, or 0). Normalisation is a free scale (module docstring). When a family's
    best grid point does not fit, its continuous parameter (``power``, ``enet_c``, ``beta``)
    is searched in 1-D.

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
    found.sort(key=lambda c: (not c["fits"], round(c["err"], 12), c["scale"] != 1.0, c["refined"],
                              float(f"{c['rmse']:.8g}"), c["order"]))  # fmt: skip
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
            method=c["method"], options=c["options"], scale=c["scale"], max_rel_error=c["err"],
            rmse=c["rmse"], fits=c["fits"], predicted=c["pred"].tolist(),
            residuals=c["res"].tolist(), void=c["void"], command=_command(c, args),
            refined=c["refined"], scale_note=c["scale_note"],
        )  # fmt: skip
        if twin is not None:
            if len(twin.equivalent) < 8 and cand.label not in twin.equivalent:
                twin.equivalent.append(cand.label)
        elif len(result) < top:
            result.append(cand)
    return result
