"""``render(data, fmt)``: every command's result in every format, written in one place.

Each kind of result (``stats``, ``compare``, ``splits``, ``sampler``, ``cache``, ``record``,
``match``, ``explain``) has one renderer per format in :data:`RENDERERS`: JSON, CSV, Markdown
and plain text are strings written as they are; a rich table is a list of rich objects and
summary lines printed on a :func:`make_console`. Dataset text goes through
:mod:`classweights.text` (``csv_cell``, ``markdown_escape``, ``visible``) in every format.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from rich.table import Table

from ..atomic import write_stdout
from ..text import csv_cell, markdown_escape, visible, visible_lines
from .markdown import (
    cache_markdown,
    compare_markdown,
    markdown_table,
    record_markdown,
    stats_markdown,
)
from .plain import compare_csv, pct, shown_classes, to_csv, to_json, totals_line

Renderer = Callable[..., Any]


# ---- compare-splits ----------------------------------------------------------------------
SPLITS_HEADER = (
    "id",
    "class",
    "share A",
    "share B",
    "B/A",
    "pixels A",
    "pixels B",
    "images A",
    "images B",
    "missing from",
)
SPLITS_SHORT = (
    "id",
    "class",
    "share A",
    "share B",
    "B/A",
    "px A",
    "px B",
    "img A",
    "img B",
    "missing",
)


def _split_cells(r: dict[str, Any], labels: list[str]) -> list[str]:
    miss = {"a": labels[0], "b": labels[1], "both": "both", None: ""}[r["missing_from"]]
    ratio = "" if r["ratio"] is None else f"{r['ratio']:.3g}"
    return [
        str(r["id"]),
        r["name"],
        pct(r["share_a"]),
        pct(r["share_b"]),
        ratio,
        f"{r['pixels_a']:,}",
        f"{r['pixels_b']:,}",
        f"{r['images_a']:,}",
        f"{r['images_b']:,}",
        miss,
    ]


def splits_line(data: dict[str, Any], esc: Callable[[Any], str] = visible) -> str:
    """``A = ... (N images) · B = ... · Jensen-Shannon divergence ... bits · missing ...``;
    split labels and class names pass through ``esc``."""
    (la, lb), (na, nb) = map(esc, data["labels"]), data["images"]
    names = {r["id"]: esc(r["name"]) for r in data["classes"]}
    parts = [
        f"A = {la} ({na:,} images)",
        f"B = {lb} ({nb:,} images)",
        f"Jensen-Shannon divergence {data['js_divergence_bits']:.4f} bits",
    ]
    for side, label in (("a", la), ("b", lb)):
        if data["missing"][side]:
            listed = ", ".join(names[i] for i in data["missing"][side])
            parts.append(f"missing from {label}: {listed}")
    return " · ".join(parts)


def _splits_csv(data: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(data["classes"][0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in data["classes"])
    return buf.getvalue()


def _splits_markdown(data: dict[str, Any]) -> str:
    rows = [_split_cells(r, data["labels"]) for r in data["classes"]]
    right = [True, False, *[True] * 7, False]
    line = splits_line(data, markdown_escape)
    return markdown_table(SPLITS_HEADER, rows, right) + "\n\n" + line + "\n"


def _splits_table(data: dict[str, Any]) -> list[Any]:
    from .tables import cell

    t = Table(title="class shares by split", title_justify="left", box=None, pad_edge=False)
    for h in SPLITS_SHORT:
        left = h in ("class", "missing")
        t.add_column(
            h, justify="left" if left else "right", no_wrap=not left, max_width=16 if left else None
        )
    for r in data["classes"]:
        t.add_row(*[cell(c) for c in _split_cells(r, data["labels"])])
    return [t, splits_line(data)]


# ---- sampler -------------------------------------------------------------------------------
SAMPLER_COLUMNS = ("id", "class", "before", "after", "gain", "share before", "share after")


def _sampler_rows(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for c in data["summary"]["classes"]:
        gain = f"{c['after'] / c['before']:.2f}" if c["before"] else "-"
        rows.append(
            [
                str(c["id"]),
                c["name"],
                f"{c['before']:,}",
                f"{c['after']:,.1f}",
                gain,
                pct(c["before_share"]),
                pct(c["after_share"]),
            ]
        )
    return rows


def sampler_line(data: dict[str, Any]) -> str:
    """``N images · epoch ≈ ... · ≈ ... distinct · weights lo to hi``."""
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


def _sampler_csv(data: dict[str, Any]) -> str:
    rows = data["summary"]["classes"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["id"], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def _sampler_markdown(data: dict[str, Any]) -> str:
    right = [name != "class" for name in SAMPLER_COLUMNS]
    table = markdown_table(SAMPLER_COLUMNS, _sampler_rows(data), right)
    return table + "\n\n" + sampler_line(data) + "\n"


def _sampler_table(data: dict[str, Any]) -> list[Any]:
    from .tables import cell

    title = f"{data['method']}: images containing each class, per epoch"
    table = Table(title=title, title_justify="left", pad_edge=False, box=None)
    for name in SAMPLER_COLUMNS:
        table.add_column(name, justify="left" if name == "class" else "right")
    for c, cells in zip(data["summary"]["classes"], _sampler_rows(data), strict=True):
        table.add_row(*map(cell, cells), style=None if c["before"] else "dim")
    return [table, sampler_line(data)]


# ---- stats / compute and compare -------------------------------------------------------------
def _stats_table(data: dict[str, Any], title: str = "", extra: tuple[str, ...] = ()) -> list[Any]:
    from .tables import stats_table

    classes = data["classes"]
    _, cut = shown_classes([r["pixels"] for r in classes], [r["name"] for r in classes])
    return [stats_table(data, title=title, extra=extra), *([cut] if cut else []), totals_line(data)]


def _compare_json(data: dict[str, Any], **_: Any) -> str:
    return to_json(data) + "\n"


def _compare_table(data: dict[str, Any], stats: Any, normalize: str) -> list[Any]:
    from .tables import compare_table

    return [compare_table(stats, data["methods"], normalize)]


# ---- cache list and weight files -------------------------------------------------------------
def _cache_table(data: dict[str, Any], age: Callable[[float], str]) -> list[Any]:
    from .tables import cache_table

    return [cache_table(data["entries"], data["cache_dir"], age)]


def _record_table(data: dict[str, Any], title: str) -> list[Any]:
    from .tables import record_table

    return [record_table(data, title)]


# ---- match ---------------------------------------------------------------------------------
def match_text(found: list[Any], names: list[str]) -> str:
    """``match``'s candidates as numbered lines, the verdict first."""
    lines = []
    for i, c in enumerate(found, 1):
        worst = max(range(len(c.residuals)), key=c.residuals.__getitem__)
        name = names[worst] if worst < len(names) else "the ignore label"
        name = "" if name == str(worst) else f" {name}"
        lines.append(f"{i}. {'FITS' if c.fits else 'no fit'}  {c.label}")
        where = f" (class {worst}{name})" if c.max_rel_error > 0 else ""
        lines.append(
            f"   max relative error {100 * c.max_rel_error:.3g}%{where} after rounding, "
            f"rmse {100 * c.rmse:.3g}% before"
        )
        if c.equivalent:
            lines.append(
                f"   same vector: {'; '.join(c.equivalent[:4])}"
                + (" ..." if len(c.equivalent) > 4 else "")
            )
        lines.append(f"   {c.command}")
    best = found[0] if found else None
    if best is not None and best.fits:
        lines.insert(0, "reproduced: the published weights are " + best.label + "\n")
    elif best is not None:
        off = f"{100 * best.max_rel_error:.3g}%"
        why = (
            "(the published numbers may come from another version or split of the labels, "
            "other ignore/void handling, crops or resizing, clipping, or a hand edit)"
        )
        lines.insert(0, f"nothing fits: the closest candidate is off by up to {off} {why}\n")
    return "\n".join(lines)


