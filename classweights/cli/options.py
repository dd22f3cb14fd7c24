"""Options and helpers shared by the commands: parse flags into library keyword arguments."""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from ..text import visible, visible_lines


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
        raise click.BadParameter(
            f"{value!r} is neither a count (1000) nor a fraction (0.1)"
        ) from None


TEXT_FORMATS = ("table", "json", "csv")
FORMATS = ("table", "json", "csv", "markdown")


def scan_options(
    f: Callable[..., Any] | None = None, *, formats: tuple[str, ...] = TEXT_FORMATS
) -> Any:
    """The scan options every command shares (ARCHITECTURE.md).

    ``@scan_options`` gives ``--format table|json|csv``; ``@scan_options(formats=FORMATS)``
    adds ``markdown`` for a command whose renderer handles it."""
    if f is None:
        return functools.partial(scan_options, formats=formats)
    from ..scan.settings import ERROR_POLICIES, UNKNOWN_POLICIES, ScanSettings

    d = ScanSettings.defaults()  # the defaults are the settings' own, never re-typed here
    opts = [
        click.argument("paths", nargs=-1, required=True, type=click.Path()),
        click.option("--num-classes", type=int, help="Number of classes (inferred if omitted)."),
        click.option("--ignore-index", type=int, help="Label value to ignore, e.g. 255."),
        click.option("--remap", help="Remap table: preset (cityscapes) or JSON/YAML file."),
        click.option("--reduce-zero-label", is_flag=True, help="ADE20K: 0 -> ignore, k -> k-1."),
        click.option(
            "--classes",
            help="Class names: preset (cityscapes, camvid, pascal-voc, ade20k, celebamask-hq) "
            "or file.",
        ),
        click.option("--palette", help="Colour table for RGB masks: preset or JSON/YAML file."),
        click.option(
            "--glob",
            "glob_",
            metavar="PATTERN",
            help="Files to take inside folders, e.g. '**/*_labelTrainIds.png'.",
        ),
        click.option(
            "--multilabel", is_flag=True, help="C x H x W 0/1 masks or one binary PNG per class."
        ),
        click.option(
            "--sample",
            help="Scan a seeded sample: a count (1000), a fraction (0.1), or 'auto' (compute: "
            "until --tolerance holds).",
        ),
        click.option(
            "--seed", type=int, default=d["seed"], show_default=True, help="Sampling seed."
        ),
        click.option("--workers", type=int, help="Parallel workers (default: CPU count)."),
        click.option(
            "--unknown",
            type=click.Choice(UNKNOWN_POLICIES),
            default=d["unknown"],
            show_default=True,
            help="Labels that are neither a class nor ignored.",
        ),
        click.option(
            "--on-error",
            type=click.Choice(ERROR_POLICIES),
            default=d["on_error"],
            show_default=True,
            help="Unreadable files.",
        ),
        click.option(
            "--max-pixels",
            type=int,
            default=d["max_pixels"],
            show_default=True,
            help="Refuse images larger than this.",
        ),
        click.option(
            "--objects",
            is_flag=True,
            help="Also count connected components (objects) per class and their sizes.",
        ),
        click.option(
            "--connectivity",
            type=click.Choice(["full", "face"]),
            default="full",
            show_default=True,
            help="--objects neighbours: full (8 in 2-D, 26 in 3-D) or face (4 / 6).",
        ),
        click.option(
            "--cache-dir",
            type=click.Path(),
            help="Cache folder (default: $CLASSWEIGHTS_CACHE or the user cache dir).",
        ),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the cache."),
        click.option(
            "--verify",
            is_flag=True,
            help="Hash file contents into the cache key (catches same-size, same-time rewrites).",
        ),
        click.option("--refresh", is_flag=True, help="Rescan even if the cache has the result."),
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            help="Run the scan on a Dask cluster, e.g. tcp://host:8786.",
        ),
        click.option(
            "--dask-local",
            type=int,
            metavar="N",
            help="Run the scan on a local Dask cluster of N worker processes.",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(formats),
            default="table",
            show_default=True,
            help="Output on stdout"
            + (
                " (markdown: a GitHub table for READMEs and pull requests)."
                if "markdown" in formats
                else "."
            ),
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar or diagnostics."),
        click.option(
            "-v", "--verbose", count=True, help="More diagnostics on stderr (-vv for debug)."
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return layout_options(f)


def layout_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--layout / --split and --split-file / --root / --suffix (classweights.layouts)."""
    from ..layouts import LAYOUTS

    opts = [
        click.option(
            "--layout",
            type=click.Choice(list(LAYOUTS)),
            help="Dataset layout: PATH is the dataset's folder; sets glob, split, remap, "
            "ignore index and class names (explicit flags win).",
        ),
        click.option(
            "--split",
            help="The layout's split: train, val (test, trainval where the dataset has them).",
        ),
        click.option(
            "--split-file",
            type=click.Path(dir_okay=False),
            help="Text file of ids (mmseg ann_file): masks are ROOT/ID+SUFFIX.",
        ),
        click.option(
            "--root",
            type=click.Path(file_okay=False),
            help="--split-file: folder of the masks (default: PATH).",
        ),
        click.option(
            "--suffix",
            help="--split-file: appended to each id (default .png; mmseg seg_map_suffix).",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


#: CLI parameter names that differ from the `ScanSettings` field they set
_CLI_NAME = {"glob": "glob_"}
#: settings the shared options do not set directly (--sample is parsed: a count, a fraction
#: or 'auto'; indices come from the auto-sampler)
_NOT_FROM_CLI = ("sample", "indices", "parallel")
#: settings made from more than one flag
_FROM_CLI = {
    "objects": lambda kw: (kw.get("connectivity") or "full") if kw.get("objects") else False,
}


def scan_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`classweights.scan` from the shared CLI options (one per
    `ScanSettings` field, never re-listed here)."""
    from ..layouts import SPLIT_KEYS
    from ..scan.settings import ScanSettings

    fields = [f for f in ScanSettings.fields() if f not in (*_NOT_FROM_CLI, *SPLIT_KEYS)]
    out = {f: kw[_CLI_NAME.get(f, f)] for f in fields if f not in _FROM_CLI}
    return out | {f: parse(kw) for f, parse in _FROM_CLI.items()} | layout_kwargs(kw)


def layout_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """The layout keywords of :func:`classweights.scan`; the line saying what a layout set is
    shown on stderr unless --quiet."""
    from ..layouts import SPLIT_KEYS

    out = {k: kw.get(k) for k in SPLIT_KEYS}
    if any(v is not None for v in out.values()) and not kw.get("quiet"):
        logging.getLogger("classweights.layouts").setLevel(logging.INFO)
    return out


def cli_settings(kw: dict[str, Any], **extra: Any) -> Any:
    """The command's `ScanSettings`, built once (a bad value fails before any file is read)."""
    from ..scan.settings import ScanSettings

    if kw["sample"] == "auto":
        raise click.UsageError("--sample auto works with `compute` (it needs a weight method)")
    return ScanSettings.from_kwargs(sample=_sample(kw["sample"]), **scan_kwargs(kw), **extra)


def run_scan(kw: dict[str, Any], **extra: Any) -> Any:
    """Scan through the cache; returns the statistics and the cache info (a dict)."""
    from ..cache import cached_scan
    from ..report import progress_bar, progress_enabled

    set_verbosity(kw)
    settings = cli_settings(kw, **extra)
    with cluster_client(kw) as client, progress_bar(progress_enabled(kw["quiet"])) as progress:
        stats, info = cached_scan(
            list(kw["paths"]),
            settings=settings,
            progress=progress,
            client=client,
            cache_dir=kw["cache_dir"],
            use_cache=not kw["no_cache"],
            verify=kw["verify"],
            refresh=kw["refresh"],
        )
    return stats, info.as_dict()


def set_verbosity(kw: dict[str, Any]) -> None:
    """--quiet silences warnings; -v / -vv (on the command or the group) show info / debug."""
    log = logging.getLogger("classweights")
    if kw.get("quiet"):
        log.setLevel(logging.ERROR)
    elif kw.get("verbose"):
        log.setLevel(logging.WARNING - 10 * min(kw["verbose"], 2))
        if not logging.getLogger().handlers:
            log_to_stderr()


class VisibleFormatter(logging.Formatter):
    """Log lines with the control characters of any data in them shown, never acted on."""

    def format(self, record: logging.LogRecord) -> str:
        return visible_lines(super().format(record))


def log_to_stderr(level: int | None = None) -> None:
    """Our own log records on stderr with :class:`VisibleFormatter`.

    Only the ``classweights`` logger gets the handler: records of the libraries underneath
    (Pillow's TIFF parser, zarr's codec registry, ...) are theirs to show, not a CLI line.
    Called again (one process running several commands), it replaces its earlier handler.
    """
    log = logging.getLogger("classweights")
    for old in [h for h in log.handlers if getattr(h, "classweights_cli", False)]:
        log.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.classweights_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(VisibleFormatter("%(levelname)s: %(message)s"))
    log.addHandler(handler)
    if level is not None:
        log.setLevel(level)


def cluster_client(kw: dict[str, Any]) -> Any:
    """A context manager yielding a Dask client for --scheduler/--dask-local, else None."""
    if kw.get("scheduler") is None and kw.get("dask_local") is None:
        return contextlib.nullcontext(None)
    from ..distributed import open_client

    return open_client(scheduler=kw.get("scheduler"), local_workers=kw.get("dask_local"))


def emit(
    data: dict[str, Any], fmt: str, quiet: bool, title: str, extra: tuple[str, ...] = ()
) -> None:
    """The statistics (and weights) on stdout in ``fmt``; skipped files on stderr."""
    from ..report.render import render

    render(data, fmt, kind="stats", title=title, extra=extra)
    if fmt in ("table", "markdown"):
        for _path, err in [(s["path"], s["error"]) for s in data["dataset"]["skipped"]][:10]:
            note(f"skipped: {err}", quiet)  # one line each, control characters shown


def note(message: str, quiet: bool) -> None:
    """One diagnostic line on stderr (never stdout), silenced by --quiet."""
    if not quiet:
        click.echo(visible(message), err=True)


# ---- pictures and exports ----------------------------------------------------------------
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
    data: dict[str, Any], kw: dict[str, Any], title: str, methods: dict[str, Any] | None = None
) -> None:
    if kw.get("plot"):
        from ..plot import plot_classes

        path = plot_classes(data, kw["plot"], methods=methods, title=title)
        note(f"wrote {path}", kw["quiet"])


def export_options(f: Callable[..., Any]) -> Callable[..., Any]:
    from ..export import EXPORT_FORMATS

    f = click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False),
        help="Write the weights to FILE (format from --export, else from the suffix: .pth "
        "record, .npy, .json, .yaml); - for stdout.",
    )(f)
    return click.option(
        "--export",
        type=click.Choice(EXPORT_FORMATS),
        help="pth/npy/json/yaml: weight file (pth, npy need -o); pytorch/mmseg/monai/keras: a "
        "snippet to paste, printed on stdout instead of the table (or written to -o).",
    )(f)


