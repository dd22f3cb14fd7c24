"""`sampler`: per-image sampling weights (repeat factors or class presence) from one scan."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from ..atomic import atomic_write
from ..errors import ConfigError
from ..rebalance import DRAW_MODES, FREQUENCIES, REDUCE_MODES, SAMPLING_METHODS
from ..text import csv_cell, visible
from .errors import handle_errors
from .options import FORMATS, run_scan, scan_options, weight_kwargs, weight_options

EXPORTS = ("npy", "json", "csv")


def class_weight_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The class-weight options of ``compute``, with ``--method`` renamed ``--weight-method``."""
    from ..weights.options import WEIGHT_METHODS

    params = getattr(weight_options(lambda: None), "__click_params__", [])
    f.__dict__.setdefault("__click_params__", []).extend(
        p for p in params if p.name not in ("method", "ci", "tolerance")
    )
    return click.option(
        "--weight-method", type=click.Choice(WEIGHT_METHODS), default="sqrt_inv_freq",
        show_default=True, help="class_presence: class-weight method summed (or maxed) per image.",
    )(f)  # fmt: skip


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
    help="File for --export (json/csv default to stdout).",
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
    from ..rebalance import exposure_summary, sampling_weights

    if kw["sample"] is not None:
        raise ConfigError(
            f"--sample {kw['sample']}: the sampler needs a weight for every image; drop --sample"
        )
    if kw["export"] == "npy" and not kw["output"]:
        raise ConfigError("--export npy writes a binary file; pass --output FILE.npy")
    method = kw["method"]
    opts = (
        {"threshold": kw["threshold"], "frequency": kw["frequency"]} if method == "repeat_factor"
        else {"reduce": kw["reduce"], "weight_method": kw["weight_method"], **weight_kwargs(kw)}
    )  # fmt: skip
    stats, cache = run_scan(kw)
    sw = sampling_weights(stats, method, **opts)
    data = sampler_dict(
        stats, sw, method, opts, exposure_summary(stats, sw, draw=kw["draw"]), cache
    )
    render(data, sw, kw)


# ---- rendering -------------------------------------------------------------------------------
def sampler_dict(
    stats: Any,
    sw: np.ndarray,
    method: str,
    opts: dict[str, Any],
    summary: dict[str, Any],
    cache: Any = None,
) -> dict[str, Any]:
    """The JSON object of ``sampler``: options, summary, ``weights`` aligned with ``sources``."""
    return {
        "method": method,
        "options": opts,
        "num_classes": stats.num_classes,
        "ignore_index": stats.ignore_index,
        "paths": stats.settings.get("paths", []),
        "summary": summary,
        "sources": list(stats.sources),
        "weights": [float(v) for v in sw],
        "cache": cache,
    }


def weights_csv(data: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["index", "source", "weight"])
    w.writerows(
        (i, s, repr(v))
        for i, (s, v) in enumerate(zip(data["sources"], data["weights"], strict=True))
    )
    return buf.getvalue()


def summary_csv(data: dict[str, Any]) -> str:
    rows = data["summary"]["classes"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["id"], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def write_export(data: dict[str, Any], fmt: str, output: str) -> list[Path]:
    """Write the export atomically; npy also writes the file list next to it."""
    path = Path(output)
    if fmt == "npy":
        arr = np.asarray(data["weights"], dtype=np.float64)
        files = path.with_suffix(".files.txt")
        atomic_write(path, lambda f: np.save(f, arr), mode="wb")
        atomic_write(files, lambda f: f.write("".join(s + "\n" for s in data["sources"])), mode="w")
        return [path, files]
    text = json.dumps(data, indent=2) + "\n" if fmt == "json" else weights_csv(data)
    atomic_write(path, lambda f: f.write(text), mode="w")
    return [path]


SUMMARY_COLUMNS = ("id", "class", "before", "after", "gain", "share before", "share after")


def summary_rows(data: dict[str, Any]) -> list[list[str]]:
    from ..report import pct

    rows = []
    for c in data["summary"]["classes"]:
        gain = f"{c['after'] / c['before']:.2f}" if c["before"] else "-"
        rows.append([str(c["id"]), c["name"], f"{c['before']:,}", f"{c['after']:,.1f}", gain,
                     pct(c["before_share"]), pct(c["after_share"])])  # fmt: skip
    return rows


def summary_table(data: dict[str, Any]) -> Any:
    from rich.table import Table

    from ..report import cell

    title = f"{data['method']}: images containing each class, per epoch"
    table = Table(title=title, title_justify="left", pad_edge=False, box=None)
    for name in SUMMARY_COLUMNS:
        table.add_column(name, justify="left" if name == "class" else "right")
    for c, cells in zip(data["summary"]["classes"], summary_rows(data)):
        table.add_row(*map(cell, cells), style=None if c["before"] else "dim")
    return table


def summary_line(data: dict[str, Any]) -> str:
    s, w = data["summary"], data["weights"]
    how = (
        "weighted draws with replacement"
        if s["draw"] == "weighted"
        else "repeat factors, stochastic rounding"
    )
    parts = [
        f"{s['images']:,} images",
        f"epoch ≈ {s['epoch_length']:,.1f} ({how})",
        f"≈ {s['distinct_images']:,.1f} distinct",
    ]
    if w:
        parts.append(f"weights {min(w):.4g} to {max(w):.4g}")
    return " · ".join(parts)


def render(data: dict[str, Any], sw: np.ndarray, kw: dict[str, Any]) -> None:
    """Export to --output (or stdout), and the summary in --format (stderr if stdout is taken)."""
    from ..report import make_console

    export, output, fmt, quiet = kw["export"], kw["output"], kw["fmt"], kw["quiet"]
    to_stdout = export is not None and output is None
    if export and output:
        written = write_export(data, export, output)
        make_console(stderr=True, quiet=quiet).print(
            visible(f"wrote {len(sw)} weights to {' + '.join(map(str, written))}"), markup=False
        )
    elif to_stdout:
        click.echo(
            json.dumps(data, indent=2) if export == "json" else weights_csv(data),
            nl=export == "json",
        )
    if to_stdout and fmt != "table":
        return
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    elif fmt == "csv":
        click.echo(summary_csv(data), nl=False)
    elif fmt == "markdown":
        from ..report import markdown_table

        right = [name != "class" for name in SUMMARY_COLUMNS]
        click.echo(markdown_table(SUMMARY_COLUMNS, summary_rows(data), right))
        click.echo("\n" + summary_line(data))
    else:
        out = make_console(stderr=to_stdout, quiet=quiet and to_stdout)
        out.print(summary_table(data))
        out.print(summary_line(data), markup=False)
