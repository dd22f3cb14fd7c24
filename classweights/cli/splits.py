"""`compare-splits`: per-class drift between two splits (table, JSON, CSV, Markdown)."""

from __future__ import annotations

import csv
import io
from typing import Any

import click

from .errors import handle_errors
from .options import FORMATS, run_scan, scan_options


@click.command("compare-splits")
@scan_options(formats=FORMATS)
@handle_errors
def compare_splits_command(**kw: Any) -> None:
    """Class shares of two splits side by side (train vs val drift).

    Per class: share in TRAIN and VAL, their ratio, images, classes missing from one side;
    and the Jensen-Shannon divergence (bits) of the class shares.

    Both splits are scanned with the same options (each through the cache).

    \b
    Examples:
      classweights compare-splits train/ val/ --num-classes 19 --ignore-index 255
      classweights compare-splits train/ val/ --num-classes 19 --ignore-index 255 --format markdown
    """
    from ..splits import compare_splits

    if len(kw["paths"]) != 2:
        raise click.UsageError(f"expected two splits (TRAIN VAL), got {len(kw['paths'])} paths")
    train, val = kw["paths"]
    a, _ = run_scan({**kw, "paths": (train,)})
    b, _ = run_scan({**kw, "paths": (val,)})
    data = compare_splits(a, b, labels=(train, val))
    if kw["fmt"] == "table":
        from ..report import make_console

        out = make_console()
        out.print(splits_table(data))
        out.print(summary_line(data), markup=False)
    else:
        click.echo(render_splits(data, kw["fmt"]), nl=False)


HEADER = ("id", "class", "share A", "share B", "B/A", "pixels A", "pixels B", "images A",
          "images B", "missing from")  # fmt: skip
SHORT = ("id", "class", "share A", "share B", "B/A", "px A", "px B", "img A", "img B", "missing")


def _cells(r: dict[str, Any], labels: list[str]) -> list[str]:
    from ..report import pct

    miss = {"a": labels[0], "b": labels[1], "both": "both", None: ""}[r["missing_from"]]
    ratio = "" if r["ratio"] is None else f"{r['ratio']:.3g}"
    return [str(r["id"]), r["name"], pct(r["share_a"]), pct(r["share_b"]), ratio,
            f"{r['pixels_a']:,}", f"{r['pixels_b']:,}", f"{r['images_a']:,}",
            f"{r['images_b']:,}", miss]  # fmt: skip


def summary_line(data: dict[str, Any]) -> str:
    """``A = ... (N images) · B = ... · Jensen-Shannon divergence ... bits · missing ...``."""
    (la, lb), (na, nb) = data["labels"], data["images"]
    names = {r["id"]: r["name"] for r in data["classes"]}
    parts = [f"A = {la} ({na:,} images)", f"B = {lb} ({nb:,} images)",
             f"Jensen-Shannon divergence {data['js_divergence_bits']:.4f} bits"]  # fmt: skip
    for side, label in (("a", la), ("b", lb)):
        if data["missing"][side]:
            listed = ", ".join(names[i] for i in data["missing"][side])
            parts.append(f"missing from {label}: {listed}")
    return " · ".join(parts)


def render_splits(data: dict[str, Any], fmt: str) -> str:
    """The comparison in one of ``table``, ``json``, ``csv``, ``markdown``."""
    from ..report import markdown_table, to_json

    labels = data["labels"]
    if fmt == "json":
        return to_json(data) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        keys = list(data["classes"][0])
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(data["classes"])
        return buf.getvalue()
    rows = [_cells(r, labels) for r in data["classes"]]
    if fmt == "markdown":
        right = [True, False, *[True] * 7, False]
        return markdown_table(HEADER, rows, right) + "\n\n" + summary_line(data) + "\n"
    raise ValueError(f"unknown format {fmt!r}")


def splits_table(data: dict[str, Any]) -> Any:
    """The comparison as a rich table (numbers never truncated; names are plain text)."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title="class shares by split", title_justify="left", box=None, pad_edge=False)
    for h in SHORT:
        left = h in ("class", "missing")
        t.add_column(h, justify="left" if left else "right", no_wrap=not left,
                     max_width=16 if left else None)  # fmt: skip
    for r in data["classes"]:
        t.add_row(*[Text(c) for c in _cells(r, data["labels"])])  # dataset text is never markup
    return t
