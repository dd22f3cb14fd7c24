"""The numbers of the HTML report, computed from a `ClassStats` alone (no mask is read).

Pure NumPy and plain Python values: :func:`page_data` returns a dict that
:mod:`classweights.html.page` turns into markup. Nothing here escapes or formats text.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..stats import ClassStats
from .cooccurrence import cooccurrence_data

#: Rows shown per list of odd images (the page says how many more there are).
ODD_LIMIT = 50
#: An image whose labelled pixels are below this fraction of its pixels is "nearly all void".
NEARLY_VOID = 0.05
#: An image where one class holds more than this fraction of the labelled pixels.
DOMINANT = 0.95
#: How many of the rarest classes get a list of the images that hold them, and its length.
RAREST_CLASSES = 5
RARE_IMAGES_PER_CLASS = 10


@dataclass(frozen=True)
class OptionalColumn:
    """A per-class column shown only when the statistics carry it.

    ``values(stats)`` returns ``C`` numbers, or ``None`` when ``stats`` lacks the data (the
    column is then left out). Volumes (mm³) and objects (connected components) have their
    own columns, overview rows and histogram in :mod:`classweights.html.volumes`, from the
    fields ``stats --format json`` shows; this registry is for further columns. Callers can
    also pass ``extra_columns`` to :func:`page_data`.
    """

    key: str
    header: str
    values: Callable[[ClassStats], Sequence[float] | None]
    digits: int = 4


#: Registry of further optional per-class columns (volumes and objects: see ``.volumes``).
OPTIONAL_COLUMNS: tuple[OptionalColumn, ...] = ()


def page_data(
    stats: ClassStats,
    *,
    compare: ClassStats | None = None,
    labels: tuple[str, str] = ("train", "val"),
    command: str | None = None,
    fingerprint: str | None = None,
    weight_options: Mapping[str, Any] | None = None,
    extra_columns: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Everything the page shows, as plain data (see the module docstring)."""
    from .. import __version__
    from ..weights import diagnose

    weights, notes = method_weights(stats, dict(weight_options or {}))
    extras = {c.header: v for c in OPTIONAL_COLUMNS if (v := c.values(stats)) is not None}
    extras.update(dict(extra_columns or {}))
    root = source_root(stats.sources)
    diag = diagnose(stats)
    names = stats.names
    named = ("absent_classes", "rare_classes", "rare_in_images")
    data: dict[str, Any] = {
        "overview": overview(stats, fingerprint, command, __version__),
        "source_root": shown_root(root),
        "classes": class_rows(stats, weights, extras),
        "methods": list(weights),
        "extra_columns": list(extras),
        "weight_notes": notes,
        "weight_options": dict(weight_options or {"normalize": "mean"}),
        "cooccurrence": cooccurrence_data(stats),  # bounded: O(classes) past 256 present
        "odd": odd_images(stats, root),
        "diagnosis": {**diag, "named": {k: [names[i] for i in diag[k]] for k in named}},
        "compare": None,
    }
    from .volumes import volume_data

    data["volumes"] = volume_data(stats)  # None for plain 2-D scans: nothing is shown
    if compare is not None:
        from ..splits import compare_splits

        data["compare"] = compare_splits(stats, compare, labels=labels)
    return data


def overview(
    stats: ClassStats, fingerprint: str | None, command: str | None, version: str
) -> dict[str, Any]:
    paths = [str(p) for p in stats.settings.get("paths", [])]
    return {
        "paths": paths,
        "root": shown_root(dataset_root(paths)),
        "images": stats.num_images,
        "pixels": stats.total_pixels,
        "labelled_pixels": stats.labelled_pixels,
        "ignored_pixels": stats.ignored_pixels,
        "unknown_pixels": stats.unknown_pixels,
        "unknown_values": dict(stats.unknown_values),
        "num_classes": stats.num_classes,
        "ignore_index": stats.ignore_index,
        "multilabel": stats.multilabel,
        "sampled": stats.sampled,
        "sample": stats.sample,
        "skipped": len(stats.skipped),
        "fingerprint": fingerprint,
        "command": command,
        "version": version,
    }


def method_weights(
    stats: ClassStats, options: dict[str, Any]
) -> tuple[dict[str, list[float]], list[str]]:
    """Weights of every method (``manual`` excepted) and the warnings they raised."""
    from ..weights import WEIGHT_METHODS, compute_weights

    out: dict[str, list[float]] = {}
    notes: list[str] = []
    for m in WEIGHT_METHODS:
        if m == "manual":
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out[m] = [float(v) for v in compute_weights(stats, m, **options)]
        notes += [f"{m}: {w.message}" for w in caught if str(w.message) not in notes]
    return out, list(dict.fromkeys(notes))


