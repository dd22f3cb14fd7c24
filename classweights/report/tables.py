"""Rich tables of every result; dataset text in them is data (:func:`cell`), never markup."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from ..stats import ClassStats
from ..text import visible
from .plain import pct, shown_classes
from .volumes import fmt as fmt_volume
from .volumes import table_columns


def cell(value: Any, style: str = "") -> Text:
    """A rich cell (or title) holding ``value`` as plain text: never parsed as markup, control
    characters shown.

    >>> cell("[bold]car[/]").plain, cell("a\\x1b[2J").plain
    ('[bold]car[/]', 'a\\\\x1b[2J')
    """
    return Text(visible(value), style=style)


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
    table = Table(
        title=None if title is None else cell(title),
        title_justify="left",
        show_footer=True,
        pad_edge=False,
        box=None,
    )
    table.add_column("id", justify="right", footer="")
    table.add_column("class", footer="total")
    table.add_column(pos, justify="right", footer=f"{sum(r['pixels'] for r in data['classes']):,}")
    table.add_column("share", justify="right", footer="100.00%")
    table.add_column("images", justify="right", footer=f"{ds['images']:,}")
    table.add_column("", footer="")
    for key in extra:
        table.add_column(key, justify="right", footer="")
    auto = [k for k in table_columns(data) if k not in extra]  # volumes and objects
    for key in auto:
        table.add_column(key.replace("_mm3", " mm³").replace("_", " "), justify="right", footer="")
    if has_weight:
        table.add_column("weight", justify="right", footer=cell(data["method"] or ""))
    classes = data["classes"]
    keep, _ = shown_classes([r["pixels"] for r in classes], [r["name"] for r in classes])
    for r in (classes[i] for i in keep):
        cells = [
            str(r["id"]),
            cell(r["name"]),
            f"{r['pixels']:,}",
            pct(r["share"]),
            f"{r['images']:,}",
            _bar(r["share"]),
        ]
        cells += [cell(r.get(k, "")) for k in extra]
        cells += [fmt_volume(r.get(k)) for k in auto]
        if has_weight:
            cells.append(f"{r['weight']:.4f}")
        style = "dim" if r["pixels"] == 0 else None
        table.add_row(*cells, style=style)
    return table


def compare_table(stats: ClassStats, table: dict[str, list[float]], normalize: str) -> Table:
    """Every method's weights side by side; the header names the normalisation."""
    norm = {"mean": "mean 1", "sum": "sum C", "max": "max 1", "none": "raw"}[normalize]
    t = Table(
        title=f"class weights by method (normalised: {norm})",
        title_justify="left",
        box=None,
        pad_edge=False,
        collapse_padding=True,
    )
    t.add_column("id", justify="right")
    t.add_column("class", no_wrap=True, max_width=14)
    t.add_column("share", justify="right")
    for m in table:
        t.add_column(SHORT_NAMES.get(m, m), justify="right", no_wrap=True)
    share, names = stats.share, stats.names
    keep, cut = shown_classes(stats.pixels, names)
    for c in keep:
        t.add_row(str(c), cell(names[c]), pct(share[c]), *[f"{table[m][c]:.3g}" for m in table])
    if cut:
        t.caption, t.caption_justify = cut, "left"
    return t


SHORT_NAMES = {
    "inverse_freq": "inv",
    "sqrt_inv_freq": "sqrt",
    "effective_num": "eff.num",
    "median_freq": "median",
    "enet": "enet",
    "log_count": "log",
    "power": "power",
    "uniform": "unif",
}


def cache_table(rows: list[dict[str, Any]], root: str, age: Callable[[float], str]) -> Table:
    t = Table(title=cell(f"cache: {root}"), title_justify="left", box=None, pad_edge=False)
    for name, just in (
        ("key", "left"),
        ("dataset", "left"),
        ("images", "right"),
        ("scan", "left"),
        ("methods", "left"),
        ("size", "right"),
        ("age", "right"),
    ):
        t.add_column(name, justify=just)  # type: ignore[arg-type]
    for r in rows:
        if r.get("corrupt"):
            t.add_row(
                cell(r["key"]), cell("corrupt", "red"), "", "", "", f"{r['size'] / 1e3:.0f} kB", ""
            )
            continue
        t.add_row(
            cell(r["key"]),
            cell(", ".join(map(str, r["dataset"]))),
            f"{r['images']:,}",
            "sampled" if r["sampled"] else "full",
            cell(", ".join(r["methods"]) or "-"),
            f"{r['size'] / 1e3:.0f} kB",
            age(r["age_seconds"]),
        )
    return t


def record_table(data: dict[str, Any], title: str) -> Table:
    w = data["weights"]
    names = data.get("class_names") or [str(i) for i in range(len(w))]
    opts = ", ".join(f"{k}={v}" for k, v in (data.get("options") or {}).items())
    t = Table(
        title=cell(f"{title}: {data.get('method', '?')}"),
        title_justify="left",
        caption=cell(opts) if opts else None,
        caption_justify="left",
        box=None,
        pad_edge=False,
    )
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
