"""3-D label volumes and --objects: throughput against decode-only baselines.

    python benchmarks/bench_volumes.py [--volumes 12] [--size 256 256 96] [--images 40]
                                       [--repeats 3] [--workers 2]

Prints, from one run, medians over the repeats and ratios:

* NIfTI (.nii.gz, uint8, an "organ" ellipsoid with a few "tumour" blobs): nibabel decode-only
  (``nib.load`` + ``np.asanyarray(dataobj)``, same threads) vs our scan, and the scan with
  ``objects=True`` (26-connectivity);
* 2-D Cityscapes-like 1024 x 2048 PNG masks (the ``bench_scan.py`` set): plain scan vs
  ``objects=True`` (target: at most 2x);
* one 1024 x 2048 mask in memory, one core: our run-length union-find vs
  ``scipy.ndimage.label`` once per class (the obvious alternative);
* with ``--memory``: peak RSS of a scan (with objects) over 1 volume and over all of them,
  each in a fresh process (memory follows the largest volume, not the dataset).

Datasets are generated once under $TMPDIR/classweights-bench. The cache is not used.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import classweights as cw
from classweights.synthetic import street_scene, write_pngs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import OWN_PEAK_KB  # noqa: E402
from bench_scan import median_time  # noqa: E402  (one timing helper for the benchmarks)

ROOT = Path(tempfile.gettempdir()) / "classweights-bench"


def volumes(n: int, shape: tuple[int, int, int]) -> Path:
    import nibabel as nib

    folder = ROOT / f"nifti_{n}_{'x'.join(map(str, shape))}" / "labelsTr"
    if len(list(folder.glob("*.nii.gz"))) == n:
        return folder
    print(f"generating {n} label volumes of {shape} in {folder} ...", file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    for i in range(n):
        c = np.array(shape) / 2 + rng.normal(0, 5, 3)
        r = np.array(shape) * rng.uniform(0.25, 0.35, 3)
        a = np.zeros(shape, np.uint8)
        a[((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2 < 1] = 1
        for _ in range(rng.integers(1, 6)):  # tumours: small balls inside the organ
            t = c + rng.normal(0, 0.3, 3) * r
            rad = rng.uniform(2, 8)
            a[(z - t[0]) ** 2 + (y - t[1]) ** 2 + (x - t[2]) ** 2 < rad**2] = 2
        spacing = [rng.uniform(0.6, 1.0)] * 2 + [rng.choice([1.0, 2.5, 5.0])]
        nib.save(nib.Nifti1Image(a, np.diag([*spacing, 1.0])), folder / f"case_{i:03d}.nii.gz")
    return folder


def nib_decode(files: list[Path], workers: int) -> None:
    import nibabel as nib

    def one(p: Path) -> int:
        return int(np.asanyarray(nib.load(p).dataobj).shape[0])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, files))


def pngs(n: int) -> Path:
    folder = ROOT / f"city_{n}"
    if len(list(folder.glob("*.png"))) != n:
        print(f"generating {n} masks of 1024x2048 in {folder} ...", file=sys.stderr)
        write_pngs(folder, n, 1024, 2048, seed=0)
    return folder


def rss_child(files: list[Path], workers: int) -> float:
    """Peak RSS (MB) of a scan with objects of ``files`` in a fresh process."""
    import subprocess

    code = (
        "import resource, classweights as cw, warnings; warnings.simplefilter('ignore'); "
        f"cw.scan({[str(f) for f in files]!r}, num_classes=3, workers={workers}, objects=True); "
        f"print({OWN_PEAK_KB} / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def table(rows: list[tuple[str, float, float]], unit: str) -> None:
    print(f"| step | s | {unit}/s | vs first |")
    print("|---|---:|---:|---:|")
    base = rows[0][1]
    for name, t, n in rows:
        print(f"| {name} | {t:.3f} | {n / t:.1f} | {t / base:.2f} |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--volumes", type=int, default=12)
    ap.add_argument("--size", type=int, nargs=3, default=[256, 256, 96])
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory", action="store_true", help="also measure peak RSS")
    args = ap.parse_args()
    w, rep = args.workers, args.repeats
    print(f"{os.cpu_count()} CPUs, {w} workers, median of {rep}\n")

    folder = volumes(args.volumes, tuple(args.size))
    files = sorted(folder.glob("*.nii.gz"))
    n = len(files)
    mb = sum(f.stat().st_size for f in files) / n / 1e6
    size = "x".join(map(str, args.size))
    print(f"{n} NIfTI label volumes {size} uint8, mean {mb:.2f} MB .nii.gz")
    kw = {"num_classes": 3, "workers": w}
    s = cw.scan(folder, **kw, objects=True)
    assert s.num_images == n and s.physical_volume is not None
    table([
        ("nibabel decode only (threads)", median_time(lambda: nib_decode(files, w), rep), n),
        ("scan", median_time(lambda: cw.scan(folder, **kw), rep), n),
        ("scan --objects (26-conn)",
         median_time(lambda: cw.scan(folder, **kw, objects=True), rep), n),
    ], "volumes")  # fmt: skip

    if args.memory:
        one, every = rss_child(files[:1], w), rss_child(files, w)
        vol_mb = np.prod(args.size) / 1e6
        print(
            f"peak RSS, {w} workers: 1 volume {one:.0f} MB, {n} volumes {every:.0f} MB "
            f"(one decoded volume: {vol_mb:.1f} MB)\n"
        )

    city = pngs(args.images)
    m = len(list(city.glob("*.png")))
    kw2 = {"num_classes": 19, "ignore_index": 255, "workers": w}
    plain = median_time(lambda: cw.scan(city, **kw2), rep)
    objs = median_time(lambda: cw.scan(city, **kw2, objects=True), rep)
    print(f"{m} Cityscapes-like PNG masks 1024x2048")
    table([("scan", plain, m), ("scan --objects (8-conn)", objs, m)], "img")
    print(f"--objects / plain scan: **{objs / plain:.2f}x** (target <= 2x)\n")

    from scipy import ndimage

    from classweights.kernels import count_values
    from classweights.labels import LabelSpace
    from classweights.objects import ObjectOptions, find_objects

    mask = street_scene(1024, 2048, np.random.default_rng(0))
    values, _ = count_values(mask)
    opts = ObjectOptions(LabelSpace(19, 255), "full")
    st = np.ones((3, 3), bool)
    ours = median_time(lambda: find_objects(mask, values, opts), 5 * rep)
    ref = median_time(lambda: [ndimage.label(mask == c, structure=st) for c in range(19)], rep)
    cnt = median_time(lambda: count_values(mask), 5 * rep)
    print("one 1024x2048 mask in memory, one core")
    print("| step | ms |\n|---|---:|")
    print(f"| count_values (the plain scan's kernel) | {1e3 * cnt:.2f} |")
    print(f"| objects: run-length union-find (ours) | {1e3 * ours:.2f} |")
    print(f"| objects: scipy.ndimage.label per class | {1e3 * ref:.1f} |")
    print(f"\nscipy / ours: {ref / ours:.0f}x")


if __name__ == "__main__":
    main()
