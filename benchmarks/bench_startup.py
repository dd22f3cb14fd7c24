"""Time to the first result: fresh processes, against a 10-line Pillow + ``np.bincount`` script.

    python benchmarks/bench_startup.py [--repeats 7] [--large-copies 6]

Every row is a new Python process (what a user pays for a one-shot command), repeated and
interleaved with the others so machine load hits all rows alike; medians are printed with the
ratio to the bincount script on the same files. Datasets, generated once under
$TMPDIR/classweights-bench:

* small: 367 CamVid-sized masks (360 x 480, 8-bit PNG), 63 M pixels: below the JIT threshold,
  so counted with NumPy;
* large: the 100 Cityscapes-sized masks of ``bench_scan.py`` (1024 x 2048) hard-linked
  ``--large-copies`` times, above the threshold (1.26 G pixels with 6 copies, the threshold is
  1.07 G), so counted with Numba; ``CLASSWEIGHTS_JIT=0`` shows what NumPy would have cost.

``stats`` runs with ``--no-cache --format json`` (the scan and its rendering, no cache write);
a row with the cache on shows what writing the cache adds.

Then the JIT of the kernels, timed inside fresh processes: the first call of the word histogram
and of the fused PNG kernels (`classweights.kernels.png`: 8-bit grey/palette alone, the unit
kernel a scan calls, then the other formats), loading numba's on-disk cache (``cached``) and
compiling from nothing (``cold``: an empty ``NUMBA_CACHE_DIR``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from classweights.kernels_numpy import JIT_MIN_PIXELS
from classweights.synthetic import write_pngs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import linked_copies  # noqa: E402

BINCOUNT_SCRIPT = """
import sys
from pathlib import Path
import numpy as np
from PIL import Image
counts = np.zeros(256, np.int64)
for p in sorted(Path(sys.argv[1]).glob("*.png")):
    counts += np.bincount(np.asarray(Image.open(p)).ravel(), minlength=256)
print(counts[:19].tolist(), counts[255])
"""


def dataset(name: str, n: int, h: int, w: int) -> Path:
    root = Path(tempfile.gettempdir()) / "classweights-bench" / name
    if len(list(root.glob("*.png"))) != n:
        print(f"generating {n} masks of {h}x{w} in {root} ...", file=sys.stderr)
        write_pngs(root, n, h, w, seed=0)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--large-copies", type=int, default=6, help="0 skips the large dataset")
    ap.add_argument("--large-repeats", type=int, default=3)
    args = ap.parse_args()
    py = sys.executable
    cli = [py, "-m", "classweights.cli"]
    small = dataset("camvid_367", 367, 360, 480)
    stats = ["stats", "--num-classes", "19", "--ignore-index", "255"]
    cache_dir = tempfile.mkdtemp(prefix="classweights-bench-cache-")
    env = {k: v for k, v in os.environ.items() if k != "CLASSWEIGHTS_JIT"}
    rows: dict[str, list[str]] = {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import numpy'": [py, "-c", "import numpy"],
        "classweights --version": [*cli, "--version"],
        "classweights --help": [*cli, "--help"],
        "Pillow + np.bincount script, small": [py, "-c", BINCOUNT_SCRIPT, str(small)],
        "classweights stats, small": [*cli, *stats, str(small), "--format", "json", "--no-cache"],
        "classweights stats, small, cache written": [
            *cli, *stats, str(small), "--format", "json", "--refresh", "--cache-dir", cache_dir,
        ],
        "classweights stats, small, forced Numba": [
            "CLASSWEIGHTS_JIT=1", *cli, *stats, str(small), "--format", "json", "--no-cache",
        ],
        "  ... and the library PNG decoders": [
            "CLASSWEIGHTS_JIT=1", "CLASSWEIGHTS_PNG_DECODER=library", *cli, *stats, str(small),
            "--format", "json", "--no-cache",
        ],
    }  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in rows}

    def run(cmd: list[str]) -> float:
        e = dict(env)
        while cmd[0].startswith("CLASSWEIGHTS_"):
            name, value = cmd[0].split("=", 1)
            e[name] = value
            cmd = cmd[1:]
        t = time.perf_counter()
        subprocess.run(cmd, env=e, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t

    for cmd in rows.values():  # warm the page cache and numba's on-disk cache
        run(cmd)
    for _ in range(args.repeats):
        for name, cmd in rows.items():
            times[name].append(run(cmd))
    base = statistics.median(times["Pillow + np.bincount script, small"])
    n_small = 367 * 360 * 480
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, median of {args.repeats} "
          f"fresh processes; JIT threshold {JIT_MIN_PIXELS:,} px; small: 367 x 360 x 480 = "
          f"{n_small:,} px\n")  # fmt: skip
    print(f"{'command':<46} {'median s':>9} {'vs bincount':>12}")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"{name:<46} {t:9.3f} {t / base:12.2f}")

    jit_table(args.repeats)

    if args.large_copies:
        big = linked_copies(dataset("city_100", 100, 1024, 2048), args.large_copies)
        n_big = 100 * args.large_copies
        large = {
            "Pillow + np.bincount script, large": [py, "-c", BINCOUNT_SCRIPT, str(big)],
            "classweights stats, large (auto: Numba)": [
                *cli, *stats, str(big), "--format", "json", "--no-cache",
            ],
            "classweights stats, large, forced NumPy": [
                "CLASSWEIGHTS_JIT=0", *cli, *stats, str(big), "--format", "json", "--no-cache",
            ],
        }  # fmt: skip
        lt: dict[str, list[float]] = {k: [] for k in large}
        for _ in range(args.large_repeats):
            for name, cmd in large.items():
                lt[name].append(run(cmd))
        base = statistics.median(lt["Pillow + np.bincount script, large"])
        print(f"\nlarge: {n_big} x 1024 x 2048 = {n_big * 1024 * 2048:,} px, median of "
              f"{args.large_repeats}, load {os.getloadavg()[0]:.1f}")  # fmt: skip
        for name, ts in lt.items():
            t = statistics.median(ts)
            print(f"{name:<46} {t:9.3f} {t / base:12.2f}   {n_big / t:7.0f} img/s")


#: timed in a fresh process: the first call of each kernel family (seconds, one line each)
JIT_CODE = """
import sys, time, zlib, struct
import numpy as np
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
def png(depth, ctype, w=24, h=4, plte=b""):
    row = bytes((w * depth * {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype] + 7) // 8)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", ihdr) + plte
            + chunk(b"IDAT", zlib.compress((b"\\x04" + row) * h)) + chunk(b"IEND", b""))
