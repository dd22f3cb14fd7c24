"""The same scan on a Dask cluster: `open_client` for the CLI flags, `run_units` for the engine.

The engine (`scan/plan.py`) plans units of work exactly as for a local scan; `run_units` groups
them into tasks of a few dozen to a few hundred images, submits them to ``distributed`` (a bounded
window at a time, ``pure=False``, with retries) and feeds the per-image results to the engine's
collector in task order, so the result is bit-identical to the local scan for any number of
workers, any completion order, and workers lost on the way (the scheduler re-runs their tasks).
Workers run :func:`classweights.counting.count_unit`, which turns a file that fails into a
`Failure` naming it, so errors read as they do locally. Paths may be fsspec URLs; a worker
re-opens them with its own credentials from the environment or the fsspec configuration.

Dask itself is not imported until a client is asked for (``pip install 'classweights[dask]'``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .counting import CountOptions, Failure, ImageCount, Unit, count_unit
from .errors import ConfigError, require
from .sources import Scratch

log = logging.getLogger(__name__)

FLAGS = "--scheduler/--dask-local"
MIN_TASK_IMAGES = 8  # below this a task costs more in scheduling than in reading
MAX_TASK_IMAGES = 256  # above this a lost worker throws away too much work
# tasks per worker thread: enough to balance, few enough that Dask's cost per task (~5-10 ms of
# CPU across client, scheduler and worker on a 2-core machine) stays small; 2 measured 3 %
# less CPU per image than 4 on 300 masks (bench_distributed.py)
TASKS_PER_THREAD = 2


class ClusterError(RuntimeError):
    """A task failed on the cluster even after retries (e.g. it kept killing its workers)."""


def _distributed() -> Any:
    return require("distributed", "dask", FLAGS)


@contextlib.contextmanager
def open_client(scheduler: str | None = None, local_workers: int | None = None) -> Iterator[Any]:
    """A Dask client for a running scheduler or a new local cluster, closed on exit.

    Args:
        scheduler: address of a running scheduler, e.g. ``tcp://scheduler:8786``.
        local_workers: start a ``LocalCluster`` of this many worker processes (one thread each)
            on this machine instead.

    Yields:
        a ``distributed.Client``, or ``None`` when neither argument is given.

    >>> with open_client() as client:
    ...     print(client)
    None
    """
    if scheduler is None and local_workers is None:
        yield None
        return
    distributed = _distributed()
    if scheduler is not None and local_workers is not None:
        raise ConfigError(
            f"give either --scheduler ({scheduler}) or --dask-local ({local_workers}), not both"
        )
    with _quiet_dask():
        yield from _client(distributed, scheduler, local_workers)


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's own INFO lines (scheduler, nannies) only when our logger is at DEBUG (-vv)."""
    dask_log = logging.getLogger("distributed")
    before = dask_log.level
    if log.getEffectiveLevel() > logging.DEBUG:
        dask_log.setLevel(max(logging.WARNING, before))
    try:
        yield
    finally:
        dask_log.setLevel(before)


