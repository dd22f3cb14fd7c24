"""Inline SVG charts for the HTML report: aligned bar panels and a co-occurrence heat map.

Charts grow with the number of classes (one row of fixed height per class) and the page
scrolls, so 150 classes stay readable. Every text that reaches SVG goes through
:func:`html.escape`. No ``xmlns`` URL: inline SVG in HTML needs none, and the page holds no
``http`` address at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np
from numpy.typing import NDArray

ROW = 16  # px per class row
LABEL = 170  # px for the class names column
PANEL = 220  # px per bar panel
HEAD = 34  # px for the panel titles and axis ticks
GAP = 44  # px between panels
COLOURS = (
    "#3b6ea8",
    "#d9822b",
    "#4f9a5b",
    "#b5475a",
    "#7a5ca8",
    "#8c6d31",
    "#c95fa8",
    "#5a8a9a",
    "#777777",
)
#: Sequential colours of the heat map, light to dark (zero cells are not drawn).
HEAT = ("#e8f0f8", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")


def _num(v: float) -> str:
    return f"{v:.3g}" if isinstance(v, float) else f"{v:,}"


def _trim(name: str, n: int = 24) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def log_domain(values: Sequence[float]) -> tuple[float, float]:
    """Powers of ten around the positive values, e.g. ``(1e-4, 1.0)``."""
    pos = [v for v in values if v > 0]
    if not pos:
        return 0.1, 1.0
    lo, hi = math.floor(math.log10(min(pos))), math.ceil(math.log10(max(pos)))
    return 10.0**lo, 10.0 ** max(hi, lo + 1)


def _x(v: float, domain: tuple[float, float], log: bool, panel: int = PANEL) -> float:
    lo, hi = domain
    if v <= 0:
        return 0.0
    if log:
        return panel * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    return panel * v / hi if hi > 0 else 0.0


def _ticks(domain: tuple[float, float], log: bool, panel: int = PANEL) -> list[float]:
    lo, hi = domain
    if log:
        k0, k1 = round(math.log10(lo)), round(math.log10(hi))
        step = max(1, math.ceil((k1 - k0) / max(panel // 42, 2)))
        return [10.0**k for k in range(k0, k1 + 1, step)]
    return [hi * f for f in (0, 0.5, 1)]


def _tick_label(v: float, log: bool) -> str:
    if log:
        k = round(math.log10(v))
        return f"1e{k}" if abs(k) >= 3 else f"{v:g}"
    return f"{v:.3g}"


def bar_panels(
    names: Sequence[str],
    panels: Sequence[tuple[str, Sequence[float], bool, tuple[float, float] | None]],
    *,
    label: str = "",
    panel: int = PANEL,
) -> str:
    """One SVG: class names on the left, one bar panel per ``(title, values, log, domain)``.

    A ``None`` domain is computed per panel; pass one domain to several panels to put them on
    a common axis. Each bar carries a ``<title>`` with its exact value.
    """
    n = len(names)
    width = LABEL + len(panels) * (panel + GAP) + 10
    height = HEAD + n * ROW + 6
    out = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' role="img" aria-label="{escape(label)}">'
    ]
    for r, name in enumerate(names):
        y = HEAD + r * ROW
        if r % 2:
            out.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW}" fill="#f6f7f9"/>')
        out.append(
            f'<text x="{LABEL - 6}" y="{y + ROW - 4}" text-anchor="end">'
            f"<title>{escape(name)}</title>{escape(_trim(name))}</text>"
        )
    for p, (title, values, log, domain) in enumerate(panels):
        x0 = LABEL + p * (panel + GAP)
        dom = domain or (log_domain(values) if log else (0.0, max([*values, 0.0]) or 1.0))
        axis = "log" if log else "linear"
        out.append(f'<text class="ph" x="{x0}" y="12">{escape(title)} ({axis})</text>')
        for t in _ticks(dom, log, panel):
            tx = x0 + _x(t, dom, log, panel) if (log or t > 0) else x0
            out.append(
                f'<line x1="{tx:.1f}" y1="{HEAD - 6}" x2="{tx:.1f}" y2="{height - 4}" '
                f'class="grid"/><text class="tick" x="{tx:.1f}" y="{HEAD - 9}" '
                f'text-anchor="middle">{_tick_label(t, log)}</text>'
            )
        colour = COLOURS[p % len(COLOURS)]
        for r, v in enumerate(values):
            w = _x(v, dom, log, panel)
            y = HEAD + r * ROW + 3
            if w > 0:
                tip = f"{escape(names[r])}: {_num(v)}"
                out.append(
                    f'<rect x="{x0}" y="{y}" width="{max(w, 1):.1f}" height="{ROW - 6}" '
                    f'fill="{colour}"><title>{tip}</title></rect>'
                )
            elif v == 0:
                out.append(f'<text class="zero" x="{x0 + 2}" y="{y + ROW - 7}">0</text>')
    out.append("</svg>")
    return "".join(out)


def heat_bucket(co: NDArray[np.int64]) -> NDArray[np.int64]:
    """Colour level ``0..len(HEAT)-1`` of each non-zero count on a log scale (-1 for zero)."""
    top = max(int(co.max(initial=0)), 1)
    lv = np.full(co.shape, -1, dtype=np.int64)
    nz = co > 0
    scale = math.log(top + 1)
    lv[nz] = np.minimum((np.log(co[nz] + 1) / scale * len(HEAT)).astype(np.int64), len(HEAT) - 1)
    return lv


def heat_map(co: NDArray[np.int64], names: Sequence[str]) -> str:
    """The co-occurrence matrix as one SVG: one ``<path>`` per colour level (small at 150
    classes), class names on both axes, and a legend. The exact counts travel as JSON beside
    it (read by the page's hover script)."""
    c = len(names)
    cell = 24 if c <= 20 else 14 if c <= 60 else 10
    font = min(11, cell - 1)
    left = top = min(LABEL, int(0.62 * font * max((len(_trim(n)) for n in names), default=1)) + 12)
    size = c * cell
    width, height = max(left + size + 10, 480), top + size + 40
    out = [
        f'<svg id="cooc" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-left="{left}" data-top="{top}" '
        f'data-cell="{cell}" role="img" aria-label="class co-occurrence">'
    ]
    for i, name in enumerate(names):
        y = top + i * cell + cell / 2 + font / 3
        out.append(
            f'<text x="{left - 4}" y="{y:.1f}" text-anchor="end" font-size="{font}">'
            f"{escape(_trim(name))}</text>"
        )
        x = left + i * cell + cell / 2 + font / 3
        out.append(
            f'<text transform="translate({x:.1f},{top - 4}) rotate(-90)" '
            f'font-size="{font}">{escape(_trim(name))}</text>'
        )
    out.append(
        f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="#fff" stroke="#ccc"/>'
    )
    lv = heat_bucket(co)
    for k, colour in enumerate(HEAT):
        ii, jj = np.nonzero(lv == k)
        if len(ii):
            d = "".join(
                f"M{left + j * cell} {top + i * cell}h{cell}v{cell}h-{cell}z"
                for i, j in zip(ii.tolist(), jj.tolist(), strict=True)
            )
            out.append(f'<path fill="{colour}" d="{d}"/>')
    if cell >= 20:  # few classes: the counts fit inside the cells
        for i in range(c):
            for j in range(c):
                if co[i, j]:
                    ink = "#fff" if lv[i, j] >= 4 else "#222"
                    out.append(
                        f'<text x="{left + j * cell + cell / 2}" y="{top + i * cell + 16}" '
                        f'text-anchor="middle" font-size="9" fill="{ink}">'
                        f"{co[i, j]}</text>"
                    )
    top_count = max(int(co.max(initial=0)), 1)
    ly = top + size + 14
    out.append(
        f'<text x="10" y="{ly + 10}" class="tick">images with both classes (log '
        "colour scale): 1</text>"
    )
    for k, colour in enumerate(HEAT):
        out.append(f'<rect x="{260 + 18 * k}" y="{ly}" width="18" height="12" fill="{colour}"/>')
    out.append(
        f'<text x="{266 + 18 * len(HEAT)}" y="{ly + 10}" class="tick">{top_count:,}</text></svg>'
    )
    return "".join(out)


# ---- object sizes: log2-binned histograms ----------------------------------------------------
BIN = 40  # px per size bin
BARS = 150  # px height of the overall histogram's bars


def size_label(low: int) -> str:
    """A bin's lower edge, short: ``512``, ``8,192``, ``65.5k``, ``1.05M``."""
    if low < 10_000:
        return f"{low:,}"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if low >= div:
            return f"{low / div:.3g}{suffix}"
    return str(low)


def _bin_range(low: int, unit: str) -> str:
    return f"{low:,} {unit}" if low == 1 else f"{low:,} to {2 * low - 1:,} {unit}"


def size_bars(lows: Sequence[int], counts: Sequence[int], unit: str) -> str:
    """All objects per log₂ size bin as vertical bars (a linear count axis); every bar carries
    its exact count (``data-n``, ``<title>``) and shows it above the bar."""
    left, top, bottom = 46, 20, 40
    width = left + len(lows) * BIN + 10
    height = top + BARS + bottom
    peak = max(max(counts, default=0), 1)
    out = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        ' role="img" aria-label="objects per size">'
    ]
    for f in (0, 0.5, 1):
        y = top + BARS * (1 - f)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" class="grid"/>'
            f'<text class="tick" x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">'
            f"{size_label(round(peak * f))}</text>"
        )
    for b, (low, n) in enumerate(zip(lows, counts, strict=True)):
        x = left + b * BIN
        h = BARS * n / peak
        tip = f"{_bin_range(low, unit)}: {n:,} objects"
        out.append(
            f'<rect class="hbar" data-n="{n}" data-low="{low}" x="{x + 4}" '
            f'y="{top + BARS - h:.1f}" width="{BIN - 8}" height="{h:.1f}" '
            f'fill="{COLOURS[0]}"><title>{tip}</title></rect>'
        )
        if n:
            out.append(
                f'<text class="tick" x="{x + BIN / 2}" y="{top + BARS - h - 3:.1f}" '
                f'text-anchor="middle">{size_label(n)}</text>'
            )
        out.append(
            f'<text class="tick" x="{x + BIN / 2}" y="{top + BARS + 13}" '
            f'text-anchor="middle">{size_label(low)}</text>'
        )
    out.append(
        f'<text class="tick" x="{left}" y="{height - 6}">object size ({escape(unit)}), '
        "bins start at the label</text></svg>"
    )
    return "".join(out)


