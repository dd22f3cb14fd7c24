"""The ``classweights`` command line: each command parses, calls the library, renders.

Data goes to stdout; progress and diagnostics to stderr. Exit codes: 0 success, 1 failure
during work, 2 bad usage or bad input. ``CLASSWEIGHTS_DEBUG=1`` shows tracebacks.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .errors import ClassWeightsError


def _sample(value: str | None) -> int | float | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a count (1000) nor a fraction (0.1)") from None


def scan_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The scan options every command shares (ARCHITECTURE.md)."""
    opts = [
        click.argument("paths", nargs=-1, required=True, type=click.Path()),
        click.option("--num-classes", type=int, help="Number of classes (inferred if omitted)."),
        click.option("--ignore-index", type=int, help="Label value to ignore, e.g. 255."),
        click.option("--remap", help="Remap table: preset (cityscapes) or JSON/YAML file."),
        click.option("--reduce-zero-label", is_flag=True, help="ADE20K: 0 -> ignore, k -> k-1."),
        click.option("--classes", help="Class names: preset (cityscapes, camvid, pascal-voc, ade20k, celebamask-hq) or file."),
        click.option("--palette", help="Colour table for RGB masks: preset or JSON/YAML file."),
        click.option("--glob", "glob_", metavar="PATTERN", help="Files to take inside folders, e.g. '**/*_labelTrainIds.png'."),
        click.option("--multilabel", is_flag=True, help="C x H x W 0/1 masks or one binary PNG per class."),
        click.option("--sample", help="Scan a seeded sample: a count (1000) or a fraction (0.1)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed."),
        click.option("--workers", type=int, help="Parallel workers (default: CPU count)."),
        click.option("--unknown", type=click.Choice(["error", "ignore"]), default="error", show_default=True, help="Labels that are neither a class nor ignored."),
        click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True, help="Unreadable files."),
        click.option("--max-pixels", type=int, default=1 << 30, show_default=True, help="Refuse images larger than this."),
        click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar or diagnostics."),
    ]  # fmt: skip
    for opt in reversed(opts):
        f = opt(f)
    return f


def _scan(kw: dict[str, Any]) -> Any:
    from .report import progress_bar, progress_enabled
    from .scan import scan

    with progress_bar(progress_enabled(kw["quiet"])) as progress:
        return scan(
            list(kw["paths"]),
            num_classes=kw["num_classes"],
            ignore_index=kw["ignore_index"],
            remap=kw["remap"],
            reduce_zero_label=kw["reduce_zero_label"],
            classes=kw["classes"],
            palette=kw["palette"],
            glob=kw["glob_"],
            multilabel=kw["multilabel"],
            sample=_sample(kw["sample"]),
            seed=kw["seed"],
            workers=kw["workers"],
            unknown=kw["unknown"],
            on_error=kw["on_error"],
            max_pixels=kw["max_pixels"],
            progress=progress,
        )


def _emit(data: dict[str, Any], fmt: str, quiet: bool, title: str, extra: tuple[str, ...] = ()) -> None:
    from .report import make_console, stats_table, to_csv, to_json, totals_line

    if fmt == "json":
        click.echo(to_json(data))
    elif fmt == "csv":
        click.echo(to_csv(data), nl=False)
    else:
        out = make_console()
        out.print(stats_table(data, title=title, extra=extra))
        out.print(totals_line(data))
        for path, err in [(s["path"], s["error"]) for s in data["dataset"]["skipped"]][:10]:
            make_console(stderr=True, quiet=quiet).print(f"skipped: {err}", markup=False)


def _handle_errors(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except ClassWeightsError as e:
            if os.environ.get("CLASSWEIGHTS_DEBUG"):
                raise
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as e:
            if os.environ.get("CLASSWEIGHTS_DEBUG"):
                raise
            click.echo(
                f"error: {type(e).__name__}: {e} (set CLASSWEIGHTS_DEBUG=1 for the traceback)",
                err=True,
            )
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="classweights")
@click.option("-v", "--verbose", count=True, help="More diagnostics on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """Exact class statistics, class weights and losses for segmentation datasets."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr)


@cli.command()
@scan_options
@_handle_errors
def stats(**kw: Any) -> None:
    """Per-class pixels, share, and images containing each class.

    \b
    Examples:
      classweights stats examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes
      classweights stats gtFine/train --glob '**/*_labelIds.png' --remap cityscapes --ignore-index 255
      classweights stats masks.zarr --sample 0.1 --format json
    """
    from .report import stats_dict

    if kw["quiet"]:
        logging.getLogger("classweights").setLevel(logging.ERROR)
    s = _scan(kw)
    _emit(stats_dict(s), kw["fmt"], kw["quiet"], title="class statistics")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="classweights")


if __name__ == "__main__":  # pragma: no cover
    main()
