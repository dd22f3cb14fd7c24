"""Warm `load_weights` time and incremental-rescan cost on a 3,000-file dataset.

    python benchmarks/bench_cache.py [--images 3000] [--repeats 15]

Generates 256 x 512 street-scene PNGs once under $TMPDIR/classweights-bench, then reports in
one run (medians over the repeats):

* warm `load_weights` (fingerprint = list + stat every file, then one .pth), after import;
* cold `load_weights` (full scan + cache write), for scale;
* adding 1 % new images: incremental rescan vs a full scan of the same dataset.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from classweights.cache import cached_scan, load_weights
from classweights.synthetic import write_pngs

KW = {"num_classes": 19, "ignore_index": 255}


def dataset(n: int) -> Path:
    root = Path(tempfile.gettempdir()) / "classweights-bench" / f"small_{n}"
    if len(list(root.glob("*.png"))) != n:
        print(f"generating {n} masks of 256x512 in {root} ...", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)
        write_pngs(root, n, 256, 512, seed=1)
    return root


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    src = dataset(args.images)
    work = Path(tempfile.mkdtemp(prefix="cw-bench-cache-"))
    data, cache = work / "data", work / "cache"
    shutil.copytree(src, data)
    try:
        cold = timed(lambda: load_weights(data, cache_dir=cache, **KW))
        warm = [timed(lambda: load_weights(data, cache_dir=cache, **KW)) for _ in range(args.repeats)]
        print(f"{args.images} PNG masks 256x512")
        print(f"load_weights cold (scan + write): {cold:8.3f} s")
        print(f"load_weights warm, median of {args.repeats}: {1e3 * statistics.median(warm):8.2f} ms "
              f"(min {1e3 * min(warm):.2f}, max {1e3 * max(warm):.2f})")  # fmt: skip

        extra = max(1, args.images // 100)
        full_times, inc_times = [], []
        for r in range(3):
            new = work / f"new{r}"
            write_pngs(new, extra, 256, 512, seed=100 + r)
            for p in new.glob("*.png"):
                shutil.copy2(p, data / f"r{r}_{p.name}")
            inc_times.append(timed(lambda: cached_scan(data, cache_dir=cache, **KW)))
            full_times.append(timed(lambda: cached_scan(data, cache_dir=work / f"fresh{r}", **KW)))
        inc, full = statistics.median(inc_times), statistics.median(full_times)
        print(f"add {extra} images (1 %): incremental {inc:.3f} s, full scan {full:.3f} s, "
              f"ratio {inc / full:.3f}  (medians of 3)")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
