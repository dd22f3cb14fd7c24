"""Forward + backward time and peak extra memory of our losses against peer implementations.

    python benchmarks/bench_losses.py [--repeats 5] [--size 4 19 512 1024] [--threads N]

Peers: MONAI (if installed: ``pip install monai --no-deps``) and plain dense one-hot
references written below (the textbook implementations smp/MONAI-style code reduces to).
Timing: median of ``--repeats`` forward+backward passes per implementation, interleaved
so that background load hits every implementation alike; ratio = our median / fastest
peer median (< 1 means we are faster). Peak extra memory: the rise of the process' peak
RSS (``VmHWM`` after resetting it) during one forward+backward, measured in a fresh subprocess per
implementation, after the inputs exist. Results go to stdout as a Markdown table.

Latest run (2026-11-25, 2-core shared CPU VM with other jobs running, load average ~3, so
timings are noisy to +-50 %; torch 2.13.0+cpu, MONAI 1.6.1, N=4, C=19, 512x1024, float32,
5 repeats)::

    | loss | implementation | median s | ratio ours/fastest peer | peak extra MiB |
    |---|---|---:|---:|---:|
    | Dice | classweights | 0.163 | 0.48 | 352 |
    | Dice | plain one-hot | 0.870 |  | 608 |
    | Dice | MONAI | 0.342 |  | 456 |
    | CE+Dice | classweights | 0.460 | 0.46 | 376 |
    | CE+Dice | plain one-hot | 1.886 |  | 760 |
    | CE+Dice | MONAI | 0.991 |  | 760 |
    | Focal | classweights | 0.389 | 0.73 | 240 |
    | Focal | plain CE-based | 0.531 |  | 520 |
    | Focal | MONAI | 1.883 |  | 1216 |
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ---- plain dense one-hot references ------------------------------------------------------
def plain_dice(x: torch.Tensor, y: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    p = x.softmax(1)
    onehot = F.one_hot(y, x.shape[1]).movedim(-1, 1).to(p.dtype)
    dims = tuple(range(2, x.ndim))
    inter = (p * onehot).sum(dims)
    card = (p + onehot).sum(dims)
    return 1 - ((2 * inter + smooth) / (card + smooth)).mean()


def plain_ce_dice(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.6 * F.cross_entropy(x, y) + 0.4 * plain_dice(x, y)


def plain_focal(x: torch.Tensor, y: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    ce = F.cross_entropy(x, y, reduction="none")
    return ((1 - torch.exp(-ce)) ** gamma * ce).mean()


def implementations() -> dict[str, dict[str, LossFn]]:
    from classweights.losses import CombinedLoss, DiceLoss, FocalLoss

    impls: dict[str, dict[str, LossFn]] = {
        "Dice": {"classweights": DiceLoss(), "plain one-hot": plain_dice},
        "CE+Dice": {"classweights": CombinedLoss(), "plain one-hot": plain_ce_dice},
        "Focal": {"classweights": FocalLoss(gamma=2.0), "plain CE-based": plain_focal},
    }
    try:
        import monai.losses as ml
    except ImportError:
        return impls

    def channel_target(fn: LossFn) -> LossFn:
        return lambda x, y: fn(x, y.unsqueeze(1))

    impls["Dice"]["MONAI"] = channel_target(ml.DiceLoss(softmax=True, to_onehot_y=True))
    impls["CE+Dice"]["MONAI"] = channel_target(
        ml.DiceCELoss(softmax=True, to_onehot_y=True, lambda_ce=0.6, lambda_dice=0.4)
    )
    impls["Focal"]["MONAI"] = channel_target(
        ml.FocalLoss(use_softmax=True, to_onehot_y=True, gamma=2.0)
    )
    return impls


def make_inputs(size: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    n, c, *spatial = size
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, *spatial, generator=g)
    y = torch.randint(0, c, (n, *spatial), generator=g)
    return x, y


def one_pass(fn: LossFn, x0: torch.Tensor, y: torch.Tensor) -> float:
    x = x0.clone().requires_grad_()
    start = time.perf_counter()
    fn(x, y).backward()
    return time.perf_counter() - start


def peak_memory(kind: str, name: str, size: list[int]) -> float:
    """Peak extra RSS (MiB) of one forward+backward, in a fresh process."""
    cmd = [sys.executable, __file__, "--mem", kind, name, "--size", *map(str, size)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])["mib"])


def _mem_child(kind: str, name: str, size: list[int]) -> None:
    fn = implementations()[kind][name]
    small_x, small_y = make_inputs([1, size[1], 8, 8])
    one_pass(fn, small_x, small_y)  # load kernels and lazy imports first
    x0, y = make_inputs(size)
    x = x0.clone().requires_grad_()
    before = _reset_peak_rss()
    fn(x, y).backward()
    after = _status_kib("VmHWM")
    print(json.dumps({"mib": (after - before) / 1024}))


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def _reset_peak_rss() -> int:
    """Reset the peak-RSS mark (Linux >= 4.0) and return the current RSS in KiB.

    ``ru_maxrss`` cannot be used: Linux carries it over from the parent across fork+exec.
    """
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status_kib("VmRSS")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", type=int, nargs="+", default=[4, 19, 512, 1024])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--mem", nargs=2, metavar=("KIND", "NAME"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.mem:
        _mem_child(args.mem[0], args.mem[1], args.size)
        return
    impls = implementations()
    x0, y = make_inputs(args.size)
    print(
        f"# size {tuple(args.size)} float32, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {args.repeats} repeats",
        file=sys.stderr,
    )
    print("| loss | implementation | median s | ratio ours/fastest peer | peak extra MiB |")
    print("|---|---|---:|---:|---:|")
    for kind, group in impls.items():
        times: dict[str, list[float]] = {name: [] for name in group}
        for fn in group.values():
            one_pass(fn, x0, y)  # warm-up
        for r in range(args.repeats):
            names = list(group)
            for name in names[r % len(names) :] + names[: r % len(names)]:
                times[name].append(one_pass(group[name], x0, y))
        med = {name: statistics.median(ts) for name, ts in times.items()}
        fastest_peer = min(v for k, v in med.items() if k != "classweights")
        for name, m in med.items():
            ratio = f"{m / fastest_peer:.2f}" if name == "classweights" else ""
            mem = "" if args.no_memory else f"{peak_memory(kind, name, args.size):.0f}"
            print(f"| {kind} | {name} | {m:.3f} | {ratio} | {mem} |", flush=True)


if __name__ == "__main__":
    main()
