"""Benchmark: SubclassifiedLoss vs plain weighted CE vs the loop-based formulation.

Setting (issue 8): N=4, C=19, K=3, F=256, 64x128 features, 256x512 targets, CPU,
forward + backward, statistics updated every call (training mode). Prints the median of
``--repeats`` runs of each and the ratios against plain weighted CE and against the loop.

The loop-based formulation is reimplemented here from its description (the widely shared
reference code): features upsampled to the label size, Python loops over classes and
subclasses, random initial centroids, per-subclass EMA centroid updates.

Timings come from a shared 2-core machine; other jobs add noise, so compare ratios measured
in the same run rather than absolute times.

    python benchmarks/bench_subclassified.py [--repeats 7] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from classweights.losses.subclassified import SubclassifiedLoss


class LoopSubclassLoss:
    """The loop-based formulation: upsample features, loop over classes and subclasses."""

    def __init__(self, num_classes: int, k: int, fdim: int, ignore_index: int = 255) -> None:
        self.c, self.k, self.ignore = num_classes, k, ignore_index
        self.centroids = torch.randn(num_classes, k, fdim)  # random start, as in the reference
        self.momentum = 0.9

    def __call__(self, logits, target, features, weight):  # type: ignore[no-untyped-def]
        up = F.interpolate(features.detach(), size=target.shape[-2:], mode="nearest")
        up = up.permute(0, 2, 3, 1)  # N, H, W, F
        ce = F.cross_entropy(logits, target, reduction="none", ignore_index=self.ignore)
        valid = target != self.ignore
        overall = ce.detach()[valid].mean()
        pix_w = torch.zeros_like(ce)
        for c in range(self.c):
            mask = target == c
            if not mask.any():
                continue
            fc = F.normalize(up[mask], dim=1)
            assign = torch.cdist(fc, self.centroids[c]).argmin(1)
            lc = ce.detach()[mask]
            wc = torch.zeros_like(lc)
            for k in range(self.k):
                sel = assign == k
                if not sel.any():
                    continue
                freq = sel.float().mean()
                wc[sel] = (1.0 / freq) * (lc[sel].mean() / overall)
                new = fc[sel].mean(0)
                self.centroids[c, k] = (
                    self.momentum * self.centroids[c, k] + (1 - self.momentum) * new
                )
            pix_w[mask] = weight[c] * wc / wc.mean()
        return (pix_w * ce).sum() / pix_w.sum()


def timed_round_robin(fns: dict, logits: torch.Tensor, repeats: int) -> dict[str, float]:
    """Median seconds of forward + backward per method; methods alternate every round, so
    load from other jobs on the shared machine hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            logits.grad = None
            t0 = time.perf_counter()
            fn().backward()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="rounds (at least 5)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, c, k, fdim, h, w, hh, ww = 4, 19, 3, 256, 64, 128, 256, 512
    logits = torch.randn(n, c, hh, ww, requires_grad=True)
    target = torch.randint(0, c, (n, hh // 8, ww // 8)).repeat_interleave(8, 1)
    target = target.repeat_interleave(8, 2).contiguous()  # blocky, like real masks
    target[:, :16] = 255
    features = torch.randn(n, fdim, h, w)
    weight = torch.rand(c) + 0.5

    ours = SubclassifiedLoss(c, num_subclasses=k, base_weight=weight).train()
    ours(logits, target, features)  # first call runs the k-means++ initialisation
    loop = LoopSubclassLoss(c, k, fdim)
    fns = {
        "plain weighted CE": lambda: F.cross_entropy(
            logits, target, weight=weight, ignore_index=255
        ),
        "loop-based reference": lambda: loop(logits, target, features, weight),
        "SubclassifiedLoss (ours)": lambda: ours(logits, target, features),
    }
    rows = timed_round_robin(fns, logits, max(5, args.repeats))
    ce, lp = rows["plain weighted CE"], rows["loop-based reference"]
    print(
        f"N={n} C={c} K={k} F={fdim} features {h}x{w} targets {hh}x{ww}, CPU fwd+bwd, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__} (shared machine)"
    )
    print(f"| {'method':<26} | {'median ms':>9} | {'x plain CE':>10} | {'loop / this':>11} |")
    print(f"|{'-' * 28}|{'-' * 11}:|{'-' * 11}:|{'-' * 12}:|")
    for name, t in rows.items():
        print(f"| {name:<26} | {t * 1e3:9.1f} | {t / ce:10.2f} | {lp / t:11.1f} |")


if __name__ == "__main__":
    main()