def _match_csv(data: dict[str, Any], **_: Any) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["rank", "method", "options", "scale", "max_rel_error", "rmse", "fits", "command"])
    for i, c in enumerate(data["candidates"], 1):
        opts = ";".join(f"{k}={v}" for k, v in c["options"].items())
        out.writerow(
            [
                i,
                c["method"],
                csv_cell(opts),
                f"{c['scale']:.6g}",
                f"{c['max_rel_error']:.3g}",
                f"{c['rmse']:.3g}",
                c["fits"],
                csv_cell(c["command"]),
            ]
        )
    return buf.getvalue()


def _match_table(data: dict[str, Any], found: list[Any], names: list[str]) -> str:
    notes = "".join(f"\nnote: {n}" for n in data.get("notes", []))
    return visible_lines(match_text(found, [visible(n) for n in names]) + notes) + "\n"


RENDERERS: dict[str, dict[str, Renderer]] = {
    "stats": {
        "json": lambda d, **_: to_json(d) + "\n",
        "csv": lambda d, **_: to_csv(d),
        "markdown": lambda d, extra=(), **_: stats_markdown(d, extra=extra),
        "table": _stats_table,
    },
    "compare": {
        "json": _compare_json,
        "csv": lambda d, stats, **_: compare_csv(stats, d["methods"]),
        "markdown": lambda d, stats, normalize: compare_markdown(stats, d["methods"], normalize),
        "table": _compare_table,
    },
    "splits": {
        "json": lambda d: to_json(d) + "\n",
        "csv": _splits_csv,
        "markdown": _splits_markdown,
        "table": _splits_table,
    },
    "cache": {
        "json": lambda d, **_: to_json(d) + "\n",
        "markdown": lambda d, age: cache_markdown(d["entries"], age),
        "table": _cache_table,
    },
    "record": {
        "json": lambda d, **_: to_json(d) + "\n",
        "markdown": lambda d, **_: record_markdown(d),
        "table": _record_table,
    },
    "explain": {
        "json": lambda d: to_json(d) + "\n",
        "text": lambda d: "\n".join(
            f"{visible(e['path'])}\n{visible_lines(e['explanation'])}\n" for e in d
        ),
    },
    "match": {
        "json": lambda d, **_: to_json(d) + "\n",
        "csv": _match_csv,
        "table": _match_table,  # plain numbered lines, no rich
    },
    "sampler": {
        "json": lambda d: to_json(d) + "\n",
        "csv": _sampler_csv,
        "markdown": _sampler_markdown,
        "table": _sampler_table,
    },
}


def render(
    data: Any,
    fmt: str,
    *,
    kind: str = "stats",
    stderr: bool = False,
    quiet: bool = False,
    **options: Any,
) -> None:
    """Write ``data`` (a result of kind ``kind``) in ``fmt`` on stdout.

    ``table`` goes through rich (styled only on a terminal; on stderr with ``stderr=True``,
    silenced by ``quiet``); ``json``, ``csv`` and ``markdown`` are plain text on stdout.
    ``options`` are the renderer's (``title``, ``extra`` columns, ``stats``, ``normalize``).
    """
    out = RENDERERS[kind][fmt](data, **options)
    if isinstance(out, str):
        write_stdout(out)  # a closed stdout is one error line, not silence
        return
    from .console import make_console

    console = make_console(stderr=stderr, quiet=quiet)
    for item in out:
        if isinstance(item, str):  # a summary line: any dataset text in it shown, never acted on
            console.print(visible(item), markup=False)
        else:
            console.print(item)
