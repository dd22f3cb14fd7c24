"""Options and helpers shared by the commands: parse flags into library keyword arguments."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from ..errors import ClassWeightsError


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
        click.option("--sample", help="Scan a seeded sample: a count (1000), a fraction (0.1), or 'auto' (compute: until --tolerance holds)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed."),
        click.option("--workers", type=int, help="Parallel workers (default: CPU count)."),
        click.option("--unknown", type=click.Choice(["error", "ignore"]), default="error", show_default=True, help="Labels that are neither a class nor ignored."),
        click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True, help="Unreadable files."),
        click.option("--max-pixels", type=int, default=1 << 30, show_default=True, help="Refuse images larger than this."),
        click.option("--cache-dir", type=click.Path(), help="Cache folder (default: $CLASSWEIGHTS_CACHE or the user cache dir)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the cache."),
        click.option("--verify", is_flag=True, help="Hash file contents into the cache key (catches same-size, same-time rewrites)."),
        click.option("--refresh", is_flag=True, help="Rescan even if the cache has the result."),
        click.option("--scheduler", metavar="ADDRESS", help="Run the scan on a Dask cluster, e.g. tcp://host:8786."),
        click.option("--dask-local", type=int, metavar="N", help="Run the scan on a local Dask cluster of N worker processes."),
        click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar or diagnostics."),
    ]  # fmt: skip
    for opt in reversed(opts):
        f = opt(f)
    return f


def scan_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`classweights.scan` from the shared CLI options."""
    return {
        "num_classes": kw["num_classes"],
        "ignore_index": kw["ignore_index"],
        "remap": kw["remap"],
        "reduce_zero_label": kw["reduce_zero_label"],
        "classes": kw["classes"],
        "palette": kw["palette"],
        "glob": kw["glob_"],
        "multilabel": kw["multilabel"],
        "seed": kw["seed"],
        "workers": kw["workers"],
        "unknown": kw["unknown"],
        "on_error": kw["on_error"],
        "max_pixels": kw["max_pixels"],
    }


def run_scan(kw: dict[str, Any], **extra: Any) -> Any:
    """Scan through the cache; returns the statistics and the cache info (a dict)."""
    from ..cache import cached_scan
    from ..report import progress_bar, progress_enabled

    if kw["quiet"]:
        logging.getLogger("classweights").setLevel(logging.ERROR)
    if kw["sample"] == "auto":
        raise click.UsageError("--sample auto works with `compute` (it needs a weight method)")
    with cluster_client(kw) as client, progress_bar(progress_enabled(kw["quiet"])) as progress:
        stats, info = cached_scan(
            list(kw["paths"]), sample=_sample(kw["sample"]), progress=progress, client=client,
            cache_dir=kw["cache_dir"], use_cache=not kw["no_cache"], verify=kw["verify"],
            refresh=kw["refresh"], **scan_kwargs(kw), **extra,
        )  # fmt: skip
    return stats, info.as_dict()


def cluster_client(kw: dict[str, Any]) -> Any:
    """A context manager yielding a Dask client for --scheduler/--dask-local, else None."""
    if kw.get("scheduler") is None and kw.get("dask_local") is None:
        return contextlib.nullcontext(None)
    from ..distributed import open_client

    return open_client(scheduler=kw.get("scheduler"), local_workers=kw.get("dask_local"))


def emit(data: dict[str, Any], fmt: str, quiet: bool, title: str, extra: tuple[str, ...] = ()) -> None:
    from ..report import make_console, stats_table, to_csv, to_json, totals_line

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


def handle_errors(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
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


def _clip(value: str | None) -> tuple[float | None, float | None] | None:
    if value is None:
        return None
    try:
        lo, hi = (None if p.strip() in ("", "none") else float(p) for p in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected LO,HI such as 0.1,10 (either may be empty)") from None
    return lo, hi


def weight_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options of :func:`classweights.compute_weights`."""
    from ..weights.options import ABSENT_POLICIES, NORMALIZE_MODES, WEIGHT_METHODS

    opts = [
        click.option("--method", type=click.Choice(WEIGHT_METHODS), default="sqrt_inv_freq", show_default=True),
        click.option("--normalize", type=click.Choice(NORMALIZE_MODES), default="mean", show_default=True),
        click.option("--clip", metavar="LO,HI", help="Clip weights after normalising, e.g. 0.1,10."),
        click.option("--renormalize", is_flag=True, help="Normalise again after clipping."),
        click.option("--absent", type=click.Choice(ABSENT_POLICIES), default="zero", show_default=True, help="Weight of classes with no pixels."),
        click.option("--beta", type=float, default=0.9999, show_default=True, help="effective_num: beta."),
        click.option("--count", type=click.Choice(["pixels", "images"]), default="pixels", show_default=True, help="effective_num: count pixels or images."),
        click.option("--median-over", type=click.Choice(["classes", "all"]), default="classes", show_default=True, help="median_freq: 'all' counts the ignore label as a class (SegNet)."),
        click.option("--median-denominator", type=click.Choice(["all", "labelled"]), default="all", show_default=True, help="median_freq: pixels of images containing c."),
        click.option("--enet-c", type=float, default=1.02, show_default=True),
        click.option("--enet-share", type=click.Choice(["labelled", "all"]), default="labelled", show_default=True),
        click.option("--power", type=float, default=0.5, show_default=True, help="power: exponent p."),
        click.option("--ci", type=float, help="Bootstrap confidence level of each weight, e.g. 0.95."),
        click.option("--tolerance", type=float, default=0.05, show_default=True, help="--sample auto: target half-width relative to the weight."),
    ]  # fmt: skip
    for opt in reversed(opts):
        f = opt(f)
    return f


def weight_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`classweights.compute_weights` from the CLI options."""
    return {
        "normalize": kw["normalize"], "clip": _clip(kw["clip"]), "renormalize": kw["renormalize"],
        "absent": kw["absent"], "beta": kw["beta"], "count": kw["count"],
        "median_over": kw["median_over"], "median_denominator": kw["median_denominator"],
        "enet_c": kw["enet_c"], "enet_share": kw["enet_share"], "power": kw["power"],
    }  # fmt: skip


def scan_for_weights(kw: dict[str, Any], method: str, wkw: dict[str, Any]) -> tuple[Any, dict, Any]:
    """Scan (or auto-sample until the weights are known to --tolerance).

    Returns the statistics, the auto-sampling info (empty without it) and the cache info."""
    if kw["sample"] != "auto":
        stats, cache = run_scan(kw)
        return stats, {}, cache
    from ..report import progress_bar, progress_enabled
    from ..scan import count_images, scan
    from ..weights import auto_sample

    paths = list(kw["paths"])
    skw = scan_kwargs(kw)
    population = count_images(paths, glob=skw["glob"], multilabel=skw["multilabel"], classes=skw["classes"])
    with progress_bar(progress_enabled(kw["quiet"]), "sampling") as progress:
        stats, info = auto_sample(
            lambda rows: scan(paths, indices=rows, progress=progress, **skw),
            population, tolerance=kw["tolerance"], ci=kw["ci"] or 0.95, seed=kw["seed"],
            method=method, **wkw,
        )  # fmt: skip
    return stats, info, None


def print_diagnosis(diag: dict[str, Any], quiet: bool) -> None:
    from ..report import diagnosis_lines, make_console

    for line in diagnosis_lines(diag):
        make_console(quiet=quiet).print(line, markup=False)


