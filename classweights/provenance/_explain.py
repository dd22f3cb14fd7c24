"""``explain``: how a stored weight vector was made, worked through from its counts."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..weights.options import METHOD_INFO, WEIGHT_OPTIONS
from ..weights.stages import (
    Aggregate,
    Options,
    fill_absent,
    finalize,
    manual_vector,
    parse_options,
    raw_weights,
)
from ._common import _METHOD_KEYS, _aggregate, _norm_factor, _np, _num


def _stored_options(record: Mapping[str, Any]) -> tuple[Options | None, dict[str, Any]]:
    stored = dict(record.get("options") or {})
    method = record.get("method")
    if method not in METHOD_INFO:
        return None, stored
    return parse_options(method, **{k: v for k, v in stored.items() if k in WEIGHT_OPTIONS}), stored


def _scan_settings(settings: Mapping[str, Any]) -> str:
    """The count-changing scan settings stored in a record (glob, remap, ...), one line."""
    parts = []
    for k in ("glob", "remap", "reduce_zero_label", "palette", "multilabel", "sample"):
        v = settings.get(k)
        if v is None or v is False:
            continue
        if isinstance(v, Mapping):
            items = list(v.items())
            body = ", ".join(f"{a}: {b}" for a, b in items[:6])
            v = f"{{{body}{', ...' if len(items) > 6 else ''}}} ({len(items)} entries)"
        else:
            v = repr(v)
        parts.append(f"{k}={v}")
    return ", ".join(parts)


def _substitute(o: Options, agg: Aggregate, c: int, raw: float, names: Any) -> list[str]:
    """The method's formula with class ``c``'s counts substituted, ending in the raw weight."""
    n, N, C = float(agg.pixels[c]), float(agg.labelled), agg.pixels.shape[-1]
    f = n / N if N else math.nan
    m = o.method
    if m == "inverse_freq":
        return [
            f"n_c = {n:.0f} pixels; N = {N:.0f} labelled pixels; C = {C}",
            f"w_c = N / (C * n_c) = {N:.0f} / ({C} * {n:.0f}) = {_num(raw)}",
        ]
    share = [f"f_c = n_c / N = {n:.0f} / {N:.0f} = {_num(f)}"]
    if m == "sqrt_inv_freq":
        return [*share, f"w_c = 1 / sqrt(f_c) = 1 / sqrt({_num(f)}) = {_num(raw)}"]
    if m == "power":
        return [*share, f"w_c = 1 / f_c**p = 1 / {_num(f)}**{o.power:g} = {_num(raw)}"]
    if m == "effective_num":
        k = n if o.count == "pixels" else float(agg.images[c])
        x = math.exp(k * math.log(o.beta)) if o.beta > 0 else 0.0
        return [
            f"n_c = {k:.0f} {o.count} containing the class; beta = {o.beta!r}",
            f"beta**n_c = exp(n_c ln beta) = exp({k:.0f} * ln {o.beta!r}) = {_num(x)}",
            f"w_c = (1 - beta) / (1 - beta**n_c) = {_num(1 - o.beta)} / {_num(1 - x)} = "
            f"{_num(raw)}",
        ]
    if m == "median_freq":
        den = float(agg.den[c])
        freq = n / den
        present = agg.pixels > 0
        pool = list(agg.pixels[present] / agg.den[present])
        where = f"the {int(present.sum())} present classes"
        lines = [
            f"n_c = {n:.0f}; P_c = {den:.0f} ({o.median_denominator} pixels of the images "
            f"containing the class)",
            f"freq_c = n_c / P_c = {n:.0f} / {den:.0f} = {_num(freq)}",
        ]
        if o.median_over == "all" and float(agg.void_pixels) > 0:
            vf = float(agg.void_pixels) / float(agg.void_den)
            pool.append(vf)
            where += " and the ignore label"
            lines.append(
                f"ignore label: freq = {float(agg.void_pixels):.0f} / "
                f"{float(agg.void_den):.0f} = {_num(vf)}"
            )
        med = float(np.median(pool))
        return [
            *lines,
            f"median(freq) over {where} = {_num(med)}",
            f"w_c = median(freq) / freq_c = {_num(med)} / {_num(freq)} = {_num(raw)}",
        ]
    if m == "enet":
        d = N if o.enet_share == "labelled" else float(agg.total)
        p = n / d
        return [
            f"p_c = n_c / {o.enet_share} pixels = {n:.0f} / {d:.0f} = {_num(p)}",
            f"w_c = 1 / ln(c + p_c) = 1 / ln({o.enet_c:g} + {_num(p)}) = {_num(raw)}",
        ]
    if m == "log_count":
        return [f"w_c = 1 / ln(1 + n_c) = 1 / ln(1 + {n:.0f}) = {_num(raw)}"]
    if m == "uniform":
        return ["w_c = 1"]
    return [f"w_c = {_num(raw)} (given by the user)"]


def _derivation(record: Mapping[str, Any], o: Options, c: int, why: str) -> tuple[list[str], float]:
    """Step-by-step lines for class ``c`` and the final number they end in."""
    counts = record["counts"]
    names = record.get("class_names") or None
    agg = _aggregate(counts, o.median_denominator)
    if o.beta is None:  # "auto": 1 - 1/max n_c of the stored counts
        n = agg.pixels if o.count == "pixels" else agg.images
        top = float(np.max(n, initial=0))
        o = replace(o, beta=0.0 if top <= 1 else 1.0 - 1.0 / top)
    stub = SimpleNamespace(
        num_classes=agg.pixels.size, names=names or [str(i) for i in range(agg.pixels.size)]
    )
    manual = manual_vector(o.manual, stub) if o.method == "manual" else None
    w, present = raw_weights(agg, o, manual)
    if o.method == "power":
        with np.errstate(over="ignore"):
            w = np.exp(w)
    label = f"class {c} ({names[c]})" if names else f"class {c}"
    lines = [f"worked example: {label}, {why}"]
    if not present[c]:
        final = float(
            fill_absent(finalize(raw_weights(agg, o, manual)[0], present, o), present, o.absent)[c]
        )
        lines.append(f"the class has no pixels: absent={o.absent!r} gives it {_num(final)}")
        return lines, final
    value = float(w[c])
    lines += _substitute(o, agg, c, value, names)
    if not np.all(np.isfinite(w[present])):
        lines.append("(raw weights exceed float64; the library normalises them in log space)")
        final = float(finalize(raw_weights(agg, o, manual)[0], present, o)[c])
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
    >>> from classweights.stats import ClassStats
    >>> from classweights.weights import compute_weights
    >>> s = ClassStats.from_counts([[600, 300, 100]])
    >>> rec = {"method": "inverse_freq", "options": {"normalize": "mean"},
    ...        "counts": stats_counts(s),
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
    scan = _scan_settings(record.get("settings") or {})
    if scan:
        lines.append("scan        " + scan)
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
            lines.append(
                "  warning: the stored weight differs from the recomputation from the stored "
                "counts; the file was edited or made by another version"
            )
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
