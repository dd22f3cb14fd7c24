"""Scan throughput on Cityscapes-like 1024 x 2048 PNG masks, against decode-only and naive scripts.

    python benchmarks/bench_scan.py [--images 100] [--repeats 5] [--workers 2] [--memory]
    python benchmarks/bench_scan.py --workers-sweep 1,2,4,8,16

Generates masks once (trainIds 0..18 + void 255, realistic region shapes) under
$TMPDIR/classweights-bench, then prints, from one run, medians over the repeats and ratios:

* decode only, fastest decoder installed (imagecodecs), same threads;
* our full scan, threads (``parallel="processes"`` was removed: 3-7x slower, see the README);
* the common script: Pillow + ``(mask == c).sum()`` for each class, one image at a time;
* Pillow + ``np.bincount`` per image;
* in-memory kernels on one core: ours vs the naive per-class loop vs ``np.bincount``;
* sampling 10 % vs the full scan;
* with ``--memory``: peak RSS of scans over 10x and 100x more images (hard links to the same files).

``--vs-decode`` (issue 32) prints a Markdown table: on three generated sets (CamVid-shaped
360 x 480 masks, complex 2-MP street masks of ~60 KB and simple ones of ~10 KB, all 8-bit grey
PNGs written by Pillow), at each worker count (``--workers-sweep``, default 1,2), img/s of
``imagecodecs.png_decode`` (libpng) and ``spng_decode`` on the same thread count, file reads
included, against the scan (the fused PNG decoder: Numba is loaded) and the scan with the
library decoders (``CLASSWEIGHTS_PNG_DECODER=library``); repeats interleaved, medians with
the spread (min-max) of the per-repeat ratios, and the ratio of CPU time (all threads; what a
shared machine distorts least). Counts are checked against png_decode + ``np.bincount`` in the
same run.

``--workers-sweep`` prints, per worker count, decode-only and scan img/s (repeats interleaved,
so load hits both alike), their ratio, and the peak RSS so far; then the Python-side (GIL-held)
time per image: the CPU time of a 1-worker scan minus decoding (read + ``png_decode``) minus the nogil kernel,
measured on the same files in the same run. That residual is the part that cannot run in
parallel, so ``(decode + kernel) / residual`` bounds how many workers can keep the decoder busy.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import classweights as cw
from classweights.kernels import count_values
from classweights.synthetic import street_scene, write_pngs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import OWN_PEAK_KB, linked_copies, median_time  # noqa: E402  (shared)

H, W, C = 1024, 2048, 19


def dataset(n: int) -> Path:
    root = Path(tempfile.gettempdir()) / "classweights-bench" / f"city_{n}"
    if len(list(root.glob("*.png"))) != n:
        print(f"generating {n} masks of {H}x{W} in {root} ...", file=sys.stderr)
        write_pngs(root, n, H, W, seed=0)
    return root


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
        f"print({OWN_PEAK_KB} / 1024, s.num_images)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    mb, n = out.stdout.split()
    return float(mb), int(n)




def complex_scene(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A street scene with 250-400 more small objects and ragged label edges: ~60 KB as a
    2-MP PNG (the plain scenes of `write_pngs` are ~10 KB)."""
    m = street_scene(h, w, rng)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(int(rng.integers(250, 400))):
        cy, cx, ry, rx = rng.uniform(0, h), rng.uniform(0, w), *rng.uniform(3, 40, 2)
        y0, y1 = int(max(0, cy - ry)), int(min(h, cy + ry + 1))
        x0, x1 = int(max(0, cx - rx)), int(min(w, cx + rx + 1))
        inside = ((yy[y0:y1, x0:x1] - cy) / ry) ** 2 + ((xx[y0:y1, x0:x1] - cx) / rx) ** 2 < 1
        m[y0:y1, x0:x1][inside] = rng.integers(0, C)
    ys, xs = np.nonzero(np.diff(m, axis=1, prepend=m[:, :1]) != 0)  # move each edge by 0-3 px
    m[ys, xs] = m[ys, np.clip(xs + rng.integers(-3, 4, xs.size), 0, w - 1)]
    return m