t0 = time.perf_counter()
from classweights.counting import CountOptions, count_png
from classweights.kernels import count_values
from classweights.sources import ReadOptions
t1 = time.perf_counter()
count_values(np.zeros((8, 8), np.uint8))
t2 = time.perf_counter()
grey = CountOptions(ReadOptions(), None, 256)
assert count_png(png(8, 0), "a.png", grey) is not None
t3 = time.perf_counter()
from classweights.counting import count_streams
from classweights.sources import png_stream
stream = png_stream(png(8, 0), "a.png", ReadOptions())
assert count_streams([(0, "a.png", stream)], grey, None)[0][1].decoder == "fused"
t4 = time.perf_counter()
rgb = CountOptions(ReadOptions(rgb=True), None, 256, np.array([0], np.int64), np.array([0]))
for depth, ctype, opts in ((16, 0, grey), (8, 4, grey), (8, 2, rgb)):
    assert count_png(png(depth, ctype), "a.png", opts) is not None
t5 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)
"""


def jit_table(repeats: int) -> None:
    """The JIT of the word kernel and of the fused PNG kernels, cached and cold."""
    names = ("import numba + kernels", "word kernel (uint8)", "fused PNG, 8-bit grey",
             "fused PNG, a scan's unit kernel", "fused PNG, 16-bit/grey+alpha/RGB")  # fmt: skip
    times: dict[tuple[str, str], list[float]] = {}
    subprocess.run([sys.executable, "-c", JIT_CODE], check=True, capture_output=True)  # fill
    for _ in range(max(1, repeats // 2)):  # the on-disk cache
        for mode in ("cached", "cold"):
            e = dict(os.environ)
            if mode == "cold":
                e["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="classweights-numba-cold-")
            out = subprocess.run([sys.executable, "-c", JIT_CODE], env=e, check=True,
                                 capture_output=True, text=True).stdout.split()  # fmt: skip
            for name, t in zip(names, out, strict=True):
                times.setdefault((name, mode), []).append(float(t))
    print(f"\nJIT, first call in a fresh process (median of {max(1, repeats // 2)}, seconds)")
    print(f"{'kernels':<36} {'cached':>8} {'cold':>8}")
    for name in names:
        c, k = (statistics.median(times[(name, m)]) for m in ("cached", "cold"))
        print(f"{name:<36} {c:8.3f} {k:8.3f}")


if __name__ == "__main__":
    main()
