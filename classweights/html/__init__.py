"""A dataset report as ONE self-contained HTML file: overview, sortable class table with the
weights of every method, charts, class co-occurrence, odd images, imbalance diagnosis and,
given a second split, its drift.

The page fetches nothing when opened (inline SVG, an inline style sheet, a small inline script
for sorting and the heat-map readout; a Content-Security-Policy forbids any request), prints,
and escapes every text taken from the dataset. Rooms: :mod:`.data` computes the numbers from a
``ClassStats`` (no mask is read), :mod:`.svg` draws, :mod:`.page` writes the markup, and
:mod:`.volumes` adds volumes and objects (columns, spacing, size histogram) when the scan has
them.

>>> from classweights import ClassStats
>>> from classweights.html import render_html
>>> s = ClassStats.from_counts([[90, 10], [80, 0]], class_names=["road", "<b>car</b>"])
>>> page = render_html(s)
>>> "&lt;b&gt;car&lt;/b&gt;" in page and "<b>car</b>" not in page
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..stats import ClassStats
from .data import OPTIONAL_COLUMNS, OptionalColumn, page_data
from .page import render_page

__all__ = ["OPTIONAL_COLUMNS", "OptionalColumn", "page_data", "render_html", "report_html"]


def render_html(
    stats: ClassStats, *, title: str = "classweights dataset report", **options: Any
) -> str:
    """The report page as a string; ``options`` are :func:`report_html`'s (``compare``,
    ``labels``, ``command``, ``fingerprint``, ``weight_options``, ``extra_columns``)."""
    return render_page(page_data(stats, **options), title=title)


def report_html(
    stats: ClassStats,
    path: str | Path,
    *,
    compare: ClassStats | None = None,
    labels: tuple[str, str] = ("train", "val"),
    command: str | None = None,
    fingerprint: str | None = None,
    weight_options: Mapping[str, Any] | None = None,
    extra_columns: Mapping[str, Sequence[float]] | None = None,
    title: str = "classweights dataset report",
) -> Path:
    """Write the dataset report of ``stats`` to ``path`` as one self-contained HTML file.

    Args:
        stats: the counts (a scan or a cached scan; no mask is read again).
        path: the ``.html`` file to write (atomically).
        compare: statistics of a second split (e.g. val): adds the split-drift view.
        labels: names of ``stats`` and ``compare`` in that view.
        command: the command line that made the report (shown in the overview).
        fingerprint: the dataset fingerprint (the cache key) shown in the overview.
        weight_options: keyword arguments of :func:`classweights.compute_weights` used for
            every method's column (default: ``normalize="mean"``).
        extra_columns: more per-class columns, ``header -> C numbers``.
        title: the page title.

    Returns:
        The path written.

    >>> import tempfile, pathlib, classweights as cw
    >>> s = cw.ClassStats.from_counts([[90, 10], [80, 0]])
    >>> out = cw.report_html(s, pathlib.Path(tempfile.mkdtemp()) / "report.html")
    >>> out.read_text().startswith("<!DOCTYPE html>")
    True
    """
    from ..atomic import atomic_write

    page = render_html(
        stats,
        compare=compare,
        labels=labels,
        command=command,
        fingerprint=fingerprint,
        weight_options=weight_options,
        extra_columns=extra_columns,
        title=title,
    )
    return atomic_write(path, lambda fh: fh.write(page), "w")  # "-": stdout
