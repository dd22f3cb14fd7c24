"""What ``classweights sampler`` computes, for Python users too: per-image sampling weights
with their summary (one JSON-ready dict), and the weights written with the file list.

>>> import classweights as cw
>>> s = cw.ClassStats.from_counts([[90, 10], [100, 0]])
>>> data = sampler_report(s, "repeat_factor", {"threshold": 0.6, "frequency": "images"})
>>> [round(w, 4) for w in data["weights"]]
[1.0954, 1.0]
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .errors import ConfigError
from .rebalance import exposure_summary, sampling_weights
from .stats import ClassStats

#: file formats of :func:`write_sampling_weights`
EXPORTS = ("npy", "json", "csv")


def sampler_report(
    stats: ClassStats,
    method: str,
    options: dict[str, Any],
    draw: str = "weighted",
    cache: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Sampling weights and the per-class exposure summary: ``weights`` aligned with
    ``sources`` (the scan's sorted file order), the ``summary`` of
    :func:`classweights.rebalance.exposure_summary`, the method and its options."""
    sw = sampling_weights(stats, method, **options)
    return {
        "method": method,
        "options": options,
        "num_classes": stats.num_classes,
        "ignore_index": stats.ignore_index,
        "paths": stats.settings.get("paths", []),
        "summary": exposure_summary(stats, sw, draw=draw),
        "sources": list(stats.sources),
        "weights": [float(v) for v in sw],
        "cache": cache,
    }


def weights_csv(data: dict[str, Any]) -> str:
    """``index,source,weight`` rows of a :func:`sampler_report`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["index", "source", "weight"])
    w.writerows(
        (i, s, repr(v))
        for i, (s, v) in enumerate(zip(data["sources"], data["weights"], strict=True))
    )
    return buf.getvalue()


def export_text(data: dict[str, Any], fmt: str) -> str:
    """The json or csv export of a :func:`sampler_report` as text."""
    return json.dumps(data, indent=2) + "\n" if fmt == "json" else weights_csv(data)


def write_sampling_weights(data: dict[str, Any], fmt: str, output: str | Path) -> list[Path]:
    """Write the weights atomically; ``npy`` also writes ``FILE.files.txt`` (the sources);
    ``json``/``csv`` go to standard output for ``-``."""
    path = Path(output)
    if fmt == "npy" and os.fspath(output) == "-":
        raise ConfigError(
            "the npy export writes FILE.npy and FILE.files.txt (the sources, in order); "
            "pass -o FILE.npy, not -"
        )
    if fmt == "npy":
        arr = np.asarray(data["weights"], dtype=np.float64)
        files = path.with_suffix(".files.txt")
        atomic_write(path, lambda f: np.save(f, arr), mode="wb")
        atomic_write(files, lambda f: f.write("".join(s + "\n" for s in data["sources"])), mode="w")
        return [path, files]
    text = export_text(data, fmt)
    atomic_write(path, lambda f: f.write(text), mode="w")
    return [path]
