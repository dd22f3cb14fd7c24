"""The search of ``match``: the grid of formulas and conventions, fitting, 1-D refinement."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..stats import ClassStats
from ..weights.stages import Aggregate, Options, fill_absent, parse_options, raw_weights
from ._common import _METHOD_KEYS, _aggregate, _norm_factor
from ._fit import _Fitter


def _counts(stats: ClassStats) -> dict[str, Any]:
    """The record's counts of ``stats`` plus the labelled pixels of images with void."""
    from ..cache.record import stats_counts

    void = stats.image_ignored > 0
    labelled = stats.image_total - stats.image_ignored if stats.multilabel else stats.counts.sum(1)
    return stats_counts(stats) | {
        "void_image_labelled_pixels": int((labelled + stats.image_ignored)[void].sum())
    }


_BETAS = (0.9, 0.99, 0.999, 0.9999)
_ENET_C = (1.02, 1.10, 1.2)
_POWERS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


def _grid(agg: Aggregate, void_variants: bool) -> list[tuple[str, dict[str, Any]]]:
    from ..weights.methods import suggest_beta

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
    grid += [("log_count", {})]
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
        o = parse_options(method, normalize="none", **opts)
        agg = self.aggs[o.median_denominator]
        with np.errstate(all="ignore"):
            w, present = raw_weights(agg, o)
            if method == "power":
                w = np.exp(np.minimum(w, 700.0))
            return w, present, self._void_raw(agg, o, w, present) if self.void else math.nan

    def _void_raw(self, agg: Aggregate, o: Options, w: NDArray, present: NDArray) -> float:
        """The ignore label's weight by the same formula (the weight stages' own), from its
        own counts, as the formula weighs a class of this dataset."""
        v = float(agg.void_pixels)
        if v <= 0:
            return math.nan
        void = Aggregate(
            pixels=np.array([v]),
            labelled=agg.labelled,
            total=agg.total,
            images=np.array([self.void_images]),
            den=np.array([float(agg.void_den)]),
        )
        median = None
        if o.method == "median_freq":  # the classes' median frequency, from any present class
            c = int(np.flatnonzero(present)[0])
            median = float(w[c] * agg.pixels[c] / agg.den[c])
        raw, _ = raw_weights(void, o, classes=agg.pixels.size, median=median)
        out = float(raw[0])
        return math.exp(min(out, 700.0)) if o.method == "power" else out

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
        return {
            "method": method,
            "options": {**opts, "normalize": normalize, **absent_opt},
            "scale": float(scale),
            "err": err,
            "rmse": rmse,
            "fits": fits,
            "void": void,
            "pred": pred,
            "res": np.abs(pred - self.fitter.y) / self.fitter.den,
            "order": order,
            "refined": refined,
            "scale_note": note,
        }

    def _other_normalisations(self, w: NDArray, present: NDArray) -> list[tuple[str, float]]:
        wp = w[present]
        share = (self.aggs["all"].pixels / float(self.aggs["all"].labelled))[present]
        return [
            ("the weights sum to 1 (L1)", 1.0 / wp.sum()),
            ("the smallest weight is 1", 1.0 / wp.min()),
            ("the mean weight per labelled pixel is 1", 1.0 / float(share @ wp)),
        ]


def _fill_absent_raw(w: NDArray, present: NDArray, policy: str) -> NDArray:
    return fill_absent(np.where(present, w, np.nan), present, policy)


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
