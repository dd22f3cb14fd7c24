"""Warm `load_weights` time and incremental-rescan cost on a 3,000-file dataset.

    python benchmarks/bench_cache.py [--images 3000] [--repeats 15] [--size small|city]

Generates street-scene PNGs once under $TMPDIR/classweights-bench (`small`: 256 x 512, each
file distinct; `city`: 1024 x 2048 like Cityscapes' 2,975 training masks, 100 distinct masks
hard-linked to reach the count, which keeps generation short), then reports in one run
(medians over the repeats):

* warm `load_weights` (fingerprint = list + stat every file, then one .pth), after import;
* warm `load_weights` of the same files in another folder (hard links: same names, sizes and
  times, another root), which also hashes the sampled files before serving the entry;
* cold `load_weights` (full scan + cache write), for scale;
* adding 1 % new images: incremental rescan vs a full scan of the same dataset.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from classweights import cached_scan, load_weights
from classweights.synthetic import write_pngs

KW = {"num_classes": 19, "ignore_index": 255}


SIZES = {"small": (256, 512), "city": (1024, 2048)}


def dataset(n: int, size: str) -> Path:
    h, w = SIZES[size]
    base = Path(tempfile.gettempdir()) / "classweights-bench"
    root = base / f"{size}_{n}"
    if len(list(root.glob("*.png"))) == n:
        return root
    print(f"generating {n} masks of {h}x{w} in {root} ...", file=sys.stderr)
    shutil.rmtree(root, ignore_errors=True)
    if size == "small":
        write_pngs(root, n, h, w, seed=1)
        return root
    distinct = base / "city_distinct_100"
    if len(list(distinct.glob("*.png"))) != 100:
        write_pngs(distinct, 100, h, w, seed=0)
    files = sorted(distinct.glob("*.png"))
    root.mkdir(parents=True)
    for i in range(n):
        os.link(files[i % len(files)], root / f"img_{i:05d}.png")
    return root


def list_and_stat(folder: Path) -> list[tuple[str, int, int]]:
    """The floor of any fingerprint that notices edits: list the folder, stat every file."""
    out = []
    with os.scandir(folder) as it:
        for c in sorted(it, key=lambda c: c.name):
            st = c.stat()
            out.append((c.path, st.st_size, st.st_mtime_ns))
    return out


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    args = ap.parse_args()
    src = dataset(args.images, args.size)
    h, w = SIZES[args.size]
    work = Path(tempfile.mkdtemp(prefix="cw-bench-cache-"))
    data, cache = work / "data", work / "cache"
    shutil.copytree(src, data)
    try:
        cold = timed(lambda: load_weights(data, cache_dir=cache, **KW))
        warm, floor = [], []
        for _ in range(args.repeats):  # interleaved, so both see the same machine load
            warm.append(timed(lambda: load_weights(data, cache_dir=cache, **KW)))
            floor.append(timed(lambda: list_and_stat(data)))
        wm, fm = statistics.median(warm), statistics.median(floor)
        print(f"{args.images} PNG masks {h}x{w}")
        print(f"load_weights cold (scan + write): {cold:8.3f} s")
        print(f"load_weights warm, median of {args.repeats}: {1e3 * wm:8.2f} ms "
              f"(min {1e3 * min(warm):.2f}, max {1e3 * max(warm):.2f})")  # fmt: skip
        print(
            f"baseline: scandir + stat of every file: {1e3 * fm:8.2f} ms; warm / baseline {wm / fm:.2f}"
        )
        elsewhere = work / "elsewhere"
        elsewhere.mkdir()
        for p in data.iterdir():
            os.link(p, elsewhere / p.name)
        load_weights(elsewhere, cache_dir=cache, **KW)  # a hit confirmed by the probe
        other, floor2 = [], []
        for _ in range(args.repeats):
            other.append(timed(lambda: load_weights(elsewhere, cache_dir=cache, **KW)))
            floor2.append(timed(lambda: list_and_stat(elsewhere)))
        om, f2 = statistics.median(other), statistics.median(floor2)
        print(f"load_weights warm from another folder (probe of 16 files): {1e3 * om:8.2f} ms; "
              f"/ its baseline {om / f2:.2f}")  # fmt: skip
        shutil.rmtree(elsewhere)

        extra = max(1, args.images // 100)
        full_times, inc_times = [], []
        for r in range(3):
            new = work / f"new{r}"
            write_pngs(new, extra, h, w, seed=100 + r)
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
