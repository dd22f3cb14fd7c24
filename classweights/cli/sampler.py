"""`sampler`: per-image sampling weights (repeat factors or class presence) from one scan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..errors import ConfigError
from ..rebalance import DRAW_MODES, FREQUENCIES, REDUCE_MODES, SAMPLING_METHODS
from ..sampler import EXPORTS
from ..text import visible
from .app import FORMATS, App, command
from .flags import mask_source, scan_flags
from .weight_flags import weight_flags, weight_options_kw


def class_weight_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The class-weight options of ``compute``, with ``--method`` renamed ``--weight-method``."""
    from ..weights.options import WEIGHT_METHODS

    f = weight_flags(method=False)(f)
    return click.option(
        "--weight-method",
        type=click.Choice(WEIGHT_METHODS),
        default="sqrt_inv_freq",
        show_default=True,
        help="class_presence: class-weight method summed (or maxed) per image.",
    )(f)


@click.command()
@scan_flags
@click.option(
    "--method", type=click.Choice(SAMPLING_METHODS), default="repeat_factor", show_default=True
)
@click.option(
    "--threshold",
    type=float,
    default=0.1,
    show_default=True,
    help="repeat_factor: t in r_c = max(1, sqrt(t / f_c)).",
)
@click.option(
    "--frequency",
    type=click.Choice(FREQUENCIES),
    default="images",
    show_default=True,
    help="repeat_factor: f_c = fraction of images containing c, or pixel share.",
)
@click.option(
    "--reduce",
    type=click.Choice(REDUCE_MODES),
    default="sum",
    show_default=True,
    help="class_presence: sum or max of the weights of the classes in an image.",
)
@class_weight_options
@click.option(
    "--draw",
    type=click.Choice(DRAW_MODES),
    default="weighted",
    show_default=True,
    help="Summary for WeightedRandomSampler(num_samples=N) or detectron2 repeat epochs.",
)
@click.option(
    "--export",
    type=click.Choice(EXPORTS),
    help="Per-image weights with the file list (npy: FILE + FILE.files.txt).",
)
@click.option("--sample", hidden=True)  # refused: the sampler weighs every image
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="File for --export (json/csv default to stdout; - for stdout).",
)
@command(FORMATS)
def sampler(app: App, **kw: Any) -> None:
    """Per-image sampling weights, aligned with the scan's (sorted) file order.

    \b
    Examples:
      classweights sampler examples/masks --num-classes 19 --ignore-index 255 --threshold 0.1
      classweights sampler DATA --num-classes 19 --method repeat_factor --export npy -o sw.npy
      classweights sampler DATA --num-classes 19 --method class_presence --reduce max --export csv
    """
    from ..atomic import write_stdout
    from ..report import make_console
    from ..report.render import render
    from ..sampler import export_text, sampler_report, write_sampling_weights

    if kw.pop("sample") is not None:
        raise ConfigError("--sample: the sampler needs a weight for every image; drop --sample")
    if kw["export"] == "npy" and kw["output"] in (None, "-"):
        raise ConfigError(
            "--export npy writes FILE.npy and FILE.files.txt (the sources); pass --output FILE.npy"
        )
    method, export, output = kw["method"], kw["export"], kw["output"]
    output = None if output == "-" else output  # -o -: json/csv on stdout, as without -o
    if method == "repeat_factor" and weight_options_kw(kw):
        given = ", ".join("--" + k.replace("_", "-") for k in weight_options_kw(kw))
        raise ConfigError(f"{given}: class-weight options apply to --method class_presence")
    opts = (
        {"threshold": kw["threshold"], "frequency": kw["frequency"]}
        if method == "repeat_factor"
        else {
            "reduce": kw["reduce"],
            "weight_method": kw["weight_method"],
            **_class_weight_kwargs(kw),
        }
    )
    stats, info = app.statistics(mask_source(kw))
    data = sampler_report(stats, method, opts, draw=kw["draw"], cache=info.as_dict())
    if export and output:
        written = " + ".join(map(str, write_sampling_weights(data, export, output)))
        make_console(stderr=True, quiet=app.quiet).print(
            visible(f"wrote {len(data['weights'])} weights to {written}"), markup=False
        )
    elif export:  # the export takes stdout; the table summary goes to stderr
        write_stdout(export_text(data, export))
        if app.fmt != "table":
            return
    render(
        data,
        app.fmt,
        kind="sampler",
        stderr=bool(export and not output),
        quiet=app.quiet and bool(export and not output),
    )


def _class_weight_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """The class-weight options given, checked against --weight-method (an option of another
    method is refused, never ignored)."""
    from ..weights.spec import WeightSpec, full_options

    given = weight_options_kw(kw)
    WeightSpec(kw["weight_method"], **given)  # a bad value or an option of another method fails
    return full_options(given)
