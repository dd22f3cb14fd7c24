"""Rendering results: rich tables, JSON, CSV and Markdown. Computes nothing itself.

Only the CLI imports this package (it imports rich at module level). The JSON and CSV
renderers (:mod:`.plain`) and the Markdown ones (:mod:`.markdown`) are plain string functions
that never touch rich; they are re-exported here.

Text from the dataset (class names, paths, cache keys, stored record text) is data, never
markup: rich cells, titles and captions holding it are ``Text`` objects made by :func:`cell`
(never parsed for ``[tags]``, control characters shown by :func:`classweights.text.visible`);
Markdown cells go through :func:`classweights.text.markdown_escape`, CSV fields through
:func:`classweights.text.csv_cell`.
"""

from __future__ import annotations

from .console import make_console, progress_bar, progress_enabled, set_color
from .markdown import (
    cache_markdown,
    compare_markdown,
    markdown_table,
    record_markdown,
    stats_markdown,
)
from .plain import (
    compare_csv,
    compare_rows,
    diagnosis_lines,
    format_array,
    pct,
    record_dict,
    stats_dict,
    to_csv,
    to_json,
    totals_line,
)
from .plain import (
    shown_classes as shown_classes,
)
from .render import render
from .tables import SHORT_NAMES, cache_table, cell, compare_table, record_table, stats_table

__all__ = [
    "FORMATS",
    "SHORT_NAMES",
    "cache_markdown",
    "cache_table",
    "cell",
    "compare_csv",
    "compare_markdown",
    "compare_rows",
    "compare_table",
    "diagnosis_lines",
    "format_array",
    "make_console",
    "markdown_table",
    "pct",
    "progress_bar",
    "progress_enabled",
    "record_dict",
    "record_markdown",
    "record_table",
    "render",
    "set_color",
    "stats_dict",
    "stats_markdown",
    "stats_table",
    "to_csv",
    "to_json",
    "totals_line",
]

FORMATS = ("table", "json", "csv", "markdown")
