"""Running units of work: a bounded window of tasks on a thread pool (or inline for one
worker), results handed to the collector in submission order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from itertools import islice
from typing import Any

from ..counting import CountOptions, Failure, ImageCount, count_mask, count_unit, uses_fused_png
from ..errors import ClassWeightsError
from ..sources import PNG_DECODER_ENV, Scratch, StoredCell, ThreadScratch, fused_available
from .collect import Collector, log

ProgressFn = Callable[[int, int], None]


def log_png_decoder(opts: CountOptions, fused: int, images: int) -> None:
    """Say at INFO (shown at ``-v``) which decoder counted a scan's PNG masks, and why."""
    if fused:
        rest = "" if fused == images else "; the others were decoded by libpng / Pillow"
        log.info(
            "PNG decoder: fused (libdeflate inflate, Numba unfilter + count, no image built) for "
            "%d of %d masks%s (%s=library rules it out)",
            fused,
            images,
            rest,
            PNG_DECODER_ENV,
        )
        return
    if opts.read.png_decoder == "library":
        why = f"png_decoder='library' ({PNG_DECODER_ENV}=library)"
    elif not fused_available():
        why = "imagecodecs has no libdeflate, which the fused decoder inflates with"
    elif not opts.jit:
        why = "a job this small is counted with NumPy, not Numba; CLASSWEIGHTS_JIT=1 forces it"
    elif not uses_fused_png(opts):
        why = "the scan needs the decoded masks (objects, multi-label)"
    else:
        why = "no mask was a PNG the fused decoder reads (interlaced, 16-bit colour, damaged...)"
    log.info("PNG decoder: libpng / Pillow (%s)", why)


def _make_executor(parallel: str, workers: int) -> Executor:
    return ThreadPoolExecutor(workers, thread_name_prefix="classweights-scan")


def _drain(window: deque[Future], collector: Collector) -> int:
    items = window.popleft().result()
    collector.add_batch(items)
    return len(items)


def run_units(
    units: Iterable[Any],
    total: int,
    opts: CountOptions,
    workers: int,
    parallel: str,
    collector: Collector,
    progress: ProgressFn | None,
) -> None:
    """Count path units on ``workers`` threads (at most 4 per worker in flight)."""
    if workers == 1:
        done = 0
        scratch = Scratch()
        for u in units:
            collector.add_batch(count_unit(u, opts, scratch))
            done += sum(len(ix) for _, ix in u)
            if progress:
                progress(done, total)
        return
    window: deque[Future] = deque()
    sizes: deque[int] = deque()
    done = 0
    per_thread = ThreadScratch()  # one decode buffer per pool thread, freed with the run

    def count(u: Any) -> list[ImageCount | Failure]:
        return count_unit(u, opts, per_thread.get())

    with _make_executor(parallel, workers) as pool:
        try:
            for u in units:
                window.append(pool.submit(count, u))
                sizes.append(sum(len(ix) for _, ix in u))
                if len(window) >= 4 * workers:
                    _drain(window, collector)
                    done += sizes.popleft()
                    if progress:
                        progress(done, total)
            while window:
                _drain(window, collector)
                done += sizes.popleft()
                if progress:
                    progress(done, total)
        except BaseException:
            for f in window:
                f.cancel()
            raise


def run_items(
    items: Iterable[tuple[str, Any]],
    total: int,
    opts: CountOptions,
    workers: int,
    collector: Collector,
    progress: ProgressFn | None,
) -> None:
    """Count in-memory masks on ``workers`` threads, a few masks per task."""

    def chunk(sid_masks: list[tuple[str, Any]]) -> list[ImageCount | Failure]:
        out: list[ImageCount | Failure] = []
        for sid, m in sid_masks:
            try:
                if isinstance(m, StoredCell):  # a dataset's cell: decoded here, in the worker
                    m = m.read(opts.read)
                out.append(count_mask(m, sid, opts))
            except ClassWeightsError as e:
                out.append(Failure(sid, str(e)))
        return out

    done = 0
    items = iter(items)
    with ThreadPoolExecutor(workers) as pool:
        window: deque[Future] = deque()
        while group := list(islice(items, 4)):  # a few masks per task: batched collection
            window.append(pool.submit(chunk, group))
            if len(window) >= 4 * workers:
                done += _drain(window, collector)
                if progress:
                    progress(done, total)
        while window:
            done += _drain(window, collector)
            if progress:
                progress(done, total)
