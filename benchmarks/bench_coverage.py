"""Do the bootstrap intervals of a 10 % sample cover the full-scan weights 95 % of the time?

CamVid-like generated data: 701 masks of 360 x 480 (CamVid's image count and size) drawn by
``classweights.synthetic.street_scene`` and mapped to CamVid's 11 classes (Sky, Building,
Pole, Road, Pavement, Tree, SignSymbol, Fence, Car, Pedestrian, Bicyclist; void ignored),
counted exactly with ``np.bincount``. Each repeat draws a seeded 10 % sample of the images
without replacement, computes the 95 % intervals of every interval kind on the *same*
sample (with the finite-population correction, as ``--sample`` and ``auto_sample`` do),
and checks whether each class's full-scan weight lies inside. Coverage is per class, over
the repeats; its Monte-Carlo standard error is ``sqrt(p (1 - p) / repeats)`` (0.008 at
p = 0.93 over 1,000 repeats, so 0.90 and 0.93 are 3.7 standard errors apart).

Not a timing benchmark (the median time per interval is printed only as a guide):

    nice python benchmarks/bench_coverage.py [--repeats 1000] [--fraction 0.1] [--n-boot 1000]
        [--method sqrt_inv_freq] [--intervals hull,studentized,bca,percentile]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np

from classweights.stats import ClassStats
from classweights.synthetic import street_scene
from classweights.weights import ClassWeightsWarning, bootstrap_intervals, compute_weights

CAMVID = (
    "Sky",
    "Building",
    "Pole",
    "Road",
    "Pavement",
    "Tree",
    "SignSymbol",
    "Fence",
    "Car",
    "Pedestrian",
    "Bicyclist",
)
# Cityscapes trainId (street_scene's labels) -> CamVid class; 255 (void) stays ignored
TRAINID_TO_CAMVID = {
    0: 3,  # road
    1: 4,  # sidewalk -> pavement
    2: 1,  # building
    3: 1,  # wall -> building
    4: 7,  # fence
    5: 2,  # pole
    6: 6,  # traffic light -> sign/symbol
    7: 6,  # traffic sign
    8: 5,  # vegetation -> tree
    9: 5,  # terrain -> tree
    10: 0,  # sky
    11: 9,  # person -> pedestrian
    12: 10,  # rider -> bicyclist
    13: 8,  # car
    14: 8,  # truck -> car
    15: 8,  # bus -> car
    16: 8,  # train -> car
    17: 10,  # motorcycle -> bicyclist
    18: 10,  # bicycle -> bicyclist
}


def camvid_like(n_images: int = 701, hw: tuple[int, int] = (360, 480), seed: int = 0):
    """Exact per-image counts of ``n_images`` generated CamVid-like masks."""
    lut = np.full(256, len(CAMVID), np.int64)  # unmapped -> the ignored slot
    for k, v in TRAINID_TO_CAMVID.items():
        lut[k] = v
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_images, len(CAMVID) + 1), np.int64)
    for i in range(n_images):
        counts[i] = np.bincount(lut[street_scene(*hw, rng)].ravel(), minlength=len(CAMVID) + 1)
    total = np.full(n_images, hw[0] * hw[1], np.int64)
    return ClassStats.from_counts(
        counts[:, :-1],
        image_total=total,
        image_ignored=counts[:, -1],
        ignore_index=255,
        class_names=list(CAMVID),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=701)
    ap.add_argument("--repeats", type=int, default=1000)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--ci", type=float, default=0.95)
    ap.add_argument("--method", default="sqrt_inv_freq")
    ap.add_argument("--intervals", default="hull,studentized,bca,percentile")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    warnings.simplefilter("ignore", ClassWeightsWarning)
    kinds = args.intervals.split(",")

    t0 = time.perf_counter()
    full = camvid_like(args.images)
    truth = compute_weights(full, args.method)
    n = max(1, round(args.fraction * full.num_images))
    print(
        f"machine: {platform.processor() or platform.machine()}, python "
        f"{platform.python_version()}, numpy {np.__version__}"
    )
    print(
        f"population: {full.num_images} CamVid-like masks x {full.num_classes} classes "
        f"(generated in {time.perf_counter() - t0:.0f} s); samples of {n} images "
        f"({n / full.num_images:.0%}), {args.repeats} repeats, method={args.method}, "
        f"ci={args.ci}, n_boot={args.n_boot}\n"
    )
    rng = np.random.default_rng(args.seed)
    hits = {k: np.zeros((args.repeats, full.num_classes), bool) for k in kinds}
    width = {k: np.zeros((args.repeats, full.num_classes)) for k in kinds}
    seconds = {k: [] for k in kinds}
    for r in range(args.repeats):
        sample = full.subset(np.sort(rng.choice(full.num_images, n, replace=False)))
        for k in kinds:
            t = time.perf_counter()
            low, high = bootstrap_intervals(
                sample,
                args.method,
                ci=args.ci,
                n_boot=args.n_boot,
                seed=r,
                population=full.num_images,
                interval=k,
            )
            seconds[k].append(time.perf_counter() - t)
            hits[k][r] = (low <= truth) & (truth <= high)
            width[k][r] = (high - low) / truth
    share = full.pixels / full.pixels.sum()
    presence = full.images / full.num_images
    head = f"{'class':<11} {'share':>7} {'in images':>9} " + " ".join(f"{k:>11}" for k in kinds)
    print(head)
    print("-" * len(head))
    for c, name in enumerate(CAMVID):
        cells = " ".join(f"{hits[k][:, c].mean():>11.3f}" for k in kinds)
        print(f"{name:<11} {share[c]:>7.2%} {presence[c]:>9.0%} {cells}")
    print("-" * len(head))
    rows = {
        "mean": [hits[k].mean() for k in kinds],
        "worst class": [hits[k].mean(axis=0).min() for k in kinds],
        "median width / weight": [np.median(width[k]) for k in kinds],
        "ms per interval (median)": [1e3 * np.median(seconds[k]) for k in kinds],
    }
    for label, values in rows.items():
        print(f"{label:<29} " + " ".join(f"{v:>11.3f}" for v in values))
    mc = np.sqrt(args.ci * (1 - args.ci) / args.repeats)
    print(f"\nMonte-Carlo sd of one coverage at {args.ci}: {mc:.3f}")


if __name__ == "__main__":
    main()
