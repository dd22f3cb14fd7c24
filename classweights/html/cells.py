"""The building blocks of the report's markup: numbers that keep their exact value, sections,
the inert JSON island. Dataset text is escaped by the callers (:mod:`.page`)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from ..report.plain import pct


def fmt(value: Any, kind: str) -> str:
    """The text of a number: ``int`` (1,234), ``pct`` (12.34%), ``float`` (4 digits) or ``num``
    (1,234.5)."""
    if kind == "pct":
        return pct(value)
    if kind == "float":
        return f"{value:.4g}"
    if kind == "num":  # sizes and volumes: thousands separators, one decimal when fractional
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{value:,}"


def cell(key: str, value: Any, kind: str = "int", tag: str = "td") -> str:
    """A number with its exact value (``data-v``) and its key (``data-k``) for tests."""
    if value is None:
        return f'<{tag} class="num" data-k="{escape(key)}">—</{tag}>'
    return (
        f'<{tag} class="num" data-k="{escape(key)}" data-v="{value!r}" data-f="{kind}">'
        f"{fmt(value, kind)}</{tag}>"
    )


def figure(key: str, value: Any, kind: str = "int") -> str:
    return cell(key, value, kind, tag="span")


def json_island(element_id: str, data: Any) -> str:
    """Data for the page script, inert (``type="application/json"``) and unable to close its
    tag: ``<``, ``>`` and ``&`` are written as JSON unicode escapes."""
    text = json.dumps(data, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def section(sid: str, title: str, body: str, note: str = "") -> str:
    lead = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{lead}{body}</section>'