def size_grid(
    names: Sequence[str],
    ids: Sequence[int],
    lows: Sequence[int],
    counts: Sequence[Sequence[int]],
    unit: str,
) -> str:
    """One row per class, one cell per log₂ size bin, coloured by count (log scale) with the
    count written in it; a class's total at the row's end. Grows downwards with the classes."""
    head = 30
    width = LABEL + len(lows) * BIN + 70
    height = head + len(names) * ROW + 6
    grid = np.asarray(counts, np.int64).reshape(len(names), len(lows))
    lv = heat_bucket(grid)
    out = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        ' role="img" aria-label="objects per size and class">'
    ]
    for b, low in enumerate(lows):
        out.append(
            f'<text class="tick" x="{LABEL + b * BIN + BIN / 2}" y="{head - 8}" '
            f'text-anchor="middle">{size_label(low)}</text>'
        )
    out.append(f'<text class="ph" x="{LABEL + len(lows) * BIN + 8}" y="{head - 8}">total</text>')
    for r, (name, c) in enumerate(zip(names, ids, strict=True)):
        y = head + r * ROW
        if r % 2:
            out.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW}" fill="#f6f7f9"/>')
        out.append(
            f'<text x="{LABEL - 6}" y="{y + ROW - 4}" text-anchor="end">'
            f"<title>{escape(name)}</title>{escape(_trim(name))}</text>"
        )
        for b, low in enumerate(lows):
            n = int(grid[r, b])
            if not n:
                continue
            x = LABEL + b * BIN
            ink = "#fff" if lv[r, b] >= 4 else "#222"
            tip = f"{escape(name)}: {_bin_range(low, unit)}: {n:,} objects"
            out.append(
                f'<rect class="hcell" data-c="{c}" data-low="{low}" data-n="{n}" '
                f'x="{x + 1}" y="{y + 1}" width="{BIN - 2}" height="{ROW - 2}" '
                f'fill="{HEAT[lv[r, b]]}"><title>{tip}</title></rect>'
                f'<text x="{x + BIN / 2}" y="{y + ROW - 4}" text-anchor="middle" '
                f'font-size="9" fill="{ink}" pointer-events="none">{size_label(n)}'
                "</text>"
            )
        out.append(
            f'<text x="{LABEL + len(lows) * BIN + 8}" y="{y + ROW - 4}">'
            f"{int(grid[r].sum()):,}</text>"
        )
    out.append("</svg>")
    return "".join(out)
