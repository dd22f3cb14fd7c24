"""Pictures and exports: ``--plot`` and ``--export``/``-o``, checked before any scan."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from .app import App

plot_option = click.option(
    "--plot",
    metavar="FILE.png|svg",
    type=click.Path(dir_okay=False),
    help="Also draw the classes (share on a log axis, weights, images) to a PNG/SVG/PDF "
    "(needs classweights[plot]).",
)


def check_plot(kw: dict[str, Any]) -> None:
    """Refuse a bad --plot name, or a missing matplotlib, before scanning."""
    if kw.get("plot"):
        from ..errors import require
        from ..plot import plot_format

        plot_format(kw["plot"])
        require("matplotlib", "plot", "--plot (charts)")  # fail before a long scan, not after


def draw(
    app: App,
    data: dict[str, Any],
    kw: dict[str, Any],
    title: str,
    methods: dict[str, Any] | None = None,
) -> None:
    if kw.get("plot"):
        from ..plot import plot_classes

        path = plot_classes(data, kw["plot"], methods=methods, title=title)
        app.note(f"wrote {path}")


def export_options(f: Callable[..., Any]) -> Callable[..., Any]:
    from ..export import EXPORT_FORMATS

    f = click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False),
        help="Write the weights to FILE (format from --export, else from the suffix: .pth "
        "record, .npy, .json, .yaml); - for stdout (with --export).",
    )(f)
    return click.option(
        "--export",
        type=click.Choice(EXPORT_FORMATS),
        help="pth/npy/json/yaml: weight file (pth, npy need -o); pytorch/mmseg/monai/keras: a "
        "snippet to paste, printed on stdout instead of the table (or written to -o).",
    )(f)


def check_export(app: App, kw: dict[str, Any]) -> str | None:
    """The export format; refuse impossible combinations before scanning."""
    from ..export import FILE_ONLY, format_for

    fmt = format_for(kw["output"], kw["export"])
    if fmt in FILE_ONLY and not kw["output"]:
        raise click.UsageError(f"--export {fmt} writes a binary file; pass --output FILE.{fmt}")
    stdout = not kw["output"] or kw["output"] == "-"
    if fmt in FILE_ONLY and stdout and sys.stdout is not None and sys.stdout.isatty():
        raise click.UsageError(f"-o - writes binary {fmt} data; redirect stdout (> FILE.{fmt})")
    if fmt and stdout and app.fmt != "table":
        raise click.UsageError(
            f"--export {fmt} prints on stdout, and so does --format {app.fmt}; "
            f"pass --output FILE for the export"
        )
    return fmt


def deliver(app: App, fmt: str | None, kw: dict[str, Any], stats: Any, record: Any) -> bool:
    """Write or print the export; True when it took stdout (then nothing else goes there)."""
    from ..export import export_text, write_export

    if fmt is None:
        return False
    meta = {
        "stats": stats,
        "method": record.method,
        "options": record.options,
        "fingerprint": record.dataset.get("fingerprint"),
    }
    if kw["output"]:
        path = write_export(fmt, kw["output"], record.weights, **meta)
        if str(path) == "-":  # -o -: the export took stdout
            return True
        app.note(f"wrote {fmt} weights to {path}")
        return False
    from ..atomic import write_stdout

    write_stdout(export_text(fmt, record.weights, **meta))
    return True