def check_export(kw: dict[str, Any]) -> str | None:
    """The export format; refuse impossible combinations before scanning."""
    from ..export import FILE_ONLY, format_for

    fmt = format_for(kw["output"], kw["export"])
    if fmt in FILE_ONLY and not kw["output"]:
        raise click.UsageError(f"--export {fmt} writes a binary file; pass --output FILE.{fmt}")
    stdout = not kw["output"] or kw["output"] == "-"
    if fmt in FILE_ONLY and stdout and sys.stdout is not None and sys.stdout.isatty():
        raise click.UsageError(f"-o - writes binary {fmt} data; redirect stdout (> FILE.{fmt})")
    if fmt and stdout and kw["fmt"] != "table":
        raise click.UsageError(
            f"--export {fmt} prints on stdout, and so does --format {kw['fmt']}; "
            f"pass --output FILE for the export"
        )
    return fmt


def deliver(
    fmt: str | None,
    kw: dict[str, Any],
    stats: Any,
    w: Any,
    method: str,
    wkw: dict[str, Any],
    key: str | None,
) -> bool:
    """Write or print the export; True when it took stdout (then nothing else goes there)."""
    from ..export import export_text, write_export

    if fmt is None:
        return False
    meta = {"stats": stats, "method": method, "options": wkw, "fingerprint": key}
    if kw["output"]:
        path = write_export(fmt, kw["output"], w, **meta)
        if str(path) == "-":  # -o -: the export took stdout
            return True
        note(f"wrote {fmt} weights to {path}", kw["quiet"])
        return False
    from ..atomic import write_stdout

    write_stdout(export_text(fmt, w, **meta))
    return True


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


