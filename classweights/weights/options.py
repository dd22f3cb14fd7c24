"""Weight-method names, options and their validation (one tuple of allowed values per mode).

Every error is a :class:`ConfigError` whose message lists the valid values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError, unknown_keywords
from ..params import Check, Interval, Options, validate
from ..stats import ClassStats

WEIGHT_METHODS: tuple[str, ...] = (
    "inverse_freq",
    "sqrt_inv_freq",
    "effective_num",
    "median_freq",
    "enet",
    "log_count",
    "power",
    "uniform",
    "manual",
)
# methods that need a scan with objects=True (per-class connected components); listed apart so
# that "every method" loops over plain statistics keep working
OBJECT_METHODS: tuple[str, ...] = ("inv_object_size",)
NORMALIZE_MODES: tuple[str, ...] = ("mean", "sum", "max", "none")
ABSENT_POLICIES: tuple[str, ...] = ("zero", "one", "max", "mean")
COUNT_MODES: tuple[str, ...] = ("pixels", "images")
MEDIAN_OVER: tuple[str, ...] = ("classes", "all")
MEDIAN_DENOMINATORS: tuple[str, ...] = ("all", "labelled")
ENET_SHARES: tuple[str, ...] = ("labelled", "all")

Method = Literal[
    "inverse_freq",
    "sqrt_inv_freq",
    "effective_num",
    "median_freq",
    "enet",
    "log_count",
    "power",
    "uniform",
    "manual",
    "inv_object_size",
]
Normalize = Literal["mean", "sum", "max", "none"]
Absent = Literal["zero", "one", "max", "mean"]

#: Relative spread below which effective-number weights count as flat.
FLAT_TOLERANCE = 1e-6
_LOG_MAX = math.log(np.finfo(np.float64).max)

#: Formula and source of every method (used by docs, ``explain`` and ``match``).
METHOD_INFO: dict[str, dict[str, str]] = {
    "inverse_freq": {
        "formula": "w_c = N / (C * n_c)",
        "source": "King & Zeng 2001; scikit-learn compute_class_weight('balanced')",
    },
    "sqrt_inv_freq": {"formula": "w_c = 1 / sqrt(f_c)", "source": "folklore (smoothed inverse)"},
    "effective_num": {
        "formula": "w_c = (1 - beta) / (1 - beta**n_c), normalised to sum C",
        "source": "Cui et al., Class-Balanced Loss Based on Effective Number of Samples, CVPR 2019",
    },
    "median_freq": {
        "formula": "freq_c = n_c / P_c; w_c = median(freq) / freq_c",
        "source": "Eigen & Fergus, ICCV 2015 (arXiv 1411.4734, 6.3.2); SegNet, PyTorch-ENet",
    },
    "log_count": {
        "formula": "w_c = 1 / ln(1 + n_c)",
        "source": "the OCNet/HRNet Cityscapes vector as its authors describe it "
        "(1/log(pixel count), then L1-normalised: normalize='sum' with a scale, or match)",
    },
    "enet": {
        "formula": "w_c = 1 / ln(c + p_c), c = 1.02",
        "source": "Paszke et al., ENet, arXiv 1606.02147, 5.2",
    },
    "power": {"formula": "w_c = 1 / f_c**p", "source": "p=1 inverse, p=0.5 sqrt, p=0 uniform"},
    "uniform": {"formula": "w_c = 1", "source": "-"},
    "manual": {"formula": "w_c = user value (1 where not given)", "source": "user"},
    "inv_object_size": {
        "formula": "w_c = K_c / n_c (1 / mean object size; K_c connected components)",
        "source": "instance-balanced weighting, cf. Kofler et al., blob loss, IPMI 2023",
    },
}


def _clip_ok(value: Any) -> bool:
    lo, hi = value
    for v in (lo, hi):
        if v is not None and not (np.isfinite(v) and v >= 0):
            return False
    return lo is None or hi is None or lo <= hi


def _manual_ok(value: Any) -> bool:
    """A mapping, or a sequence / array / tensor of weights (not a string)."""
    return isinstance(value, Mapping) or (
        hasattr(value, "__iter__") and not isinstance(value, str | bytes)
    )


#: MULTILABEL methods and their options (:mod:`classweights.weights.multilabel`)
MULTILABEL_OPTIONS: dict[str, tuple[str, ...]] = {
    "pos_weight": ("absent", "spatial_dims"),
    "focal_alpha": ("spatial_dims",),
}

#: one row per option: the constraints a given value must satisfy (`classweights.params`)
WEIGHT_CONSTRAINTS: dict[str, list[Any]] = {
    "method": [Options((*WEIGHT_METHODS, *OBJECT_METHODS, *MULTILABEL_OPTIONS))],
    "normalize": [Options(NORMALIZE_MODES)],
    "clip": [Check(_clip_ok, "a pair (lo, hi) of finite bounds >= 0, lo <= hi"), None],
    "renormalize": [Check(lambda v: isinstance(v, bool | np.bool_), "True or False")],
    "absent": [Options(ABSENT_POLICIES)],
    "beta": [Options(("auto",)), Interval(float, 0.0, 1.0, "left")],
    "count": [Options(COUNT_MODES)],
    "median_over": [Options(MEDIAN_OVER)],
    "median_denominator": [Options(MEDIAN_DENOMINATORS)],
    "enet_c": [Interval(float, 1.0, None, "neither")],
    "enet_share": [Options(ENET_SHARES)],
    "power": [Interval(float, None, None)],
    "manual": [Check(_manual_ok, "a list of weights or a mapping {class: weight}"), None],
    "spatial_dims": [Interval(int, 0, 3)],
    "max_value": [Interval(float, 0.0, None, "neither"), None],
}


class ClassWeightsWarning(UserWarning):
    """A weight was defined by a fallback rule (absent class, degenerate method, ...)."""


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(
            f"{name}={value!r} is not valid; expected one of: {', '.join(allowed)}"
        ) from None
    return value


@dataclass(frozen=True, kw_only=True)
class WeightOptions:
    """A weight method and its options, validated (the one place they are listed).

    Build it with :meth:`build` (which validates and names a misspelt option's closest
    valid one); :func:`classweights.compute_weights` takes the same keywords.

    >>> WeightOptions.build("effective_num", beta=0.99).beta
    0.99
    >>> WeightOptions.build(normalise="sum")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classweights.errors.ConfigError: unknown weight option normalise (did you mean normalize?); ...
    """

    method: str = "sqrt_inv_freq"
    normalize: str = "mean"
    clip: tuple[float | None, float | None] | None = None
    renormalize: bool = False
    absent: str = "zero"
    #: ``"auto"``: ``1 - 1/max n_c`` of the statistics (`resolve_auto`); validated: None
    beta: float | str | None = "auto"
    count: str = "pixels"
    median_over: str = "classes"
    median_denominator: str = "all"
    enet_c: float = 1.02
    enet_share: str = "labelled"
    power: float = 0.5
    manual: Any = None

    @classmethod
    def build(cls, method: str = "sqrt_inv_freq", **options: Any) -> WeightOptions:
        """Validate ``method`` and its ``options`` (a ``ConfigError`` names the problem)."""
        return _options(method, **options)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each option's default value (``method`` excluded)."""
        return {f.name: f.default for f in fields(cls) if f.name != "method"}

    def __post_init__(self) -> None:
        # beta None: "auto" already read as "resolve from the statistics" (`resolve_auto`)
        # (resolved from huge counts, 1 - 1/max n_c may round to 1.0: its formula copes)
        table = WEIGHT_CONSTRAINTS | {"beta": [Options(("auto",)), Interval(float, 0, 1), None]}
        validate("WeightOptions", table, self.options() | {"method": self.method})

    def options(self) -> dict[str, Any]:
        """The options as keywords of :func:`classweights.compute_weights` (no ``method``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "method"}


_Options = WeightOptions  # the name the weight stages use

#: the option keywords (every field of `WeightOptions` but ``method``)
WEIGHT_OPTIONS: tuple[str, ...] = tuple(WeightOptions.defaults())


def _validate_clip(clip: Any) -> tuple[float | None, float | None] | None:
    if clip is None:
        return None
    try:
        lo, hi = clip
    except (TypeError, ValueError):
        raise ConfigError(
            f"clip={clip!r} is not valid; expected a pair (lo, hi), either may be None"
        ) from None
    for v in (lo, hi):
        if v is not None and not (np.isfinite(v) and v >= 0):
            raise ConfigError(f"clip={clip!r}: bounds must be finite and >= 0 (or None)")
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"clip={clip!r}: lower bound is above the upper bound; swap them")
    return (None if lo is None else float(lo), None if hi is None else float(hi))


def _options(method: str = "sqrt_inv_freq", **kw: Any) -> _Options:
    """Validate a method and its keyword options (unknown keys raise ``ConfigError``)."""
    unknown = set(kw) - set(WEIGHT_OPTIONS)
    if unknown:
        raise unknown_keywords("weight option", unknown, WEIGHT_OPTIONS)
    o = {**WeightOptions.defaults(), **kw}
    _choice("method", method, WEIGHT_METHODS + OBJECT_METHODS)
    _choice("normalize", o["normalize"], NORMALIZE_MODES)
    _choice("absent", o["absent"], ABSENT_POLICIES)
    _choice("count", o["count"], COUNT_MODES)
    _choice("median_over", o["median_over"], MEDIAN_OVER)
    _choice("median_denominator", o["median_denominator"], MEDIAN_DENOMINATORS)
    _choice("enet_share", o["enet_share"], ENET_SHARES)
    enet_c, power = float(o["enet_c"]), float(o["power"])
    beta = None if isinstance(o["beta"], str) and o["beta"] == "auto" else o["beta"]
    try:
        beta = None if beta is None else float(beta)
    except (TypeError, ValueError):
        beta = -1.0
    if beta is not None and not 0.0 <= beta < 1.0:
        raise ConfigError(
            f"beta={o['beta']!r} is not valid; expected 'auto' or 0 <= beta < 1 (e.g. 0.9999)"
        )
    if not (np.isfinite(enet_c) and enet_c > 1.0):
        raise ConfigError(f"enet_c={enet_c!r} is not valid; expected c > 1 (ENet uses 1.02)")
    if not np.isfinite(power):
        raise ConfigError(f"power={power!r} is not valid; expected a finite exponent (e.g. 0.5)")
    if method == "manual" and o["manual"] is None:
        raise ConfigError(
            "method='manual' needs manual={class: weight, ...} or a list of C weights"
        )
    return WeightOptions(
        method=method,
        normalize=o["normalize"],
        clip=_validate_clip(o["clip"]),
        renormalize=bool(o["renormalize"]),
        absent=o["absent"],
        beta=beta,
        count=o["count"],
        median_over=o["median_over"],
        median_denominator=o["median_denominator"],
        enet_c=enet_c,
        enet_share=o["enet_share"],
        power=power,
        manual=o["manual"],
    )


def method_options(method: str) -> tuple[str, ...]:
    """The option keywords ``method`` takes (after checking the method's name).

    >>> method_options("focal_alpha")
    ('spatial_dims',)
    """
    _choice("method", method, (*WEIGHT_METHODS, *OBJECT_METHODS, *MULTILABEL_OPTIONS))
    return MULTILABEL_OPTIONS.get(method, WEIGHT_OPTIONS)


def check_method_options(method: str, options: Mapping[str, Any]) -> None:
    """Validate a method and its options without any statistics (before a scan starts).

    Covers :func:`compute_weights`' methods and the multi-label ``pos_weight`` and
    ``focal_alpha``.

    >>> check_method_options("bogus", {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classweights.errors.ConfigError: method='bogus' is not valid; expected one of: inverse_freq, ...
    """
    valid = method_options(method)
    if method not in MULTILABEL_OPTIONS:
        _options(method, **options)
        return
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for method={method!r}; expected: "
            f"{', '.join(valid)}"
        )
    if "absent" in options:
        _choice("absent", options["absent"], ABSENT_POLICIES)


def _manual_vector(manual: Any, stats: ClassStats) -> NDArray[np.float64]:
    """``(C,)`` user weights from a mapping (class id or name -> weight) or a sequence."""
    c = stats.num_classes
    if isinstance(manual, Mapping):
        w = np.ones(c)
        names = stats.names
        for key, value in manual.items():
            if isinstance(key, str) and key in names:
                idx = names.index(key)
            elif isinstance(key, (int, np.integer)) and 0 <= int(key) < c:
                idx = int(key)
            else:
                raise ConfigError(
                    f"manual weight key {key!r} is not a class; expected ids 0..{c - 1} "
                    f"or names {', '.join(names)}"
                )
            w[idx] = float(value)
    else:
        w = np.asarray(manual, dtype=np.float64).reshape(-1)
        if w.shape != (c,):
            raise ConfigError(
                f"manual weights have {w.size} values but num_classes={c}; give one per class "
                "or a mapping {class: weight}"
            )
    if not (np.all(np.isfinite(w)) and np.all(w >= 0)):
        raise ConfigError(f"manual weights must be finite and >= 0; got {w.tolist()}")
    return w


def resolve_auto(o: _Options, stats: ClassStats) -> _Options:
    """``o`` with ``beta="auto"`` replaced by ``1 - 1/max n_c`` of ``stats`` (Cui et al.'s
    ``(V - 1) / V`` with the volume ``V`` the largest class count, pixels or images per
    ``count``): the largest class keeps ``1 - 1/e`` of its count, smaller ones move towards
    inverse frequency. A fixed 0.9999 makes ``beta**n`` underflow on pixel counts (every
    weight equal).
    """
    if o.beta is not None:
        return o
    n = np.asarray(stats.pixels if o.count == "pixels" else stats.images, dtype=np.float64)
    top = float(n.max(initial=0.0))
    return replace(o, beta=0.0 if top <= 1 else 1.0 - 1.0 / top)


def parse_values(value: str) -> list[float] | dict[str, float]:
    """Manual weights from ``"1,2.5,3"`` or a JSON/YAML file (a list, or ``{class: weight}``).

    >>> parse_values("1, 2.5,3")
    [1.0, 2.5, 3.0]
    """
    from pathlib import Path

    path = Path(value)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as e:
            raise ConfigError(f"cannot parse the weights file {path}: {e}") from None
        if isinstance(data, Mapping):
            return {str(k): _number(v, path) for k, v in data.items()}
        if isinstance(data, list):
            return [_number(v, path) for v in data]
        raise ConfigError(f"{path}: expected a list of weights or {{class: weight}}")
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        raise ConfigError(f"--values {value!r}: give W1,W2,... (one per class) or a file")
    return [_number(p, "--values") for p in parts]


def _number(v: Any, where: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {v!r} is not a number") from None
    if not math.isfinite(x) or x < 0:
        raise ConfigError(f"{where}: {v!r} is not a finite weight >= 0")
    return x