def class_rows(
    stats: ClassStats, weights: Mapping[str, Sequence[float]], extras: Mapping[str, Sequence[Any]]
) -> list[dict[str, Any]]:
    pixels, share, images = stats.pixels, stats.share, stats.images
    n = max(stats.num_images, 1)
    return [
        {
            "id": c,
            "name": name,
            "pixels": int(pixels[c]),
            "share": float(share[c]),
            "images": int(images[c]),
            "image_frac": float(images[c] / n),
            "weights": {m: float(w[c]) for m, w in weights.items()},
            "extra": {k: _plain(v[c]) for k, v in extras.items()},
        }
        for c, name in enumerate(stats.names)
    ]


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python number it holds (its repr is the page's ``data-v``)."""
    return value.item() if isinstance(value, np.generic) else value


def dataset_root(paths: Sequence[str]) -> str:
    """The folder a scan was given: its one path, or the folder all its paths share (a split
    file's hundreds of masks, several folders); '' when they share none."""
    if len(paths) == 1:
        return paths[0]
    try:
        return os.path.commonpath(list(paths)) if paths else ""
    except ValueError:  # absolute mixed with relative, URLs, different drives
        return ""


def source_root(sources: Sequence[str]) -> str:
    """The folder all sources share ('' if none), shown once instead of on every row."""
    if len(sources) < 2:
        return os.path.dirname(sources[0]) if sources else ""
    try:
        root = os.path.commonpath(list(sources))
    except ValueError:  # absolute mixed with relative, or different drives
        return ""
    return root if root not in sources else os.path.dirname(root)


def shown_root(root: str) -> str:
    """``root`` relative to the working folder when it lies below it (shorter, and no home
    folder in a shared page), else as it is."""
    try:
        rel = os.path.relpath(root)
    except ValueError:
        return root
    return rel if root and not rel.startswith("..") else root


def _short(source: str, root: str) -> str:
    if root and source.startswith(root):
        return source[len(root) :].lstrip("/\\") or source
    return source


def _capped(idx: NDArray[np.int64], limit: int = ODD_LIMIT) -> tuple[list[int], int]:
    return [int(i) for i in idx[:limit]], int(max(len(idx) - limit, 0))


def odd_images(stats: ClassStats, root: str) -> dict[str, Any]:
    """Lists of unusual images (capped at :data:`ODD_LIMIT` rows each, with the remainder)."""
    names = stats.names
    total = stats.image_total
    labelled = stats.image_labelled
    frac = np.where(total > 0, labelled / np.maximum(total, 1), 0.0)
    src = stats.sources

    def img(i: int, **more: Any) -> dict[str, Any]:
        return {"index": i, "source": _short(src[i], root), "pixels": int(total[i]), **more}

    void = np.flatnonzero(frac < NEARLY_VOID)
    void = void[np.argsort(frac[void], kind="stable")]
    shown, more = _capped(void)
    voids = {
        "rows": [
            img(
                i,
                labelled=int(labelled[i]),
                ignored=int(stats.image_ignored[i]),
                unknown=int(stats.image_unknown[i]),
                labelled_frac=float(frac[i]),
            )
            for i in shown
        ],
        "more": more,
        "total": len(void),
    }

    counts = np.asarray(stats.counts)
    top = counts.argmax(axis=1) if stats.num_classes else np.zeros(len(total), int)
    top_n = counts.max(axis=1, initial=0).astype(np.int64)
    top_frac = np.where(labelled > 0, top_n / np.maximum(labelled, 1), 0.0)
    dom = np.flatnonzero((labelled > 0) & (top_frac > DOMINANT))
    dom = dom[np.argsort(-top_frac[dom], kind="stable")]
    shown, more = _capped(dom)
    dominant = {
        "rows": [
            img(
                i,
                cls=int(top[i]),
                name=names[top[i]],
                cls_pixels=int(top_n[i]),
                labelled=int(labelled[i]),
                share=float(top_frac[i]),
            )
            for i in shown
        ],
        "more": more,
        "total": len(dom),
    }

    pixels = stats.pixels
    present = np.flatnonzero(pixels > 0)
    rarest = present[np.argsort(pixels[present], kind="stable")][:RAREST_CLASSES]
    rare = []
    for c in rarest:
        holders = np.flatnonzero(counts[:, c] > 0)
        holders = holders[np.argsort(-counts[holders, c].astype(np.int64), kind="stable")]
        shown, more = _capped(holders, RARE_IMAGES_PER_CLASS)
        rare.append(
            {
                "cls": int(c),
                "name": names[c],
                "pixels": int(pixels[c]),
                "images": len(holders),
                "more": more,
                "rows": [img(i, cls_pixels=int(counts[i, c])) for i in shown],
            }
        )

    sizes, freq = np.unique(total, return_counts=True)
    majority = int(sizes[np.argmax(freq)]) if len(sizes) else 0
    other = np.flatnonzero(total != majority)
    shown, more = _capped(other)
    size = {
        "majority": majority,
        "majority_images": int(freq.max(initial=0)),
        "distinct": len(sizes),
        "total": len(other),
        "more": more,
        "rows": [img(i) for i in shown],
    }
    return {"void": voids, "dominant": dominant, "rarest": rare, "size": size}
