"""Rendering results: rich tables, JSON, CSV and Markdown. Computes nothing itself.

Only the CLI imports this module (it imports rich at module level). The JSON, CSV and
Markdown renderers are plain string functions that never touch rich.

Text from the dataset (class names, paths, cache keys, stored record text) is data, never
markup: rich cells, titles and captions holding it are ``Text`` objects made by :func:`cell`
(never parsed for ``[tags]``, control characters shown by :func:`classweights.text.visible`);
Markdown cells go through :func:`classweights.text.markdown_escape`, CSV fields through
:func:`classweights.text.csv_cell`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .stats import ClassStats
from .text import csv_cell, markdown_escape, visible

FORMATS = ("table", "json", "csv", "markdown")

_COLOR: bool | None = None  # --color / --no-color; None: rich decides (NO_COLOR, isatty)


def set_color(color: bool | None) -> None:
    """Force colours on (``True``) or off (``False``), or let the terminal decide (``None``)."""
    global _COLOR
    _COLOR = color


def stats_dict(
    stats: ClassStats,
    *,
    weights: Sequence[float] | None = None,
    method: str | None = None,
    fingerprint: str | None = None,
    cache: dict[str, Any] | None = None,
    extra_columns: dict[str, Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """The JSON object of ``stats``/``compute`` (shape documented in ARCHITECTURE.md)."""
    share = stats.share
    pixels, images, image_pixels = stats.pixels, stats.images, stats.image_pixels
    classes = []
    for c, name in enumerate(stats.names):
        row: dict[str, Any] = {
            "id": c,
            "name": name,
            "pixels": int(pixels[c]),
            "share": float(share[c]),
            "images": int(images[c]),
            "image_pixels": int(image_pixels[c]),
            "weight": None if weights is None else float(weights[c]),
        }
        if stats.multilabel:
            row["negatives"] = int(stats.negatives[c])
        for key, values in (extra_columns or {}).items():
            row[key] = values[c]
        classes.append(row)
    return {
        "num_classes": stats.num_classes,
        "ignore_index": stats.ignore_index,
        "method": method,
        "dataset": {
            "paths": stats.settings.get("paths", []),
            "images": stats.num_images,
            "pixels": stats.total_pixels,
            "ignored_pixels": stats.ignored_pixels,
            "unknown_pixels": stats.unknown_pixels,
            "unknown_values": stats.unknown_values,
            "sampled": stats.sampled,
            "sample": stats.sample,
            "skipped": [{"path": p, "error": e} for p, e in stats.skipped],
            "multilabel": stats.multilabel,
            "fingerprint": fingerprint,
        },
        "classes": classes,
        "cache": cache,
    }


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2)


def to_csv(data: dict[str, Any]) -> str:
    rows = data["classes"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def cell(value: Any, style: str = "") -> Text:
    """A rich cell (or title) holding ``value`` as plain text: never parsed as markup, control
    characters shown.

    >>> cell("[bold]car[/]").plain, cell("a\\x1b[2J").plain
    ('[bold]car[/]', 'a\\\\x1b[2J')
    """
    return Text(visible(value), style=style)


def pct(share: float) -> str:
    """A share as a percentage that never shows a present class as 0.00%.

    >>> pct(0.2814), pct(3.2e-05), pct(0.0)
    ('28.14%', '0.0032%', '0.00%')
    """
    if 0 < share < 1e-4:
        return f"{100 * share:.2g}%"
    return f"{100 * share:.2f}%"


def _bar(share: float, width: int = 12) -> Text:
    if share <= 0:
        return Text("")
    eighths = max(1, round(share * width * 8))
    full, rest = divmod(eighths, 8)
    return Text("█" * full + ("▏▎▍▌▋▊▉"[rest - 1] if rest else ""), style="cyan")


def stats_table(
    data: dict[str, Any], *, title: str | None = None, extra: Sequence[str] = ()
) -> Table:
    """A rich table of per-class pixels, share, images containing the class, and weights."""
    ds = data["dataset"]
    has_weight = any(r["weight"] is not None for r in data["classes"])
    pos = "positives" if ds.get("multilabel") else "pixels"
    table = Table(title=None if title is None else cell(title), title_justify="left",
                  show_footer=True, pad_edge=False, box=None)  # fmt: skip
    table.add_column("id", justify="right", footer="")
    table.add_column("class", footer="total")
    table.add_column(pos, justify="right", footer=f"{sum(r['pixels'] for r in data['classes']):,}")
    table.add_column("share", justify="right", footer="100.00%")
    table.add_column("images", justify="right", footer=f"{ds['images']:,}")
    table.add_column("", footer="")
    for key in extra:
        table.add_column(key, justify="right", footer="")
    if has_weight:
        table.add_column("weight", justify="right", footer=cell(data["method"] or ""))
    for r in data["classes"]:
        cells = [
            str(r["id"]),
            cell(r["name"]),
            f"{r['pixels']:,}",
            pct(r["share"]),
            f"{r['images']:,}",
            _bar(r["share"]),
        ]
        cells += [cell(r.get(k, "")) for k in extra]
        if has_weight:
            cells.append(f"{r['weight']:.4f}")
        style = "dim" if r["pixels"] == 0 else None
        table.add_row(*cells, style=style)
    return table


def totals_line(data: dict[str, Any]) -> str:
    ds = data["dataset"]
    parts = [
        f"{ds['images']:,} images",
        f"{ds['pixels']:,} pixels",
        f"{ds['ignored_pixels']:,} ignored",
        f"{ds['unknown_pixels']:,} unknown",
    ]
    if ds["unknown_values"]:
        shown = ", ".join(f"{k}: {v:,}" for k, v in list(ds["unknown_values"].items())[:6])
        parts[-1] += f" ({shown})"
    if ds["sampled"]:
        s = ds["sample"] or {}
        parts.append(f"SAMPLED {s.get('images')} of {s.get('population')} (seed {s.get('seed')})")
    if ds["skipped"]:
        parts.append(f"{len(ds['skipped'])} skipped")
    return " · ".join(parts)


def make_console(stderr: bool = False, quiet: bool = False) -> Console:
    """A console that styles only a terminal: no ANSI codes in a pipe, none under ``NO_COLOR``
    (or ``--no-color``), colours forced by ``--color``."""
    kw: dict[str, Any] = {}
    if _COLOR is False or (_COLOR is None and os.environ.get("NO_COLOR", "") != ""):
        kw["color_system"] = None
    elif _COLOR is True:
        kw["force_terminal"] = True
    return Console(stderr=stderr, quiet=quiet, highlight=False, soft_wrap=False, **kw)


@contextmanager
def progress_bar(
    enabled: bool, description: str = "scanning"
) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr (images/s, ETA); yields the callback, or None if disabled."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    class _Rate(TextColumn):
        def render(self, task):  # type: ignore[override]
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} img/s" if speed else "")

    from rich.markup import escape

    description = escape(visible(description))  # the column below formats it as markup
    console = make_console(stderr=True)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(""),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as prog:
        task = prog.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total or None)

        yield update


def progress_enabled(quiet: bool) -> bool:
    """A progress bar only for a person watching: stderr is a terminal, not ``--quiet``, not
    in CI (``$CI`` set), not a dumb terminal."""
    if quiet or os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        return False
    return sys.stderr.isatty()


def format_array(values: np.ndarray) -> str:
    return ", ".join(f"{v:.4f}" for v in values)


def diagnosis_lines(diag: dict[str, Any]) -> list[str]:
    """The short imbalance summary printed under the tables."""
    lines = []
    if "max_min_ratio" in diag:
        parts = [
            f"imbalance: max/min pixels {diag['max_min_ratio']:,.0f}x",
            f"normalised entropy {diag['normalized_entropy']:.2f}",
        ]
        if diag.get("rare_classes"):
            parts.append(f"rare (<1% of pixels): {', '.join(map(str, diag['rare_classes']))}")
        if diag.get("rare_in_images"):
            parts.append(f"in <1% of images: {', '.join(map(str, diag['rare_in_images']))}")
        lines.append(" · ".join(parts))
    lines += [f"hint: {h}" for h in diag.get("hints", [])]
    return lines


def compare_table(stats: ClassStats, table: dict[str, list[float]], normalize: str) -> Table:
    """Every method's weights side by side; the header names the normalisation."""
    norm = {"mean": "mean 1", "sum": "sum C", "max": "max 1", "none": "raw"}[normalize]
    t = Table(
        title=f"class weights by method (normalised: {norm})",
        title_justify="left", box=None, pad_edge=False, collapse_padding=True,
    )  # fmt: skip
    t.add_column("id", justify="right")
    t.add_column("class", no_wrap=True, max_width=14)
    t.add_column("share", justify="right")
    for m in table:
        t.add_column(SHORT_NAMES.get(m, m), justify="right", no_wrap=True)
    share = stats.share
    for c, name in enumerate(stats.names):
        t.add_row(str(c), cell(name), pct(share[c]), *[f"{table[m][c]:.3g}" for m in table])
    return t


