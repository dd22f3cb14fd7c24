"""Charts of class statistics and weights (needs the ``plot`` extra: matplotlib).

matplotlib is imported inside the functions, never by ``import classweights``. Figures are
built with the object-oriented API (no pyplot state, no display needed) and written
atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .atomic import atomic_write
from .errors import ConfigError, require
from .text import visible

PLOT_FORMATS = ("png", "svg", "pdf")
SHORT = {
    "inverse_freq": "inverse freq",
    "sqrt_inv_freq": "sqrt inv freq",
    "effective_num": "effective num",
    "median_freq": "median freq",
}


def plot_format(path: str | os.PathLike[str]) -> str:
    """The image format named by ``path``'s suffix.

    >>> plot_format("classes.PNG"), plot_format("w.svg")
    ('png', 'svg')
    """
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise ConfigError(
            f"--plot {os.fspath(path)!r}: cannot tell the image format from the suffix "
            f"{Path(path).suffix or '(none)'!r}; use a name ending in "
            + ", ".join("." + f for f in PLOT_FORMATS)
        )
    return fmt


def plot_classes(
    data: dict[str, Any],
    path: str | os.PathLike[str],
    *,
    methods: dict[str, Sequence[float]] | None = None,
    title: str | None = None,
) -> Path:
    """Draw the classes of a ``stats``/``compute`` JSON object and save it to ``path``.

    Panels, classes sorted by pixel share (largest on top) and named on the shared axis:
    the share of the labelled pixels on a log axis; the weights of each method side by side
    (``methods``, or the object's own ``weight`` column); the images containing each class.

    Args:
        data: the object of :func:`classweights.report.stats_dict`.
        path: ``.png``, ``.svg`` or ``.pdf`` file.
        methods: ``{method: (C,) weights}`` to draw (``compare``).
        title: figure title.

    Returns:
        The written path.
    """
    fmt = plot_format(path)
    require("matplotlib", "plot", "--plot (charts)")
    from matplotlib.figure import Figure

    classes = data["classes"]
    if methods is None and any(r.get("weight") is not None for r in classes):
        methods = {data.get("method") or "weight": [r["weight"] for r in classes]}
    order = sorted(range(len(classes)), key=lambda c: (-classes[c]["share"], c))
    names = [
        visible(f"{classes[c]['id']} {classes[c]['name']}")
        if classes[c]["name"] != str(classes[c]["id"])
        else str(classes[c]["id"])
        for c in order
    ]
    ys = list(range(len(order)))
    n_panels = 3 if methods else 2
    height = min(60.0, 1.6 + 0.26 * len(order))
    fig = Figure(figsize=(4.2 * n_panels + 1.4, height), layout="constrained")
    axes = fig.subplots(1, n_panels, sharey=True, gridspec_kw={"width_ratios": [1] * n_panels})
    ax_share, ax_images = axes[0], axes[-1]

    shares = [classes[c]["share"] for c in order]
    present = [s for s in shares if s > 0]
    ax_share.barh(ys, [s if s > 0 else float("nan") for s in shares], color="#4c72b0")
    ax_share.set_xscale("log")
    if present:
        ax_share.set_xlim(min(present) / 3, 1.5)
    for y, s in zip(ys, shares, strict=True):
        if s <= 0:
            ax_share.text(
                0.02,
                y,
                "absent",
                transform=ax_share.get_yaxis_transform(),
                va="center",
                fontsize=8,
                color="#888888",
            )
    ax_share.set_xlabel("share of labelled pixels (log)")
    # class names are data: drawn as written, never as mathtext ($...$)
    ax_share.set_yticks(ys, names, fontsize=8 if len(order) <= 40 else 6, parse_math=False)
    ax_share.invert_yaxis()
    ax_share.grid(axis="x", which="major", alpha=0.3)

    if methods:
        _weights_panel(axes[1], ys, order, methods)

    images = [classes[c]["images"] for c in order]
    total = data["dataset"]["images"]
    ax_images.barh(ys, images, color="#55a868")
    ax_images.set_xlabel(f"images containing the class (of {total:,})")
    ax_images.set_xlim(0, max(total, 1))
    ax_images.grid(axis="x", alpha=0.3)

    ds = data["dataset"]
    sub = f"{ds['images']:,} images · {sum(r['pixels'] for r in classes):,} labelled pixels"
    if ds.get("sampled"):
        s = ds.get("sample") or {}
        sub += f" · SAMPLED {s.get('images')} of {s.get('population')}"
    fig.suptitle(f"{title}\n{sub}" if title else sub, fontsize=10)
    return _save(fig, Path(path), fmt)


def _weights_panel(
    ax: Any, ys: list[int], order: list[int], methods: dict[str, Sequence[float]]
) -> None:
    k = len(methods)
    height = 0.8 / k
    values = [float(w) for ws in methods.values() for w in ws]
    positive = [v for v in values if v > 0]
    log = bool(positive) and max(positive) / min(positive) > 30
    for i, (m, ws) in enumerate(methods.items()):
        offsets = [y - 0.4 + height * (i + 0.5) for y in ys]
        vals = [float(ws[c]) for c in order]
        if log:
            vals = [v if v > 0 else float("nan") for v in vals]
        ax.barh(offsets, vals, height=height, label=SHORT.get(m, m))
    if log:
        ax.set_xscale("log")
    ax.axvline(1.0, color="#444444", lw=0.8, ls="--")
    ax.set_xlabel("class weight" + (" (log)" if log else ""))
    ax.grid(axis="x", alpha=0.3)
    if k > 1:
        ax.legend(
            fontsize=7,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.09 * 19 / max(len(ys), 19) - 0.04),
            ncol=min(k, 4),
            frameon=False,
        )
    else:
        ax.set_title(SHORT.get(next(iter(methods)), next(iter(methods))), fontsize=9)


def _save(fig: Any, path: Path, fmt: str) -> Path:
    import matplotlib

    def save(fh: Any) -> None:
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            fig.savefig(fh, format=fmt, dpi=110)  # SVG text stays text (searchable, small)

    atomic_write(path, save)
    return path
