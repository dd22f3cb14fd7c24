"""Scanning a stack of masks as ``.npy``, stored ``.npz`` and compressed ``.npz``.

    python benchmarks/bench_npz.py [--images 1000 3000] [--repeats 5] [--workers 2]

256 x 256 uint8 masks of blobs (8 x 8 pixel cells), generated under $TMPDIR. Each scan is the
median of the repeats after one warm-up; the ``.npy`` stack is the baseline of its row. Before
an ``.npz`` member was read in one pass, every unit of 16 images decompressed it from its
start, so the ratio grew with the image count (1,000 images: 9x the ``.npy`` time).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import median_time

import classweights as cw


def stacks(n: int) -> dict[str, Path]:
    root = Path(tempfile.gettempdir()) / "classweights-bench" / f"npz_{n}"
    files = {"npy": root / "m.npy", "npz stored": root / "s.npz", "npz compressed": root / "c.npz"}
    if not all(f.exists() for f in files.values()):
        root.mkdir(parents=True, exist_ok=True)
        cells = np.random.default_rng(0).integers(0, 19, (n, 32, 32), dtype=np.uint8)
        a = cells.repeat(8, axis=1).repeat(8, axis=2)
        np.save(files["npy"], a)
        np.savez(files["npz stored"], masks=a)
        np.savez_compressed(files["npz compressed"], masks=a)
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, nargs="+", default=[1000, 3000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    print(f"256 x 256 uint8 masks, {args.workers} workers, median of {args.repeats}\n")
    print(f"{'images':>7} {'file':<16} {'s':>7} {'vs .npy':>8}")
    for n in args.images:
        base = None
        for name, f in stacks(n).items():
            t = median_time(lambda f=f: cw.scan(f, num_classes=19, workers=args.workers),
                            args.repeats)  # fmt: skip
            base = base or t
            print(f"{n:>7} {name:<16} {t:7.3f} {t / base:8.2f}")


if __name__ == "__main__":
    main()
