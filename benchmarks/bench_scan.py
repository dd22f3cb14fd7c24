"""Scan throughput on Cityscapes-like 1024 x 2048 PNG masks, against decode-only and naive scripts.

    python benchmarks/bench_scan.py [--images 100] [--repeats 5] [--workers 2] [--memory]

Generates masks once (trainIds 0..18 + void 255, realistic region shapes) under
$TMPDIR/classweights-bench, then prints, from one run, medians over the repeats and ratios:

* decode only, fastest decoder installed (imagecodecs), same threads;
* our full scan, threads and processes;
* the common script: Pillow + ``(mask == c).sum()`` for each class, one image at a time;
* Pillow + ``np.bincount`` per image;
* in-memory kernels on one core: ours vs the naive per-class loop vs ``np.bincount``;
* sampling 10 % vs the full scan;
* with ``--memory``: peak RSS of scans over 10x and 100x more images (hard links to the same files).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import classweights as cw
from classweights.kernels import count_values
from classweights.synthetic import write_pngs

H, W, C = 1024, 2048, 19


def dataset(n: int) -> Path:
    root = Path(tempfile.gettempdir()) / "classweights-bench" / f"city_{n}"
    if len(list(root.glob("*.png"))) != n:
        print(f"generating {n} masks of {H}x{W} in {root} ...", file=sys.stderr)
        write_pngs(root, n, H, W, seed=0)
    return root


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (JIT, page cache)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def decode_only(files: list[Path], workers: int) -> None:
    import imagecodecs

    def one(p: Path) -> int:
        return imagecodecs.png_decode(p.read_bytes()).shape[0]

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, files))


def naive_script(files: list[Path]) -> np.ndarray:
    from PIL import Image

    counts = np.zeros(C, np.int64)
    for p in files:
        m = np.array(Image.open(p))
        for c in range(C):
            counts[c] += (m == c).sum()
    return counts


def bincount_script(files: list[Path]) -> np.ndarray:
    from PIL import Image

    counts = np.zeros(256, np.int64)
    for p in files:
        counts += np.bincount(np.array(Image.open(p)).ravel(), minlength=256)
    return counts


def rss_child(folder: Path, workers: int) -> tuple[float, int]:
    """Peak RSS (MB) and image count of a scan run in a fresh process."""
    code = (
        "import resource, sys, classweights as cw; "
        f"s = cw.scan({str(folder)!r}, num_classes=19, ignore_index=255, workers={workers}); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, s.num_images)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    mb, n = out.stdout.split()
    return float(mb), int(n)


def linked_copies(src: Path, copies: int) -> Path:
    dst = src.parent / f"{src.name}_x{copies}"
    files = sorted(src.glob("*.png"))
    if len(list(dst.glob("*.png"))) != copies * len(files):
        dst.mkdir(exist_ok=True)
        for k in range(copies):
            for f in files:
                target = dst / f"{k:03d}_{f.name}"
                if not target.exists():
                    os.link(f, target)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--memory", action="store_true", help="also measure peak RSS on 10x/100x images"
    )
    args = ap.parse_args()
    folder = dataset(args.images)
    files = sorted(folder.glob("*.png"))
    n, w = len(files), args.workers
    size_mb = sum(f.stat().st_size for f in files) / n / 1e3
    print(f"{n} PNG masks {H}x{W} (mean {size_mb:.0f} kB), {w} workers, {os.cpu_count()} CPUs, "
          f"median of {args.repeats}")  # fmt: skip

    # sanity: every contender counts the same pixels
    s = cw.scan(folder, num_classes=C, ignore_index=255, workers=w)
    assert np.array_equal(
        naive_script(files[:5]), cw.scan(files[:5], num_classes=C, ignore_index=255).pixels
    )

    rows = []
    t_decode = median_time(lambda: decode_only(files, w), args.repeats)
    rows.append(("decode only (imagecodecs, threads)", t_decode))
    t_threads = median_time(
        lambda: cw.scan(folder, num_classes=C, ignore_index=255, workers=w), args.repeats
    )
    rows.append(("classweights scan (threads)", t_threads))
    t_proc = median_time(
        lambda: cw.scan(folder, num_classes=C, ignore_index=255, workers=w, parallel="processes"),
        args.repeats,
    )
    rows.append(("classweights scan (processes)", t_proc))
    t_one = median_time(
        lambda: cw.scan(folder, num_classes=C, ignore_index=255, workers=1), args.repeats
    )
    rows.append(("classweights scan (1 worker)", t_one))
    few = files[: max(10, n // 5)]
    t_naive = median_time(lambda: naive_script(few), max(1, args.repeats // 2)) * n / len(few)
    rows.append(("naive script: Pillow + (mask == c).sum() x 19", t_naive))
    t_bin = median_time(lambda: bincount_script(few), max(1, args.repeats // 2)) * n / len(few)
    rows.append(("Pillow + np.bincount", t_bin))
    t_sample = median_time(
        lambda: cw.scan(folder, num_classes=C, ignore_index=255, workers=w, sample=0.1),
        args.repeats,
    )
    rows.append(("classweights scan, --sample 0.1", t_sample))

    print("\nend to end                                       img/s   vs decode  vs naive")
    for name, t in rows:
        print(f"{name:<46} {n / t:8.0f}   {t_decode / t:8.2f}  {t_naive / t:8.1f}")

    # in-memory kernels on one core
    import imagecodecs

    masks = [imagecodecs.png_decode(f.read_bytes()) for f in files[:20]]
    k_ours = median_time(lambda: [count_values(m) for m in masks], args.repeats)
    k_naive = median_time(lambda: [[(m == c).sum() for c in range(C)] for m in masks], 3)
    k_bin = median_time(
        lambda: [np.bincount(m.ravel(), minlength=256) for m in masks], args.repeats
    )
    k = len(masks)
    print("\nin-memory kernel, one core                         img/s     GB/s  vs naive")
    for name, t in (("classweights word kernel", k_ours), ("naive (mask == c).sum() x 19", k_naive),
                    ("np.bincount", k_bin)):  # fmt: skip
        print(f"{name:<46} {k / t:8.0f} {k * H * W / t / 1e9:8.2f}  {k_naive / t:8.1f}")
    print(f"\nthreads vs processes: {t_proc / t_threads:.2f}x "
          f"({'threads' if t_threads <= t_proc else 'processes'} faster)")  # fmt: skip
    print(f"sampling 10 %: {t_sample / t_threads:.2f} of the full scan's time")
    print(
        f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    if args.memory:
        print("\npeak RSS of a scan in a fresh process")
        for copies in (1, 10, 100):
            d = folder if copies == 1 else linked_copies(folder, copies)
            mb, imgs = rss_child(d, w)
            print(f"{imgs:>8} images: {mb:7.0f} MB")
    del s


if __name__ == "__main__":
    main()
