"""The scan on a Dask LocalCluster (1 and 2 worker processes) against the local threaded scan.

    python benchmarks/bench_distributed.py [--images 60] [--copies 20] [--repeats 3] [--workers 2]

Uses the Cityscapes-like 1024 x 2048 PNG masks of ``bench_scan.py`` (generated once under
$TMPDIR/classweights-bench), hard-linked ``--copies`` times so that a scan lasts a few seconds
(1,200 masks by default: ~2.5 s on two workers) and Dask's fixed costs per scan do not
dominate. Cluster start-up is timed separately and excluded from the scan times; each scan
time is the median of the repeats after one warm-up run (which also loads the Numba kernels in
the worker processes). Prints img/s, the speed-up of 2 workers over 1, the overhead of the
cluster against the local threaded scan on the same cores, and Dask's own costs measured on
the same cluster (the round trip of an empty task, and the CPU its processes use per second
while idle), which a short scan pays in full: they are why ``--copies 5`` (300 masks, 0.6 s)
shows lower ratios.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import dataset, linked_copies

import classweights as cw

OPTS = {"num_classes": 19, "ignore_index": 255}


def measure(fn, cpu, repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time (``cpu()`` sums every process doing the work)."""
    fn()  # warm-up: page cache, Numba kernels loaded in every process
    walls, cpus = [], []
    for _ in range(repeats):
        c, t = cpu(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(cpu() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    import distributed

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--copies", type=int, default=20, help="hard-linked copies of the set")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="threads of the local scan baseline")
    args = ap.parse_args()
    folder = dataset(args.images)
    if args.copies > 1:
        folder = linked_copies(folder, args.copies)
    n = args.images * max(1, args.copies)
    load = os.getloadavg()[0]
    print(f"{n} PNG masks 1024x2048, {os.cpu_count()} CPUs, median of {args.repeats}; "
          f"load average {load:.1f} at the start (shared machine: expect noise)")  # fmt: skip

    baseline = cw.scan(folder, **OPTS, workers=args.workers)
    rows: list[tuple[str, float, float, float | None]] = []
    for k in (1, args.workers):
        wall, cpu = measure(
            lambda k=k: cw.scan(folder, **OPTS, workers=k), time.process_time, args.repeats
        )
        rows.append((f"local scan, {k} thread{'s' if k > 1 else ''}", wall, cpu, None))
    t_local = rows[-1][1]
    cluster_times = {}
    for k in (1, 2):
        t0 = time.perf_counter()
        with (
            distributed.LocalCluster(
                n_workers=k, threads_per_worker=1, processes=True, dashboard_address=":0",
                silence_logs=logging.ERROR,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):  # fmt: skip
            client.wait_for_workers(k)
            startup = time.perf_counter() - t0
            s = cw.scan(folder, **OPTS, client=client)
            assert s == baseline, "the cluster scan differs from the local scan"

            def cpu(c=client) -> float:  # this process (client + scheduler) and every worker
                return time.process_time() + sum(c.run(time.process_time).values())

            wall, used = measure(
                lambda c=client: cw.scan(folder, **OPTS, client=c), cpu, args.repeats
            )
            if k == 2:
                fixed = dask_costs(client, cpu)
        cluster_times[k] = wall
        rows.append(
            (f"Dask LocalCluster, {k} worker process{'es' if k > 1 else ''}", wall, used, startup)
        )

    print("\n                                          img/s  vs local   CPU ms/img   start-up")
    for name, wall, used, startup in rows:
        up = f"{startup:7.1f} s" if startup is not None else ""
        print(f"{name:<40} {n / wall:6.1f}  {t_local / wall:8.2f}   {1e3 * used / n:10.2f}   {up}")
    print(f"\n2 workers vs 1 worker (wall): {cluster_times[1] / cluster_times[2]:.2f}x")
    over = cluster_times[2] / t_local - 1
    print(f"2-worker cluster vs the {args.workers}-thread local scan (wall): {over:+.0%}")
    cpu_over = rows[-1][2] / rows[0][2] - 1
    print(f"CPU per image, 2-worker cluster vs 1-thread local scan: {cpu_over:+.0%}")
    trip, idle = fixed
    print(f"Dask's own costs (2 workers): an empty task's round trip {1e3 * trip:.1f} ms; "
          f"{1e3 * idle:.0f} ms of CPU per second idle (workers + client + scheduler) = "
          f"{idle / (n / cluster_times[2]) * 1e3:.2f} ms per image at this scan's speed")


def _nothing() -> None:
    return None


def dask_costs(client, cpu) -> tuple[float, float]:
    """Median round trip of an empty task, and the CPU seconds per second of an idle cluster."""
    trips = []
    for _ in range(21):
        t = time.perf_counter()
        client.submit(_nothing, pure=False).result()
        trips.append(time.perf_counter() - t)
    c = cpu()
    time.sleep(2.0)
    return statistics.median(trips), (cpu() - c) / 2.0


if __name__ == "__main__":
    main()
