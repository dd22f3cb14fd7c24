"""The report's overview and header: where the masks are (the dataset root) and how many, every
path given in a collapsed list, the scan's totals and provenance."""

from __future__ import annotations

from html import escape
from typing import Any

from .cells import figure, section


def header_text(o: dict[str, Any]) -> str:
    """The line under the title: the dataset root and the image count, never every path (a
    split file's scan lists hundreds); escaped."""
    root = o["root"] or ("; ".join(o["paths"][:1]) + (" ..." if len(o["paths"]) > 1 else ""))
    return escape(f"{root or '—'} · {o['images']:,} images")


def dataset_html(o: dict[str, Any]) -> str:
    """The root, and every path the scan was given in a collapsed list when there are several."""
    paths = o["paths"]
    root = escape(o["root"] or "—")
    if len(paths) <= 1:
        return root
    items = "".join(f"<li>{escape(p)}</li>" for p in paths)
    return (
        f'{root}<details class="paths"><summary>{len(paths):,} paths given</summary>'
        f"<ul>{items}</ul></details>"
    )


def overview_html(d: dict[str, Any]) -> str:
    o = d["overview"]
    sample = "no: every image was read"
    if o["sampled"]:
        s = o["sample"] or {}
        sample = escape(
            f"yes: {s.get('images', '?')} of {s.get('population', '?')} images "
            f"(seed {s.get('seed', '?')})"
        )
    unknown = figure("ov:unknown_pixels", o["unknown_pixels"])
    if o["unknown_values"]:
        shown = list(o["unknown_values"].items())[:8]
        unknown += escape(" (" + ", ".join(f"{k}: {v:,}" for k, v in shown) + ")")
    rows = [
        ("dataset", dataset_html(o)),
        ("files under", escape(d["source_root"] or "—")),
        ("images", figure("ov:images", o["images"])),
        ("pixels", figure("ov:pixels", o["pixels"])),
        ("labelled", figure("ov:labelled_pixels", o["labelled_pixels"])),
        (
            "ignored" + (f" ({o['ignore_index']})" if o["ignore_index"] is not None else ""),
            figure("ov:ignored_pixels", o["ignored_pixels"]),
        ),
        ("unknown", unknown),
        (
            "classes",
            figure("ov:num_classes", o["num_classes"])
            + (" (multi-label)" if o["multilabel"] else ""),
        ),
        ("sampled", sample),
        ("skipped files", figure("ov:skipped", o["skipped"])),
        ("fingerprint", f"<code>{escape(o['fingerprint'] or '—')}</code>"),
        (
            "made by",
            f"<code>{escape(o['command'] or 'classweights.report_html(...)')}</code>"
            f" · classweights {escape(o['version'])}",
        ),
    ]
    if d.get("volumes"):
        from .volumes import overview_rows

        rows[8:8] = overview_rows(d["volumes"])  # after "classes"
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return section("overview", "Overview", f'<dl class="grid">{dl}</dl>')