SHORT_NAMES = {
    "inverse_freq": "inv", "sqrt_inv_freq": "sqrt", "effective_num": "eff.num",
    "median_freq": "median", "enet": "enet", "log_count": "log", "power": "power",
    "uniform": "unif",
}  # fmt: skip


def cache_table(rows: list[dict[str, Any]], root: str, age: Callable[[float], str]) -> Table:
    t = Table(title=cell(f"cache: {root}"), title_justify="left", box=None, pad_edge=False)
    for name, just in (("key", "left"), ("dataset", "left"), ("images", "right"), ("scan", "left"),
                       ("methods", "left"), ("size", "right"), ("age", "right")):  # fmt: skip
        t.add_column(name, justify=just)  # type: ignore[arg-type]
    for r in rows:
        if r.get("corrupt"):
            t.add_row(
                cell(r["key"]), cell("corrupt", "red"), "", "", "", f"{r['size'] / 1e3:.0f} kB", ""
            )
            continue
        t.add_row(
            cell(r["key"]), cell(", ".join(map(str, r["dataset"]))), f"{r['images']:,}",
            "sampled" if r["sampled"] else "full", cell(", ".join(r["methods"]) or "-"),
            f"{r['size'] / 1e3:.0f} kB", age(r["age_seconds"]),
        )  # fmt: skip
    return t