def weight_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options of :func:`classweights.compute_weights`."""
    from ..weights import MULTILABEL_METHODS
    from ..weights import options as o

    d = o.WeightOptions.defaults()  # the defaults are the options' own, never re-typed here
    opts = [
        click.option(
            "--method",
            type=click.Choice(o.WEIGHT_METHODS + o.OBJECT_METHODS + MULTILABEL_METHODS),
            default=o.WeightOptions.method,
            show_default=True,
            help="pos_weight / focal_alpha: per-class vectors of sigmoid losses "
            "(multi-label), exported as BCEWithLogitsLoss(pos_weight=...) shaped (C, 1, 1); "
            "inv_object_size needs --objects.",
        ),
        click.option(
            "--values",
            metavar="W1,W2,...|FILE",
            help="manual: the weights, comma-separated (one per class) or a JSON/YAML file (a "
            "list, or {class id or name: weight}).",
        ),
        click.option(
            "--normalize",
            type=click.Choice(o.NORMALIZE_MODES),
            default=d["normalize"],
            show_default=True,
        ),
        click.option(
            "--clip", metavar="LO,HI", help="Clip weights after normalising, e.g. 0.1,10."
        ),
        click.option("--renormalize", is_flag=True, help="Normalise again after clipping."),
        click.option(
            "--absent",
            type=click.Choice(o.ABSENT_POLICIES),
            default=d["absent"],
            show_default=True,
            help="Weight of classes with no pixels.",
        ),
        click.option(
            "--beta",
            default=d["beta"],
            show_default=True,
            help="effective_num: beta in [0, 1), or auto = 1 - 1/(largest class count).",
        ),
        click.option(
            "--count",
            type=click.Choice(o.COUNT_MODES),
            default=d["count"],
            show_default=True,
            help="effective_num: count pixels or images.",
        ),
        click.option(
            "--median-over",
            type=click.Choice(o.MEDIAN_OVER),
            default=d["median_over"],
            show_default=True,
            help="median_freq: 'all' counts the ignore label as a class (SegNet).",
        ),
        click.option(
            "--median-denominator",
            type=click.Choice(o.MEDIAN_DENOMINATORS),
            default=d["median_denominator"],
            show_default=True,
            help="median_freq: pixels of images containing c.",
        ),
        click.option("--enet-c", type=float, default=d["enet_c"], show_default=True),
        click.option(
            "--enet-share",
            type=click.Choice(o.ENET_SHARES),
            default=d["enet_share"],
            show_default=True,
        ),
        click.option(
            "--power", type=float, default=d["power"], show_default=True, help="power: exponent p."
        ),
        click.option(
            "--ci", type=float, help="Bootstrap confidence level of each weight, e.g. 0.95."
        ),
        click.option(
            "--tolerance",
            type=float,
            default=0.05,
            show_default=True,
            help="--sample auto: target half-width relative to the weight.",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def weight_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`classweights.compute_weights` from the CLI options (one
    per `WeightOptions` field the command has), validated here, before any file is read."""
    from ..weights.options import WEIGHT_METHODS, WEIGHT_OPTIONS, check_method_options

    out = {k: kw[k] for k in WEIGHT_OPTIONS if k in kw and k not in ("beta", "manual")}
    if "clip" in out:
        out["clip"] = _clip(out["clip"])
    out |= _manual_values(kw)  # beta (a number or "auto") and manual (--values)
    method = kw.get("method")
    check_method_options(method if method in WEIGHT_METHODS else "sqrt_inv_freq", out)
    return out


