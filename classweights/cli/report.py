"""`report`: one self-contained HTML page about a dataset (and, with --compare, its drift)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click

from .app import App, command
from .flags import mask_source, sample_flags, scan_flags


def _command_line(kw: dict[str, Any]) -> str:
    """The command as typed (from ``sys.argv`` when this process is the CLI)."""
    if Path(sys.argv[0]).name in ("classweights", "__main__.py") and "report" in sys.argv:
        return shlex.join(["classweights", *sys.argv[1:]])
    return shlex.join(["classweights", "report", *kw["paths"]])


def writable(path: Path) -> None:
    """Refuse an output the page cannot be written to, before a long scan."""
    from ..errors import ConfigError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot write the report to {path}: {e.strerror or e}; pass -o with a writable path"
        ) from None
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; pass -o FILE.html")


@click.command()
@scan_flags
@sample_flags()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="report.html",
    show_default=True,
    help="The HTML file to write (- for stdout).",
)
@click.option(
    "--compare",
    "compare_path",
    metavar="VAL",
    type=click.Path(),
    help="A second split scanned with the same options: adds the drift view (with --layout, "
    "the name of another split of the dataset, e.g. val).",
)
@click.option(
    "--normalize",
    type=click.Choice(("mean", "sum", "max", "none")),
    default="mean",
    show_default=True,
    help="Normalisation of every method's weights.",
)
@click.option("--title", default="classweights dataset report", help="Page title.")
@command(formats=())
def report(app: App, **kw: Any) -> None:
    """A dataset report as one self-contained HTML file (opens offline, fetches nothing).

    Overview, sortable class table with every method's weights, charts, class
    co-occurrence, odd images, imbalance hints, and with --compare the drift between two
    splits.

    \b
    Examples:
      classweights report examples/masks --num-classes 19 --ignore-index 255 -o report.html
      classweights report train/ --compare val/ --num-classes 19 --ignore-index 255
      classweights report cityscapes/ --layout cityscapes --split train --compare val
    """
    from ..html import report_html
    from ..splits import compare_side

    writable(Path(kw["output"]))
    stats, info = app.statistics(mask_source(kw))
    other, label = None, ""
    if kw["compare_path"]:
        side = compare_side(kw["compare_path"], kw["paths"], layout=kw["layout"], split=kw["split"])
        other, _ = app.statistics(mask_source(kw, paths=side.paths, split=side.split))
        label = side.label
    train = ", ".join(kw["paths"]) + (f" ({kw['split']})" if kw["layout"] and kw["split"] else "")
    path = report_html(
        stats,
        kw["output"],
        compare=other,
        labels=(train, label),
        command=_command_line(kw),
        fingerprint=info.key,
        weight_options={"normalize": kw["normalize"]},
        title=kw["title"],
    )
    if str(path) != "-":  # -o -: the page went to stdout
        app.note(f"wrote {path}")