def _client(distributed: Any, scheduler: str | None, local_workers: int | None) -> Iterator[Any]:
    if scheduler is not None:
        with distributed.Client(scheduler) as client:
            log.info("connected to the Dask scheduler at %s", scheduler)
            yield client
        return
    if local_workers < 1:
        raise ConfigError(f"--dask-local needs at least 1 worker, got {local_workers}")
    with (
        distributed.LocalCluster(
            n_workers=local_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        log.info("local Dask cluster: %d workers, %s", local_workers, client.dashboard_link)
        yield client


def count_task(task: Sequence[Unit], opts: CountOptions) -> Packed | list[ImageCount | Failure]:
    """What a worker runs: read and count every unit of a task, results in input order.

    Plain results travel as one `Packed` table (a handful of arrays per task instead of two
    per image, which Dask would serialise as separate frames); a task with a failure, a note
    or unknown colours travels as the list itself.
    """
    out: list[ImageCount | Failure] = []
    scratch = Scratch()  # one decode buffer for the task's masks (see `sources.scratch`)
    for unit in task:
        out.extend(count_unit(unit, opts, scratch))
    return Packed.pack(out) or out


@dataclass
class Packed:
    """The per-image results of a task as one compact table (with the volume rows and the
    components of each image when the scan has them)."""

    sources: list[str]
    totals: NDArray[np.int64]
    lengths: NDArray[np.int64]  # distinct raw values per image
    values: NDArray[np.int64]  # all images' raw values, concatenated
    counts: NDArray[np.int64]
    # 3-D volumes: (spacing, shape, units assumed) of every image, as `ImageCount` holds them;
    # None: all 2-D
    volumes: list[tuple[Any, Any]] | None = None
    # objects: components per image (-1: none looked for), their classes and sizes, concatenated
    object_lengths: NDArray[np.int64] | None = None
    object_classes: NDArray[np.int64] | None = None
    object_sizes: NDArray[np.int64] | None = None
    fused: NDArray[np.bool_] | None = None  # counted by the fused PNG path (None: none was)

    @classmethod
    def pack(cls, items: list[ImageCount | Failure]) -> Packed | None:
        if not all(
            type(it) is ImageCount
            and not it.notes
            and not it.unknown_colors
            and it.palette is None  # palette images travel as they are (their colours)
            for it in items
        ):
            return None
        packed = cls(
            [it.source for it in items],
            np.array([it.total for it in items], np.int64),
            np.array([it.values.size for it in items], np.int64),
            np.concatenate([it.values for it in items]) if items else np.zeros(0, np.int64),
            np.concatenate([it.counts for it in items]) if items else np.zeros(0, np.int64),
        )
        if any(it.decoder is not None for it in items):
            packed.fused = np.array([it.decoder is not None for it in items])
        if any(it.spacing is not None or it.shape is not None for it in items):
            packed.volumes = [(it.spacing, it.shape, it.units_assumed) for it in items]
        objs = [it.objects for it in items]
        if any(o is not None for o in objs):
            found = [o for o in objs if o is not None]
            packed.object_lengths = np.array([-1 if o is None else o[0].size for o in objs])
            packed.object_classes = np.concatenate([o[0] for o in found]).astype(np.int64)
            packed.object_sizes = np.concatenate([o[1] for o in found]).astype(np.int64)
        return packed

    def unpack(self) -> list[ImageCount | Failure]:
        cuts = np.cumsum(self.lengths)[:-1]
        out: list[ImageCount | Failure] = [
            ImageCount(s, v, c, int(t))
            for s, t, v, c in zip(
                self.sources,
                self.totals.tolist(),
                np.split(self.values, cuts),
                np.split(self.counts, cuts),
                strict=True,
            )
        ]
        if self.fused is not None:
            for it, fused in zip(out, self.fused.tolist(), strict=True):
                it.decoder = "fused" if fused else None  # type: ignore[union-attr]
        if self.volumes is not None:
            for it, (spacing, shape, assumed) in zip(out, self.volumes, strict=True):
                it.spacing, it.shape = spacing, shape  # type: ignore[union-attr]
                it.units_assumed = assumed  # type: ignore[union-attr]
        if self.object_lengths is not None:
            ends = np.cumsum(np.maximum(self.object_lengths, 0))
            for it, k, end in zip(out, self.object_lengths.tolist(), ends.tolist(), strict=True):
                if k >= 0:
                    sl = slice(end - k, end)
                    it.objects = (self.object_classes[sl], self.object_sizes[sl])  # type: ignore
        return out


def partition(units: Sequence[Unit], per_task: int) -> list[list[Unit]]:
    """Group consecutive units into tasks of about ``per_task`` images, keeping their order.

    >>> from classweights.sources import Entry
    >>> units = [[(Entry("image", f"{i}.png"), [0])] for i in range(5)]
    >>> [len(t) for t in partition(units, 2)]
    [2, 2, 1]
    """
    tasks: list[list[Unit]] = []
    current: list[Unit] = []
    size = 0
    for u in units:
        current.append(u)
        size += _images(u)
        if size >= per_task:
            tasks.append(current)
            current, size = [], 0
    if current:
        tasks.append(current)
    return tasks


def task_size(total: int, threads: int) -> int:
    """Images per task: a whole number of tasks per worker thread (at least two), each of at
    most 256 images and at least 8, so equal workers finish together.

    >>> task_size(20, 2), task_size(300, 2), task_size(1200, 2), task_size(10**6, 64)
    (8, 75, 200, 253)
    """
    threads = max(1, threads)
    per_thread = max(TASKS_PER_THREAD, math.ceil(total / (MAX_TASK_IMAGES * threads)))
    want = math.ceil(total / (per_thread * threads))
    return max(MIN_TASK_IMAGES, min(MAX_TASK_IMAGES, want))


def run_units(
    units: Sequence[Unit],
    total: int,
    opts: CountOptions,
    client: Any,
    collector: Any,
    progress: Callable[[int, int], None] | None,
    *,
    images_per_task: int | None = None,
    retries: int = 2,
) -> None:
    """Count the units on the cluster and hand every task's results to ``collector.add_batch``
    in order.

    Tasks are submitted a bounded window at a time (two per worker thread, and at most 64
    ahead of the oldest unfinished one, so results waiting for their turn stay few). A task
    whose worker dies is re-run by the scheduler; one that raises is retried ``retries`` times.
    ``progress(images_done, total)`` is called from this thread as tasks finish.
    """
    distributed = _distributed()
    threads = max(1, sum(client.nthreads().values()))
    tasks = partition(units, images_per_task or task_size(total, threads))
    sizes = [sum(_images(u) for u in t) for t in tasks]
    window = max(2, TASKS_PER_THREAD * threads)
    ahead = max(window, 64)
    live: dict[str, tuple[Any, int]] = {}  # future key -> (future, task number)
    pending = distributed.as_completed()
    ready: dict[int, Packed | list[ImageCount | Failure]] = {}
    submitted = next_out = done = 0
    start = time.perf_counter()
    log.info("scanning %d images in %d tasks on %d Dask threads", total, len(tasks), threads)

    def fill() -> None:
        nonlocal submitted
        while submitted < len(tasks) and len(live) < window and submitted - next_out < ahead:
            f = client.submit(count_task, tasks[submitted], opts, pure=False, retries=retries)
            live[f.key] = (f, submitted)
            pending.add(f)
            submitted += 1

    try:
        fill()
        for f in pending:
            i = live.pop(f.key)[1]
            try:
                ready[i] = f.result()
            except distributed.KilledWorker as e:
                raise ClusterError(_killed_message(tasks[i], e)) from None
            f.release()
            done += sizes[i]
            while next_out in ready:  # in task order, whatever order tasks finish in
                result = ready.pop(next_out)
                collector.add_batch(result.unpack() if isinstance(result, Packed) else result)
                next_out += 1
            if progress:
                progress(done, total)
            fill()
    finally:
        if live:
            client.cancel([f for f, _ in live.values()])
    took = time.perf_counter() - start
    log.info("%d images in %.1f s (%.0f images/s)", done, took, done / took if took else 0.0)


def _images(unit: Unit) -> int:
    return sum(len(ix) for _, ix in unit)


def _killed_message(task: Sequence[Unit], e: BaseException) -> str:
    paths = [entry.path for unit in task for entry, _ in unit]
    where = paths[0] if len(paths) == 1 else f"{paths[0]} .. {paths[-1]} ({len(paths)} files)"
    return (
        f"the task reading {where} killed its Dask worker on every try ({e}); a worker may be "
        "running out of memory: give workers more memory or fewer threads, or find the file "
        "with a local scan of those paths"
    )
