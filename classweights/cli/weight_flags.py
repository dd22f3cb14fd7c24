"""The weight flags: the method and the flags of its options, and their `WeightSpec`.

Defaults are the method's own: a flag left out is not given (``--absent``: zero for
cross-entropy weights, one for ``pos_weight``); an option that does not apply to the method is
refused by the `WeightSpec`, naming the flag.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .flags import F, add_options


def _clip(value: str | None) -> tuple[float | None, float | None] | None:
    if value is None:
        return None
    try:
        lo, hi = (None if p.strip() in ("", "none") else float(p) for p in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected LO,HI such as 0.1,10 (either may be empty)"
        ) from None
    return lo, hi


def _beta(value: Any) -> Any:
    if value is None or value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"--beta {value!r}: expected auto or a number in [0, 1)") from None


def weight_flags(*, method: bool = True, method_flag: str = "--method") -> Callable[[F], F]:
    """The weight method (``--method``, or another name) and the flags of its options.

    Defaults are the method's own: a flag left out is not given (``--absent``: zero for
    cross-entropy weights, one for ``pos_weight``)."""
    from ..weights import MULTILABEL_METHODS
    from ..weights import options as o

    d = o.WeightOptions.defaults()
    methods = o.WEIGHT_METHODS + o.OBJECT_METHODS + MULTILABEL_METHODS

    def deco(f: F) -> F:
        opts = [
            click.option(
                "--values",
                metavar="W1,W2,...|FILE",
                help="manual: the weights, comma-separated (one per class) or a JSON/YAML file "
                "(a list, or {class id or name: weight}).",
            ),
            click.option(
                "--normalize",
                type=click.Choice(o.NORMALIZE_MODES),
                help=f"Normalise the present classes' weights.  [default: {d['normalize']}]",
            ),
            click.option(
                "--clip", metavar="LO,HI", help="Clip weights after normalising, e.g. 0.1,10."
            ),
            click.option(
                "--renormalize", is_flag=True, default=None, help="Normalise again after clipping."
            ),
            click.option(
                "--absent",
                type=click.Choice(o.ABSENT_POLICIES),
                help="Weight of classes with no pixels.  [default: zero; one for pos_weight]",
            ),
            click.option(
                "--beta",
                help="effective_num: beta in [0, 1), or auto = 1 - 1/(largest class count).  "
                "[default: auto]",
            ),
            click.option(
                "--count",
                type=click.Choice(o.COUNT_MODES),
                help=f"effective_num: count pixels or images.  [default: {d['count']}]",
            ),
            click.option(
                "--median-over",
                type=click.Choice(o.MEDIAN_OVER),
                help="median_freq: 'all' counts the ignore label as a class (SegNet).  "
                f"[default: {d['median_over']}]",
            ),
            click.option(
                "--median-denominator",
                type=click.Choice(o.MEDIAN_DENOMINATORS),
                help="median_freq: pixels of images containing c.  "
                f"[default: {d['median_denominator']}]",
            ),
            click.option(
                "--enet-c",
                type=float,
                help=f"enet: c > 1 in 1 / ln(c + p_c).  [default: {d['enet_c']}]",
            ),
            click.option(
                "--enet-share",
                type=click.Choice(o.ENET_SHARES),
                help="enet: p_c as a share of labelled or all pixels.  "
                f"[default: {d['enet_share']}]",
            ),
            click.option(
                "--power", type=float, help=f"power: exponent p.  [default: {d['power']}]"
            ),
        ]
        if method:
            opts.insert(
                0,
                click.option(
                    method_flag,
                    "method",
                    type=click.Choice(methods),
                    default="sqrt_inv_freq",
                    show_default=True,
                    help="pos_weight / focal_alpha: per-class vectors of sigmoid losses "
                    "(multi-label), exported as BCEWithLogitsLoss(pos_weight=...) shaped "
                    "(C, 1, 1); inv_object_size needs --objects.",
                ),
            )
        return add_options(f, opts)

    return deco


#: weight option -> the flag's parameter name (where they differ)
_WEIGHT_FLAG = {"manual": "values"}


def weight_options_kw(kw: dict[str, Any]) -> dict[str, Any]:
    """The weight options the user gave, as keywords of `WeightSpec`."""
    from ..weights.spec import spec_fields

    out: dict[str, Any] = {}
    for name in spec_fields():
        flag = _WEIGHT_FLAG.get(name, name)
        if kw.get(flag) is not None:
            out[name] = kw[flag]
    if "clip" in out:
        out["clip"] = _clip(out["clip"])
    if "beta" in out:
        out["beta"] = _beta(out["beta"])
    if "manual" in out:
        from ..weights.options import parse_values

        out["manual"] = parse_values(out["manual"])
    return out


def weight_spec(kw: dict[str, Any], method: str | None = None) -> Any:
    """The command's `WeightSpec` (a bad value or an option of another method fails here)."""
    from ..weights.spec import WeightSpec

    method = method or kw["method"]
    if method == "manual" and kw.get("values") is None:
        raise click.UsageError("--method manual needs --values W1,W2,... or --values FILE")
    return WeightSpec(method, **weight_options_kw(kw))
