"""Markdown (GitHub tables, no rich) of every command's results. Computes nothing itself.

Every cell is text, shown as written: :func:`classweights.text.markdown_escape` keeps a name
from breaking the table or becoming Markdown or HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..stats import ClassStats
from ..text import markdown_escape
from .plain import compare_rows, pct, shown_classes, totals_line
from .volumes import fmt as fmt_volume
from .volumes import table_columns


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
    lines = [
        "| " + " | ".join(markdown_escape(h) for h in header) + " |",
        "|" + "|".join("---:" if r else ":---" for r in right) + "|",
    ]
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
    auto = [k for k in table_columns(data) if k not in extra]  # volumes and objects
    header = [
        "id",
        "class",
        "positives" if ds.get("multilabel") else "pixels",
        "share",
        "images",
        *extra,
        *auto,
        *(["weight"] if has_weight else []),
    ]
    rows = []
    keep, cut = shown_classes([r["pixels"] for r in classes], [r["name"] for r in classes])
    for r in (classes[i] for i in keep):
        row = [r["id"], r["name"], f"{r['pixels']:,}", pct(r["share"]), f"{r['images']:,}"]
        row += [r.get(k, "") for k in extra]
        row += [fmt_volume(r.get(k)) for k in auto]
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
    footer += [""] * (len(extra) + len(auto)) + [data.get("method") or ""] * has_weight
    right = [
        True,
        False,
        True,
        True,
        True,
        *[True] * (len(extra) + len(auto)),
        *([True] if has_weight else []),
    ]
    cut = f"\n\n{markdown_escape(cut)}" if cut else ""
    return markdown_table(header, rows, right, footer) + cut + "\n\n" + totals_line(data) + "\n"


def compare_markdown(stats: ClassStats, table: dict[str, list[float]], normalize: str) -> str:
    """Every method's weights side by side as a Markdown table, normalisation named under it."""
    header, rows = compare_rows(stats, table)
    norm = {"mean": "mean 1", "sum": "sum C", "max": "max 1", "none": "raw"}[normalize]
    body = markdown_table(header, rows, [True, False, True, *[True] * len(table)])
    _, cut = shown_classes(stats.pixels, stats.names)
    body += f"\n\n{markdown_escape(cut)}" if cut else ""
    return f"{body}\n\nclass weights by method (normalised: {norm}) · {stats.num_images:,} images\n"


def cache_markdown(rows: list[dict[str, Any]], age: Callable[[float], str]) -> str:
    out = []
    for r in rows:
        if r.get("corrupt"):
            out.append([r["key"], "corrupt", "", "", "", f"{r['size'] / 1e3:.0f} kB", ""])
            continue
        out.append(
            [
                r["key"],
                ", ".join(r["dataset"]),
                f"{r['images']:,}",
                "sampled" if r["sampled"] else "full",
                ", ".join(r["methods"]) or "-",
                f"{r['size'] / 1e3:.0f} kB",
                age(r["age_seconds"]),
            ]
        )
    header = ["key", "dataset", "images", "scan", "methods", "size", "age"]
    return markdown_table(header, out, [False, False, True, False, False, True, True]) + "\n"


def record_markdown(data: dict[str, Any]) -> str:
    w = data["weights"]
    names = data.get("class_names") or [str(i) for i in range(len(w))]
    has_counts = isinstance(data.get("counts"), dict) and "pixels" in data["counts"]
    header = ["id", "class", *(["pixels"] if has_counts else []), "weight"]
    rows = [
        [c, name, *([f"{data['counts']['pixels'][c]:,}"] if has_counts else []), f"{w[c]:.4f}"]
        for c, name in enumerate(names)
    ]
    opts = ", ".join(f"{k}={v}" for k, v in (data.get("options") or {}).items())
    tail = f"method: {data.get('method', '?')}" + (f" · {opts}" if opts else "")
    tail = markdown_escape(tail)
    return (
        markdown_table(header, rows, [True, False, *([True] if has_counts else []), True])
        + f"\n\n{tail}\n"
    )