def record_dict(record: dict[str, Any]) -> dict[str, Any]:
    """A weight record (tensors) as plain JSON-able data."""

    def plain(v: Any) -> Any:
        if hasattr(v, "tolist"):
            return v.tolist()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in record.items()}


def record_table(data: dict[str, Any], title: str) -> Table:
    w = data["weights"]
    names = data.get("class_names") or [str(i) for i in range(len(w))]
    opts = ", ".join(f"{k}={v}" for k, v in (data.get("options") or {}).items())
    t = Table(title=cell(f"{title}: {data.get('method', '?')}"), title_justify="left",
              caption=cell(opts) if opts else None,
              caption_justify="left", box=None, pad_edge=False)  # fmt: skip
    t.add_column("id", justify="right")
    t.add_column("class")
    has_counts = isinstance(data.get("counts"), dict) and "pixels" in data["counts"]
    if has_counts:
        t.add_column("pixels", justify="right")
    t.add_column("weight", justify="right")
    for c, name in enumerate(names):
        cells: list[Any] = [str(c), cell(name)]
        if has_counts:
            cells.append(f"{data['counts']['pixels'][c]:,}")
        t.add_row(*cells, f"{w[c]:.4f}")
    return t


# ---- Markdown (GitHub tables, no rich) ----------------------------------------------------
def markdown_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    right: Sequence[bool],
    footer: Sequence[str] | None = None,
) -> str:
    """A GitHub-flavoured Markdown table. Every header and row cell is text, shown as written
    (:func:`classweights.text.markdown_escape`); only ``footer``, our own, holds Markdown.

    >>> print(markdown_table(["id", "class"], [[0, "road"], [1, "a|b"]], [True, False]))
    | id | class |
    |---:|:---|
    | 0 | road |
    | 1 | a\\|b |
    """
    lines = ["| " + " | ".join(markdown_escape(h) for h in header) + " |",
             "|" + "|".join("---:" if r else ":---" for r in right) + "|"]  # fmt: skip
    lines += ["| " + " | ".join(markdown_escape(c) for c in row) + " |" for row in rows]
    if footer is not None:
        lines.append("| " + " | ".join(footer) + " |")
    return "\n".join(lines)


