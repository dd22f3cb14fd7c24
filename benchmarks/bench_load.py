"""Load: a 100,000-mask scan runs with flat memory. Prints throughput and peak RSS at 1k/10k/100k.

    python benchmarks/bench_load.py [--max 100000] [--distinct 5000] [--workers 2] [--out FILE.md]

Generates ``--distinct`` different 64 x 128 PNG masks (labels 0..18 + 255) under
$TMPDIR/classweights-load, then reaches 1k, 10k and 100k files with hard links to them
(each link is a separate file to list, stat, open, decode and count; only the bytes are shared).
Each scan runs in a fresh subprocess so ``ru_maxrss`` is that scan's own peak.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import OWN_PEAK_KB  # noqa: E402

H, W = 64, 128
ROOT = Path(tempfile.gettempdir()) / "classweights-load"


def _write_chunk(args: tuple[int, int, str]) -> int:
    import imagecodecs
    import numpy as np

    start, stop, folder = args
    for i in range(start, stop):
        rng = np.random.default_rng(i)
        m = np.full((H, W), rng.integers(0, 19), np.uint8)
        for _ in range(6):  # a few rectangles of other classes, some void
            y, x = rng.integers(0, H), rng.integers(0, W)
            m[y : y + rng.integers(4, 32), x : x + rng.integers(4, 64)] = rng.choice(
                [*range(19), 255]
            )
        Path(folder, f"m_{i:06d}.png").write_bytes(imagecodecs.png_encode(m))
    return stop - start


def distinct(n: int, workers: int) -> Path:
    src = ROOT / f"distinct_{n}"
    if len(list(src.glob("*.png"))) != n:
        src.mkdir(parents=True, exist_ok=True)
        chunks = [(s, min(s + 500, n), str(src)) for s in range(0, n, 500)]
        with ProcessPoolExecutor(workers) as pool:
            sum(pool.map(_write_chunk, chunks))
    return src


def linked(n: int, src: Path, n_distinct: int) -> Path:
    """``n`` files in sub-folders of 1000, hard links to the distinct masks."""
    dst = ROOT / f"linked_{n}_of_{n_distinct}"
    marker = dst / ".complete"
    if marker.exists():
        return dst
    for i in range(n):
        sub = dst / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        target = sub / f"m_{i:06d}.png"
        if not target.exists():
            os.link(src / f"m_{i % n_distinct:06d}.png", target)
    marker.write_text("")
    return dst


_CHILD = """
import json, resource, sys, time
import classweights as cw
from classweights.scan import scan
t0 = time.perf_counter()
s = scan(sys.argv[1], num_classes=19, ignore_index=255, workers=int(sys.argv[2]))
dt = time.perf_counter() - t0
print(json.dumps({"images": s.num_images, "seconds": dt, "pixels": int(s.total_pixels),
                  "maxrss_kb": OWN_PEAK_KB}))
""".replace("OWN_PEAK_KB", OWN_PEAK_KB)


def run_scan(folder: Path, workers: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder), str(workers)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def baseline_rss() -> int:
    code = f"import classweights, classweights.scan, numpy, imagecodecs, numba; print({OWN_PEAK_KB})"
    return int(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=100_000)
    ap.add_argument("--distinct", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = ap.parse_args()
    t = time.perf_counter()
    src = distinct(args.distinct, args.workers)
    print(
        f"{args.distinct} distinct {H}x{W} masks ready in {time.perf_counter() - t:.1f} s",
        file=sys.stderr,
    )
    sizes = [n for n in (1_000, 10_000, 100_000) if n <= args.max]
    base = baseline_rss()
    rows = []
    for n in sizes:
        t = time.perf_counter()
        folder = linked(n, src, args.distinct)
        print(f"{n} files linked in {time.perf_counter() - t:.1f} s; scanning ...", file=sys.stderr)
        run_scan(folder, args.workers) if n == sizes[0] else None  # warm the numba cache once
        r = run_scan(folder, args.workers)
        assert r["images"] == n, r
        rows.append((n, r["seconds"], n / r["seconds"], r["maxrss_kb"] / 1024))
        print(f"{n:>7} images  {r['seconds']:7.2f} s  {n / r['seconds']:8.0f} img/s  "
              f"peak RSS {r['maxrss_kb'] / 1024:6.1f} MiB", file=sys.stderr)  # fmt: skip
    import platform

    lines = [
        f"### Load: {args.max:,} small masks ({H}x{W} PNG), `benchmarks/bench_load.py`",
        "",
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}; `scan(folder, num_classes=19, ignore_index=255, "
        f"workers={args.workers})` in a fresh process per row. {args.distinct:,} distinct masks, "
        "reached with hard links (each link is its own file to list, stat, open, decode, count). "
        f"Baseline RSS after imports: {base / 1024:.1f} MiB.",
        "",
        "| images | seconds | images/s | peak RSS (MiB) |",
        "|---:|---:|---:|---:|",
        *[f"| {n:,} | {s:.2f} | {ips:,.0f} | {rss:.1f} |" for n, s, ips, rss in rows],
        "",
        "Peak RSS grows only by the per-image table (one row of counts, three totals and a "
        "source path per image), not with pixels: masks are streamed, at most a few units per "
        "worker are in flight.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
