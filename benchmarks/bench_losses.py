"""Forward + backward time, peak extra memory and host syncs of our losses against peers.

    python benchmarks/bench_losses.py [--device cpu|cuda] [--dtype fp32 bf16]
                                      [--repeats 5] [--size 4 19 512 1024] [--threads N]

Peers: ``F.cross_entropy`` (weighted), MONAI ``DiceLoss`` / ``DiceCELoss`` / ``FocalLoss``
(if importable: ``pip install classweights[bench]``) and plain dense one-hot references
written below (the textbook implementations smp/MONAI-style code reduces to). The
subclassified loss (K=3, F=256 features at 1/8 of the label size, training mode, after
its initialisation batch) is compared with weighted ``F.cross_entropy``.

Timing: median of ``--repeats`` forward+backward passes per implementation, interleaved so
background load hits every implementation alike; CUDA events on a GPU, ``perf_counter`` on
CPU. ``bf16`` runs bfloat16 logits under ``torch.autocast``. Column "ours / this": our
median divided by this peer's (< 1 means we are faster). Peak extra memory: on a GPU the
rise of ``torch.cuda.max_memory_allocated`` during one step; on CPU the rise of the peak
RSS (``VmHWM`` after resetting it) in a fresh subprocess per implementation. Host syncs per
step (GPU only): warnings raised under ``torch.cuda.set_sync_debug_mode("warn")`` during one
step after warm-up. Results go to stdout as a Markdown table.

Latest CPU run and the GPU table of issue 21: see ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

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


def implementations(c: int, feats: torch.Tensor) -> dict[str, dict[str, LossFn]]:
    from classweights.losses import CombinedLoss, CrossEntropyLoss, DiceLoss, FocalLoss
    from classweights.losses.subclassified import SubclassifiedLoss

    w = torch.linspace(0.5, 2.0, c, device=feats.device)
    sub = SubclassifiedLoss(c, num_subclasses=3, base_weight=w.cpu()).to(feats.device).train()

    def weighted_ce(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(x, y, weight=w)

    impls: dict[str, dict[str, LossFn]] = {
        "CE (weighted)": {
            "classweights": CrossEntropyLoss(weight=w).to(feats.device),
            "F.cross_entropy": weighted_ce,
        },
        "Dice": {"classweights": DiceLoss(), "plain one-hot": plain_dice},
        "CE+Dice": {"classweights": CombinedLoss(), "plain one-hot": plain_ce_dice},
        "Focal": {"classweights": FocalLoss(gamma=2.0), "plain CE-based": plain_focal},
        "Subclassified K=3": {
            "classweights": lambda x, y: sub(x, y, feats),
            "F.cross_entropy": weighted_ce,
        },
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


def make_inputs(
    size: list[int], device: str = "cpu", seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits ``(N, C, H, W)``, labels and ``(N, 256, H/8, W/8)`` features."""
    n, c, h, w_ = size
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w_, generator=g)
    y = torch.randint(0, c, (n, h, w_), generator=g)
    feats = torch.randn(n, 256, max(h // 8, 1), max(w_ // 8, 1), generator=g)
    return x.to(device), y.to(device), feats.to(device)


def _autocast(device: str, dtype: str) -> Any:
    if dtype == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device, dtype=torch.bfloat16)


def _logits(x0: torch.Tensor, dtype: str) -> torch.Tensor:
    return (x0 if dtype == "fp32" else x0.to(torch.bfloat16)).clone().requires_grad_()


def one_pass(fn: LossFn, x0: torch.Tensor, y: torch.Tensor, dtype: str = "fp32") -> float:
    """Seconds of one forward + backward (CUDA events on a GPU)."""
    x = _logits(x0, dtype)
    if x.is_cuda:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        with _autocast("cuda", dtype):
            out = fn(x, y)
        out.backward()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1000
    start_s = time.perf_counter()
    with _autocast("cpu", dtype):
        out = fn(x, y)
    out.backward()
    return time.perf_counter() - start_s


def count_syncs(fn: LossFn, x0: torch.Tensor, y: torch.Tensor, dtype: str) -> int:
    """Host-device syncs of one step, from ``set_sync_debug_mode("warn")`` (GPU only)."""
    x = _logits(x0, dtype)
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with _autocast("cuda", dtype):
                out = fn(x, y)
            out.backward()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    torch.cuda.synchronize()
    return sum("synchroniz" in str(r.message).lower() for r in rec)


def cuda_peak_mib(fn: LossFn, x0: torch.Tensor, y: torch.Tensor, dtype: str) -> float:
    x = _logits(x0, dtype)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with _autocast("cuda", dtype):
        out = fn(x, y)
    out.backward()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def peak_memory(kind: str, name: str, size: list[int], dtype: str) -> float:
    """Peak extra RSS (MiB) of one CPU forward+backward, in a fresh process."""
    cmd = [sys.executable, __file__, "--mem", kind, name, "--size", *map(str, size)]
    cmd += ["--dtype", dtype]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])["mib"])


def _mem_child(kind: str, name: str, size: list[int], dtype: str) -> None:
    x0, y, feats = make_inputs(size)
    fn = implementations(size[1], feats)[kind][name]
    one_pass(fn, x0, y, dtype)  # load kernels, lazy imports, initialise centroids
    x = _logits(x0, dtype)
    before = _reset_peak_rss()
    with _autocast("cpu", dtype):
        out = fn(x, y)
    out.backward()
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
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--dtype", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", type=int, nargs=4, default=[4, 19, 512, 1024])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--losses", nargs="+", default=None, help="subset of the loss names")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--mem", nargs=2, metavar=("KIND", "NAME"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.mem:
        _mem_child(args.mem[0], args.mem[1], args.size, args.dtype[0])
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device is available")
    x0, y, feats = make_inputs(args.size, args.device)
    impls = implementations(args.size[1], feats)
    where = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(
        f"# {where}, size {tuple(args.size)}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {args.repeats} repeats",
        file=sys.stderr,
    )
    print("| loss | dtype | implementation | median ms | ours / this | peak extra MiB | syncs |")
    print("|---|---|---|---:|---:|---:|---:|")
    for kind, group in impls.items():
        if args.losses and not any(k.lower() in kind.lower() for k in args.losses):
            continue
        for dtype in args.dtype:
            _bench_group(kind, group, x0, y, dtype, args)


def _bench_group(
    kind: str, group: dict[str, LossFn], x0: torch.Tensor, y: torch.Tensor, dtype: str, args: Any
) -> None:
    times: dict[str, list[float]] = {name: [] for name in group}
    for fn in group.values():
        one_pass(fn, x0, y, dtype)  # warm-up (and the subclassified initialisation batch)
    for r in range(args.repeats):
        names = list(group)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(one_pass(group[name], x0, y, dtype))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, m in med.items():
        ratio = "" if name == "classweights" else f"{med['classweights'] / m:.2f}"
        if args.no_memory:
            mem = ""
        elif args.device == "cuda":
            mem = f"{cuda_peak_mib(group[name], x0, y, dtype):.0f}"
        else:
            mem = f"{peak_memory(kind, name, args.size, dtype):.0f}"
        syncs = str(count_syncs(group[name], x0, y, dtype)) if args.device == "cuda" else "n/a"
        print(
            f"| {kind} | {dtype} | {name} | {m * 1000:.2f} | {ratio} | {mem} | {syncs} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