def stats_markdown(data: dict[str, Any], extra: Sequence[str] = ()) -> str:
    """The ``stats``/``compute`` table as Markdown: one row per class, a total row, and the
    totals line under it."""
    ds = data["dataset"]
    classes = data["classes"]
    has_weight = any(r["weight"] is not None for r in classes)
    header = ["id", "class", "positives" if ds.get("multilabel") else "pixels", "share", "images",
              *extra, *(["weight"] if has_weight else [])]  # fmt: skip
    rows = []
    for r in classes:
        row = [r["id"], r["name"], f"{r['pixels']:,}", pct(r["share"]), f"{r['images']:,}"]
        row += [r.get(k, "") for k in extra]
        if has_weight:
            row.append(f"{r['weight']:.4f}")
        rows.append(row)
    footer = [
        "",
        "**total**",
        f"{sum(r['pixels'] for r in classes):,}",
        "100.00%",
        f"{ds['images']:,}",
    ]
    footer += [""] * len(extra) + [data.get("method") or ""] * has_weight  # a method we know
    right = [True, False, True, True, True, *[True] * len(extra), *([True] if has_weight else [])]
    return markdown_table(header, rows, right, footer) + "\n\n" + totals_line(data) + "\n"


def compare_rows(
    stats: ClassStats, table: dict[str, list[float]]
) -> tuple[list[str], list[list[str]]]:
    share = stats.share
    header = ["id", "class", "share", *table]
    rows = [[str(c), name, pct(share[c]), *[f"{table[m][c]:.4g}" for m in table]]
            for c, name in enumerate(stats.names)]  # fmt: skip
    return header, rows


def compare_markdown(stats: ClassStats, table: dict[str, list[float]], normalize: str) -> str:
    """Every method's weights side by side as a Markdown table, normalisation named under it."""
    header, rows = compare_rows(stats, table)
    norm = {"mean": "mean 1", "sum": "sum C", "max": "max 1", "none": "raw"}[normalize]
    body = markdown_table(header, rows, [True, False, True, *[True] * len(table)])
    return f"{body}\n\nclass weights by method (normalised: {norm}) · {stats.num_images:,} images\n"


def compare_csv(stats: ClassStats, table: dict[str, list[float]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "name", *table])
    for c, name in enumerate(stats.names):
        writer.writerow([c, csv_cell(name), *[f"{table[m][c]:.6g}" for m in table]])
    return buf.getvalue()


def cache_markdown(rows: list[dict[str, Any]], age: Callable[[float], str]) -> str:
    out = []
    for r in rows:
        if r.get("corrupt"):
            out.append([r["key"], "corrupt", "", "", "", f"{r['size'] / 1e3:.0f} kB", ""])
            continue
        out.append([r["key"], ", ".join(r["dataset"]), f"{r['images']:,}", "sampled" if r["sampled"] else "full",
                    ", ".join(r["methods"]) or "-", f"{r['size'] / 1e3:.0f} kB", age(r["age_seconds"])])  # fmt: skip
    header = ["key", "dataset", "images", "scan", "methods", "size", "age"]
    return markdown_table(header, out, [False, False, True, False, False, True, True]) + "\n"


def record_markdown(data: dict[str, Any]) -> str:
    w = data["weights"]
    names = data.get("class_names") or [str(i) for i in range(len(w))]
    has_counts = isinstance(data.get("counts"), dict) and "pixels" in data["counts"]
    header = ["id", "class", *(["pixels"] if has_counts else []), "weight"]
    rows = [[c, name, *([f"{data['counts']['pixels'][c]:,}"] if has_counts else []), f"{w[c]:.4f}"]
            for c, name in enumerate(names)]  # fmt: skip
    opts = ", ".join(f"{k}={v}" for k, v in (data.get("options") or {}).items())
    tail = f"method: {data.get('method', '?')}" + (f" · {opts}" if opts else "")
    tail = markdown_escape(tail)
    return (
        markdown_table(header, rows, [True, False, *([True] if has_counts else []), True])
        + f"\n\n{tail}\n"
    )
