"""The HTML report at ADE20K scale: build time and page size from a per-image table.

    python benchmarks/bench_report.py --images 30000 --classes 150 --repeats 5

Prints the median build time of the page (from counts: no mask is read), its parts
(the numbers vs the markup), the time to save the statistics as a baseline, and the size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import classweights as cw
from classweights.html import page_data
from classweights.html.page import render_page

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import median_time  # noqa: E402


def synthetic(n: int, c: int, seed: int = 0) -> cw.ClassStats:
    """A long-tailed per-image table: class shares from a Dirichlet, presence follows share."""
    rng = np.random.default_rng(seed)
    share = rng.dirichlet(np.full(c, 0.3))
    presence = rng.random((n, c)) < np.clip(share * 40, 0.002, 0.9)
    counts = np.where(presence, rng.integers(1, 50_000, size=(n, c)), 0)
    total = counts.sum(1) + rng.integers(0, 20_000, size=n)
    sources = [f"/data/ADEChallengeData2016/annotations/training/ADE_{i:08d}.png" for i in range(n)]
    names = [f"class {k}" for k in range(c)]
    return cw.ClassStats.from_counts(
        counts, total, total - counts.sum(1), sources=sources, class_names=names
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=30_000)
    ap.add_argument("--classes", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    stats = synthetic(a.images, a.classes)
    out = Path(tempfile.mkdtemp()) / "report.html"
    save = median_time(lambda: stats.save(out.with_suffix(".npz")), a.repeats, warmup=False)
    data = median_time(lambda: page_data(stats), a.repeats, warmup=False)
    d = page_data(stats)
    markup = median_time(lambda: render_page(d), a.repeats, warmup=False)
    total = median_time(lambda: cw.report_html(stats, out), a.repeats, warmup=False)
    print(f"{a.images:,} images x {a.classes} classes, median of {a.repeats}")
    print("| step | s | vs saving the statistics |\n|---|---:|---:|")
    for name, t in (("save ClassStats (.npz), baseline", save), ("page numbers", data),
                    ("page markup", markup), ("report_html total", total)):  # fmt: skip
        print(f"| {name} | {t:.3f} | {t / save:.1f} |")
    print(f"page size: {out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