def _manual_values(kw: dict[str, Any]) -> dict[str, Any]:
    """``beta`` as a number (or "auto") and ``manual`` from --values, for compute_weights."""
    from ..weights.options import parse_values

    out: dict[str, Any] = {"beta": _beta(kw.get("beta", "auto"))}
    if kw.get("values") is not None:
        out["manual"] = parse_values(kw["values"])
    elif kw.get("method") == "manual":
        raise click.UsageError("--method manual needs --values W1,W2,... or --values FILE")
    return out


def _beta(value: Any) -> Any:
    if value is None or value == "auto":
        return "auto"
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"--beta {value!r}: expected auto or a number in [0, 1)") from None


def scan_for_weights(kw: dict[str, Any], method: str, wkw: dict[str, Any]) -> tuple[Any, dict, Any]:
    """Scan (or auto-sample until the weights are known to --tolerance).

    Returns the statistics, the auto-sampling info (empty without it) and the cache info."""
    if kw["sample"] != "auto":
        stats, cache = run_scan(kw)
        return stats, {}, cache
    from ..report import progress_bar, progress_enabled
    from ..scan import ScanSettings, count_images, scan
    from ..weights import auto_sample

    paths, settings = ScanSettings.from_kwargs(**scan_kwargs(kw)).locate(list(kw["paths"]))
    population = count_images(paths, settings=settings)
    with progress_bar(progress_enabled(kw["quiet"]), "sampling") as progress:
        stats, info = auto_sample(
            lambda rows: scan(paths, settings=settings, indices=rows, progress=progress),
            population,
            tolerance=kw["tolerance"],
            ci=kw["ci"] or 0.95,
            seed=kw["seed"],
            method=method,
            **wkw,
        )
    return stats, info, None


def print_diagnosis(diag: dict[str, Any], quiet: bool) -> None:
    from ..report import diagnosis_lines, make_console

    for line in diagnosis_lines(diag):
        make_console(quiet=quiet).print(visible(line), markup=False)
