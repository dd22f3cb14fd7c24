"""How many images does ``auto_sample`` read, and how close are its weights to a full scan?

Synthetic per-image tables only (``ClassStats.from_counts`` + ``subset`` as ``draw``), so
the scan engine is not involved. The population imitates a street-scene dataset: 19
classes, a few present in almost every image and covering most pixels, others small and
present in a few percent of the images (lognormal areas, Beta-distributed presence).

Prints, per tolerance, medians over seeds of: images read (vs the full population),
rounds, the widest bootstrap half-width at the stop, and the *true* relative error of the
sampled weights against the full-scan weights; then the time of 1000 bootstrap replicates
on a 1000 x 19 table, for every interval kind, against a naive loop measured in the same run.

    python benchmarks/bench_sampling.py [--images 3000] [--seeds 5] [--method sqrt_inv_freq]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np

from classweights.stats import ClassStats
from classweights.weights import (
    INTERVAL_KINDS,
    ClassWeightsWarning,
    auto_sample,
    bootstrap_intervals,
    compute_weights,
)


def synthetic_population(
    n_images: int = 3000, num_classes: int = 19, seed: int = 0, hw: tuple[int, int] = (1024, 2048)
) -> ClassStats:
    """Per-image counts with realistic imbalance (exact integers, ignored pixels included)."""
    rng = np.random.default_rng(seed)
    presence = np.clip(rng.beta(0.6, 0.9, num_classes), 0.05, 1.0)
    presence[:3] = [0.99, 0.98, 0.95]  # road, building, sky-like classes
    area = np.exp(rng.normal(0.0, 1.0, num_classes))
    area[:3] *= 20.0
    present = rng.random((n_images, num_classes)) < presence
    present[~present.any(axis=1), 0] = True
    weights = present * area * rng.lognormal(0.0, 0.9, (n_images, num_classes))
    total = hw[0] * hw[1]
    ignored = (total * rng.uniform(0.02, 0.15, n_images)).astype(np.int64)
    frac = weights / weights.sum(axis=1, keepdims=True)
    counts = np.floor(frac * (total - ignored)[:, None]).astype(np.int64)
    counts = np.where(present & (counts == 0), 1, counts)
    ignored = total - counts.sum(axis=1)  # rounding leftovers are ignored pixels
    return ClassStats.from_counts(
        counts, image_total=np.full(n_images, total), image_ignored=ignored, ignore_index=255
    )


def median_time(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--method", default="sqrt_inv_freq")
    ap.add_argument("--n-boot", type=int, default=500)
    args = ap.parse_args()
    warnings.simplefilter("ignore", ClassWeightsWarning)

    full = synthetic_population(args.images)
    truth = compute_weights(full, args.method)
    share = full.pixels / full.pixels.sum()
    img_frac = full.images / full.num_images
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(
        f"population: {full.num_images} images x {full.num_classes} classes; pixel share "
        f"{share.min():.2e}..{share.max():.2f} (ratio {share.max() / share.min():.0f}); "
        f"rarest class in {img_frac.min():.1%} of images"
    )
    print(f"method={args.method}, ci=0.95, n_boot={args.n_boot}, medians over {args.seeds} seeds\n")
    header = (
        f"{'tolerance':>9}  {'images read':>11}  {'of full':>7}  {'rounds':>6}  "
        f"{'max half-width':>14}  {'true max err':>12}  {'true median err':>15}  {'covered':>7}"
    )
    print(header)
    print("-" * len(header))
    for tol in (0.2, 0.1, 0.05, 0.02):
        read, rounds, hw, max_err, med_err, covered = [], [], [], [], [], []
        for seed in range(args.seeds):
            stats, info = auto_sample(
                full.subset,
                full.num_images,
                tolerance=tol,
                seed=seed,
                method=args.method,
                n_boot=args.n_boot,
            )
            w = compute_weights(stats, args.method)
            err = np.abs(w / truth - 1.0)
            read.append(info["images_read"])
            rounds.append(info["rounds"])
            hw.append(info["max_rel_halfwidth"])
            max_err.append(err.max())
            med_err.append(np.median(err))
            covered.append(np.mean((info["low"] <= truth) & (truth <= info["high"])))
        print(
            f"{tol:>9.0%}  {np.median(read):>11.0f}  {np.median(read) / full.num_images:>7.1%}  "
            f"{np.median(rounds):>6.0f}  {np.median(hw):>14.3f}  {np.median(max_err):>12.3f}  "
            f"{np.median(med_err):>15.4f}  {np.mean(covered):>7.0%}"
        )

    table = full.subset(np.arange(1000))
    times = {
        kind: median_time(
            lambda kind=kind: bootstrap_intervals(table, args.method, n_boot=1000, interval=kind)
        )
        for kind in INTERVAL_KINDS
    }
    rows = np.random.default_rng(0).integers(0, 1000, (1000, 1000))
    t_loop = median_time(
        lambda: [compute_weights(table.subset(r), args.method) for r in rows], repeats=3
    )
    each = ", ".join(f"{kind} {t * 1e3:.0f} ms" for kind, t in times.items())
    print(
        f"\nbootstrap, 1000 replicates on 1000 x {full.num_classes}: {each}; naive loop of "
        f"subset + compute_weights (one weight vector per replicate, no standard errors) "
        f"{t_loop * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
