"""`WeightSpec`: a weight method and every option, validated on construction; one dispatcher.

Every front door (``load_weights``, the CLI's ``compute``, ``Loss.from_cache``,
``build_loss(dataset=...)``) builds one `WeightSpec` and the pipeline computes it with
:func:`compute`, the one dispatcher of every method: :func:`compute_weights`' cross-entropy
methods and the sigmoid ``pos_weight`` / ``focal_alpha``.

Options are :data:`~classweights.params.UNSET` unless given, so a method's own default applies
(``absent``: ``"zero"`` for cross-entropy weights, ``"one"`` -- plain BCE -- for
``pos_weight``), and an option that does not apply to the method is refused, never ignored:

>>> WeightSpec("pos_weight", absent="zero").options()
{'absent': 'zero'}
>>> WeightSpec("pos_weight", normalize="mean")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
classweights.errors.ConfigError: normalize= does not apply to method='pos_weight' ...
>>> WeightSpec("sqrt_inv_freq", normalize="bogus")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
classweights.errors.ConfigError: normalize='bogus' is not valid: expected one of 'mean', ...
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError, unknown_keywords
from ..params import UNSET, validate
from ..stats import ClassStats
from .options import (
    MULTILABEL_OPTIONS,
    OBJECT_METHODS,
    WEIGHT_CONSTRAINTS,
    WEIGHT_METHODS,
    WeightOptions,
)

#: every method a `WeightSpec` takes
METHODS: tuple[str, ...] = (*WEIGHT_METHODS, *OBJECT_METHODS, *MULTILABEL_OPTIONS)
#: the options every cross-entropy method takes
_COMMON = ("normalize", "clip", "renormalize", "absent")
#: the options of one method only
_OWN: dict[str, tuple[str, ...]] = {
    "effective_num": ("beta", "count"),
    "median_freq": ("median_over", "median_denominator"),
    "enet": ("enet_c", "enet_share"),
    "power": ("power",),
    "manual": ("manual",),
}
#: the options each method takes (``spatial_dims``: the shape of the tensor a door returns)
APPLIES: dict[str, tuple[str, ...]] = {
    **{m: (*_COMMON, *_OWN.get(m, ()), "spatial_dims") for m in (*WEIGHT_METHODS, *OBJECT_METHODS)},
    "pos_weight": ("absent", "max_value", "spatial_dims"),
    "focal_alpha": ("spatial_dims",),
}


@dataclass(frozen=True, init=False)
class WeightSpec:
    """A weight method and its options, checked when made.

    Args:
        method: one of :data:`METHODS`.
        **options: the method's options (see :func:`classweights.compute_weights`,
            :func:`classweights.weights.pos_weight`); ``spatial_dims`` shapes the tensor a
            front door returns (``2``: ``(C, 1, 1)``), never the stored weights.
    """

    method: str
    given: Mapping[str, Any]

    def __init__(self, method: str = "sqrt_inv_freq", /, **options: Any) -> None:
        unknown = set(options) - set(WEIGHT_CONSTRAINTS) | ({"method"} & set(options))
        if unknown:
            raise unknown_keywords(
                "weight option", unknown, sorted(set(WEIGHT_CONSTRAINTS) - {"method"})
            )
        validate("WeightSpec", WEIGHT_CONSTRAINTS, {"method": method, **options})
        given = {k: v for k, v in options.items() if v is not UNSET}
        wrong = sorted(set(given) - set(APPLIES[method]))
        if wrong:
            takes = ", ".join(o for o in APPLIES[method] if o != "spatial_dims") or "none"
            owners = sorted({m for m, opts in _OWN.items() if wrong[0] in opts})
            hint = (
                f" (an option of method={owners[0]!r})"
                if owners
                else " (a ratio of counts: not normalised, clipped or filled)"
                if method in MULTILABEL_OPTIONS
                else ""
            )
            error = ConfigError(
                f"{wrong[0]}= does not apply to method={method!r}{hint}; drop it "
                f"(method={method!r} takes: {takes})"
            )
            error.param = wrong[0]  # type: ignore[attr-defined]
            raise error
        if method == "manual" and given.get("manual") is None:
            raise ConfigError(
                "method='manual' needs manual={class: weight, ...} or a list of C weights"
            )
        if "clip" in given and given["clip"] is not None:
            lo, hi = given["clip"]
            given["clip"] = (None if lo is None else float(lo), None if hi is None else float(hi))
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "given", dict(given))

    # ---- what the stages read -------------------------------------------------------------
    @property
    def multilabel(self) -> bool:
        """A sigmoid method (``pos_weight``, ``focal_alpha``): a ratio of counts per channel."""
        return self.method in MULTILABEL_OPTIONS

    @property
    def spatial_dims(self) -> int:
        return int(self.given.get("spatial_dims", 0))

    def options(self) -> dict[str, Any]:
        """The options the method is computed with: for cross-entropy methods every option of
        :class:`WeightOptions` (defaults where not given); for the sigmoid methods the given
        ones. ``spatial_dims`` is not among them (it shapes a tensor, not the weights)."""
        mine = {k: v for k, v in self.given.items() if k != "spatial_dims"}
        return mine if self.multilabel else full_options(mine)

    def weight_options(self) -> WeightOptions:
        """The validated :class:`WeightOptions` of a cross-entropy method."""
        if self.multilabel:
            raise ConfigError(f"method={self.method!r} has no cross-entropy options")
        return WeightOptions.build(self.method, **self.options())

    def replace(self, **changes: Any) -> WeightSpec:
        """A new spec with ``changes`` applied (``method=`` too)."""
        method = changes.pop("method", self.method)
        return WeightSpec(method, **{**self.given, **changes})

    def for_method(self, method: str) -> WeightSpec:
        """The same options, for another method: only those that apply to it are kept (how
        ``compare`` shows every method from one set of flags)."""
        return WeightSpec(method, **{k: v for k, v in self.given.items() if k in APPLIES[method]})

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.given.items())
        return f"WeightSpec({self.method!r}{opts})"


def full_options(given: Mapping[str, Any]) -> dict[str, Any]:
    """Every cross-entropy option, the defaults where not ``given`` (``manual`` only when
    given), in the order the command line has always shown them.

    >>> list(full_options({"normalize": "sum"}))[:3]
    ['normalize', 'clip', 'renormalize']
    """
    full = {k: v for k, v in WeightOptions.defaults().items() if k not in ("manual", "beta")}
    return full | {"beta": "auto"} | dict(given)


def compute(stats: ClassStats, spec: WeightSpec) -> NDArray[np.float64]:
    """``(C,)`` float64 weights of ``spec`` for ``stats``: the one dispatcher of every method.

    >>> s = ClassStats.from_counts([[100, 20], [0, 10]], image_total=[400, 400], multilabel=True)
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     compute(s, WeightSpec("pos_weight", absent="zero")).tolist()
    [7.0, 25.666666666666668]
    """
    if spec.method == "pos_weight":
        from .multilabel import pos_weight

        o = spec.given
        return pos_weight(stats, absent=o.get("absent", "one"), max_value=o.get("max_value"))
    if spec.method == "focal_alpha":
        from .multilabel import focal_alpha

        return focal_alpha(stats)
    from .methods import compute_weights

    return compute_weights(stats, options=spec.weight_options())


def method_weights(stats: ClassStats, method: str, **options: object) -> NDArray[np.float64]:
    """Deprecated: ``compute(stats, WeightSpec(method, **options))``, the one dispatcher.

    Options that do not apply to ``method`` are dropped here, as this function always did
    (a :class:`~classweights.weights.spec.WeightSpec` refuses them); ``absent`` now means the
    same as on every other door (``"zero"`` gives 0, no longer 1).

    >>> import warnings
    >>> s = ClassStats.from_counts([[100, 20], [0, 10]], image_total=[400, 400], multilabel=True)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     np.round(method_weights(s, "pos_weight", normalize="mean"), 4).tolist()
    [7.0, 25.6667]
    """
    warnings.warn(
        "classweights.weights.method_weights is deprecated; use "
        "classweights.weights.compute(stats, WeightSpec(method, **options))",
        DeprecationWarning,
        stacklevel=2,
    )
    mine = {k: v for k, v in options.items() if k in APPLIES.get(method, ())}
    return compute(stats, WeightSpec(method, **mine))


def spec_fields() -> tuple[str, ...]:
    """Every keyword a `WeightSpec` takes besides the method."""
    return tuple(k for k in WEIGHT_CONSTRAINTS if k != "method")


__all__ = [
    "APPLIES",
    "METHODS",
    "WEIGHT_CONSTRAINTS",
    "WeightSpec",
    "compute",
    "full_options",
    "method_weights",
    "spec_fields",
]