SETS = {  # name: (height, width, writer of one mask, masks in the set unless --images says)
    "CamVid-shaped 360x480": (360, 480, street_scene, 701),  # CamVid's 367 + 101 + 233 frames
    "complex 2 MP (~60 KB)": (1024, 2048, complex_scene, 100),
    "simple 2 MP (~10 KB)": (1024, 2048, street_scene, 100),
}


def generated_set(name: str, n: int) -> Path:
    from PIL import Image

    h, w, make, _ = SETS[name]
    slug = name.split(" (")[0].replace(" ", "_").lower()
    root = Path(tempfile.gettempdir()) / "classweights-bench" / f"{slug}_{n}"
    if len(list(root.glob("*.png"))) != n:
        print(f"generating {n} masks for {name} in {root} ...", file=sys.stderr)
        root.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(32)
        for i in range(n):
            Image.fromarray(make(h, w, rng)).save(root / f"mask_{i:04d}.png")
    return root


def decode_files(files: list[Path], workers: int, decode: str) -> None:
    import imagecodecs

    fn = getattr(imagecodecs, decode)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda p: fn(p.read_bytes()).shape, files))


def vs_decode(n: int | None, counts: list[int], repeats: int) -> None:
    """The issue-32 table: scan / png_decode and scan / spng_decode per set and worker count.
    Each set has its own size (``SETS``) unless ``n`` is given: a scan has a fixed cost (the
    folder walk, a thread pool) of ~2 ms that a 100-mask CamVid set (12 ms) would mostly measure."""
    import imagecodecs

    rows = []
    for name, (*_, default_n) in SETS.items():
        folder = generated_set(name, n or default_n)
        files = sorted(folder.glob("*.png"))
        kb = sum(f.stat().st_size for f in files) / len(files) / 1e3
        hist = sum(np.bincount(imagecodecs.png_decode(f.read_bytes()).ravel(), minlength=256)
                   for f in files)  # fmt: skip
        s = cw.scan(folder, num_classes=C, ignore_index=255, workers=2)
        assert s.pixels.tolist() == hist[:C].tolist() and s.ignored_pixels == hist[255], name
        for w in counts:
            jobs = {
                "png_decode": lambda w=w: decode_files(files, w, "png_decode"),
                "spng_decode": lambda w=w: decode_files(files, w, "spng_decode"),
                "scan": lambda w=w: cw.scan(folder, num_classes=C, ignore_index=255, workers=w),
                "scan, library decoders": lambda w=w: _library_scan(folder, w),
            }
            for fn in jobs.values():  # warm: page cache, JIT, thread pools
                fn()
            times: dict[str, list[float]] = {k: [] for k in jobs}
            cpu: dict[str, list[float]] = {k: [] for k in jobs}
            for _ in range(repeats):
                for k, fn in jobs.items():
                    c, t = time.process_time(), time.perf_counter()
                    fn()
                    times[k].append(time.perf_counter() - t)
                    cpu[k].append(time.process_time() - c)
            rows.append((name, kb, w, len(files), times, cpu))
    print(f"\n{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end, "
          f"median of {repeats} interleaved repeats (spread: min-max of the per-repeat "
          f"ratio)\n")  # fmt: skip
    print("| set | masks | mean KB | workers | png_decode img/s | spng_decode img/s | scan img/s "
          "| **scan / png_decode** | scan / spng_decode | scan, library decoders / png_decode "
          "| CPU time: png_decode / scan |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, kb, w, k, t, cpu in rows:
        med = {j: statistics.median(v) for j, v in t.items()}

        def ratio(base: str, job: str = "scan", t=t) -> str:
            r = [b / s for b, s in zip(t[base], t[job], strict=True)]
            return f"{statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f})"

        print(f"| {name} | {k} | {kb:.1f} | {w} | {k / med['png_decode']:,.0f} | "
              f"{k / med['spng_decode']:,.0f} | {k / med['scan']:,.0f} | "
              f"**{ratio('png_decode')}** | {ratio('spng_decode')} | "
              f"{ratio('png_decode', 'scan, library decoders')} | {ratio('png_decode', t=cpu)} |")  # fmt: skip


def _library_scan(folder: Path, workers: int) -> None:
    os.environ["CLASSWEIGHTS_PNG_DECODER"] = "library"
    try:
        cw.scan(folder, num_classes=C, ignore_index=255, workers=workers)
    finally:
        del os.environ["CLASSWEIGHTS_PNG_DECODER"]


def kernel_only(masks: list[np.ndarray]) -> None:
    from classweights.kernels import _hist_u8, _split_words

    for m in masks:
        words, tail = _split_words(m.reshape(-1))
        _hist_u8(words, tail, np.zeros(256, np.int64))


def sweep(folder: Path, counts: list[int], args: argparse.Namespace) -> None:
    import imagecodecs

    files = sorted(folder.glob("*.png"))
    n = len(files)
    masks = [imagecodecs.png_decode(f.read_bytes()) for f in files]
    modes = ["threads"]

    def scan(w: int, mode: str) -> None:
        cw.scan(folder, num_classes=C, ignore_index=255, workers=w, parallel=mode)

    for mode in modes:  # warm-up: JIT, page cache, pool imports
        scan(2, mode)
    decode_one = lambda: decode_only(files, 1)  # noqa: E731
    times: dict[tuple[str, int], list[float]] = {}
    rss: dict[int, float] = {}
    for _ in range(args.repeats):
        for w in counts:
            jobs = [("decode", lambda w=w: decode_only(files, w))]
            jobs += [(m, lambda w=w, m=m: scan(w, m)) for m in modes]
            for name, fn in jobs:
                t = time.perf_counter()
                fn()
                times.setdefault((name, w), []).append(time.perf_counter() - t)
            rss[w] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # CPU time, not wall time: on a shared machine the breakdown must not count waiting
        for name, fn in (("kernel", lambda: kernel_only(masks)), ("decode1", decode_one),
                         ("scan1", lambda: scan(1, "threads"))):  # fmt: skip
            t = time.process_time()
            fn()
            times.setdefault((name, 1), []).append(time.process_time() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{n} PNG masks {H}x{W}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"median of {args.repeats} (interleaved)\n")  # fmt: skip
    head = f"{'workers':>7} {'decode img/s':>13} {'scan img/s':>11} {'scan/decode':>12}"
    print(head + f" {'peak RSS MB':>12}")
    for w in counts:
        d, s = med[("decode", w)], med[("threads", w)]
        line = f"{w:>7} {n / d:13.0f} {n / s:11.0f} {d / s:12.2f}"
        print(line + f" {rss[w]:12.0f}")
    scan1, dec1, ker = med[("scan1", 1)], med[("decode1", 1)], med[("kernel", 1)]
    gil = max(scan1 - dec1 - ker, 0.0) / n
    parallel = (dec1 + ker) / n
    print(f"\nCPU time per image, 1 worker: scan {scan1 / n * 1e6:.0f} us = decode {dec1 / n * 1e6:.0f} "
          f"+ kernel {ker / n * 1e6:.0f} + Python-side (GIL-held) {gil * 1e6:.0f} us")
    print(f"CPU time, 1 worker: decode-only / scan = {dec1 / scan1:.2f} (the scan/decode ratio "
          f"a quiet machine would show at 1 worker)")  # fmt: skip
    if gil * n > 0.02 * scan1:
        print(f"the GIL-held part lets ~{parallel / gil:.0f} workers keep their decoders busy "
              f"((decode + kernel) / GIL-held)")  # fmt: skip
    else:
        print("the GIL-held part is below 2 % of the scan's CPU time: within measurement noise")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=None, help="masks a set (default: 100; "
                    "--vs-decode: each set's own size)")  # fmt: skip
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--memory", action="store_true", help="also measure peak RSS on 10x/100x images"
    )
    ap.add_argument("--workers-sweep", help="e.g. 1,2,4,8,16: the scaling table instead")
    ap.add_argument(
        "--vs-decode", action="store_true", help="the fused PNG decoder's table (issue 32)"
    )
    args = ap.parse_args()
    if args.vs_decode:
        sweep_counts = [int(w) for w in (args.workers_sweep or "1,2").split(",")]
        vs_decode(args.images, sweep_counts, args.repeats)
        return
    args.images = args.images or 100
    if args.workers_sweep:
        sweep(dataset(args.images), [int(w) for w in args.workers_sweep.split(",")], args)
        return
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
