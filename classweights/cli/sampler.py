"""`sampler`: per-image sampling weights (repeat factors or class presence) from one scan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..errors import ConfigError
from ..rebalance import DRAW_MODES, FREQUENCIES, REDUCE_MODES, SAMPLING_METHODS
from ..sampler import EXPORTS
from ..text import visible
from .errors import handle_errors
from .options import FORMATS, run_scan, scan_options, weight_kwargs, weight_options


def class_weight_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The class-weight options of ``compute``, with ``--method`` renamed ``--weight-method``."""
    from ..weights.options import WEIGHT_METHODS

    params = getattr(weight_options(lambda: None), "__click_params__", [])
    f.__dict__.setdefault("__click_params__", []).extend(
        p for p in params if p.name not in ("method", "ci", "tolerance")
    )
    return click.option(
        "--weight-method",
        type=click.Choice(WEIGHT_METHODS),
        default="sqrt_inv_freq",
        show_default=True,
        help="class_presence: class-weight method summed (or maxed) per image.",
    )(f)


@click.command()
@scan_options(formats=FORMATS)
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
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="File for --export (json/csv default to stdout; - for stdout).",
)
@handle_errors
def sampler(**kw: Any) -> None:
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

    if kw["sample"] is not None:
        raise ConfigError(
            f"--sample {kw['sample']}: the sampler needs a weight for every image; drop --sample"
        )
    if kw["export"] == "npy" and kw["output"] in (None, "-"):
        raise ConfigError(
            "--export npy writes FILE.npy and FILE.files.txt (the sources); pass --output FILE.npy"
        )
    method, export, output = kw["method"], kw["export"], kw["output"]
    output = None if output == "-" else output  # -o -: json/csv on stdout, as without -o
    opts = (
        {"threshold": kw["threshold"], "frequency": kw["frequency"]}
        if method == "repeat_factor"
        else {"reduce": kw["reduce"], "weight_method": kw["weight_method"], **weight_kwargs(kw)}
    )
    stats, cache = run_scan(kw)
    data = sampler_report(stats, method, opts, draw=kw["draw"], cache=cache)
    if export and output:
        written = " + ".join(map(str, write_sampling_weights(data, export, output)))
        make_console(stderr=True, quiet=kw["quiet"]).print(
            visible(f"wrote {len(data['weights'])} weights to {written}"), markup=False
        )
    elif export:  # the export takes stdout; the table summary goes to stderr
        write_stdout(export_text(data, export))
        if kw["fmt"] != "table":
            return
    render(
        data,
        kw["fmt"],
        kind="sampler",
        stderr=bool(export and not output),
        quiet=kw["quiet"] and bool(export and not output),
    )
