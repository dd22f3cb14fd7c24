"""Planning a scan of path sources: which images (all, a seeded sample, given indices) and in
which units of work (a few images each, made lazily, in file order)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..counting import Unit
from ..errors import ConfigError
from ..sources import Entry, is_url, png_header
from .settings import ScanSettings

#: pixels per image when a source's image size is unknown before decoding
TYPICAL_PIXELS = 1 << 20


def pick(settings: ScanSettings, population: int) -> NDArray[np.int64] | None:
    """Sorted indices of a seeded sample of ``population`` images, or None for all."""
    indices = settings.index_array
    if indices is not None:
        if indices.size and (indices[0] < 0 or indices[-1] >= population):
            raise ConfigError(
                f"image indices must lie in 0..{population - 1}; got "
                f"{int(indices[0])}..{int(indices[-1])}"
            )
        return indices
    sample = settings.sample
    if sample is None:
        return None
    k = round(sample * population) if isinstance(sample, float) else int(sample)
    k = max(1, min(k, population))
    if k >= population:
        return None
    rng = np.random.default_rng(settings.seed)
    return np.sort(rng.choice(population, size=k, replace=False))


def sample_info(
    settings: ScanSettings, picked: NDArray[np.int64] | None, population: int
) -> dict[str, Any] | None:
    """What ``ClassStats.sample`` records of a sampled scan (None for a full one)."""
    if not settings.sampling:
        return None
    if picked is None and settings.index_array is not None:
        picked = settings.index_array
    n = population if picked is None else len(picked)
    requested = settings.sample if settings.index_array is None else "indices"
    return {"requested": requested, "seed": settings.seed, "images": n, "population": population}


def units(
    settings: ScanSettings, entries: Sequence[Entry], per_unit: int = 4
) -> tuple[Iterator[Unit], int, NDArray[np.int64] | None]:
    """Units of work (``per_unit`` images each, `unit_images`; made lazily), the image count
    and the sample."""
    population = sum(e.n for e in entries)
    picked = pick(settings, population)
    total = population if picked is None else len(picked)
    # the last images go one per unit, so that no worker idles while another ends on a unit
    # of four (a 0.2 s scan on 2 workers kept 1.87 cores busy; decode-only keeps 1.98)
    workers = settings.worker_count
    per_unit = min(per_unit, max(4, total // (4 * workers)))  # at least 4 units a worker
    return _units(entries, picked, total - 4 * workers, per_unit), total, picked


def unit_images(pixels: int) -> int:
    """Images a unit of work of a local scan holds: 4, or up to 32 of images below 1 M pixels,
    so that a unit is ~4 M pixels of work (each unit costs a task and one collection step:
    ~30 us, a sixth of counting a 360 x 480 mask with the fused PNG path). A Dask scan keeps
    units of 4: its tasks (`distributed.task_size`) batch them.

    >>> unit_images(1024 * 2048), unit_images(360 * 480), unit_images(64 * 128)
    (4, 24, 32)
    """
    return max(4, min(32, (1 << 22) // max(pixels, 1)))


def _units(
    entries: Sequence[Entry],
    picked: NDArray[np.int64] | None,
    singles_from: int | None = None,
    per_unit: int = 4,
) -> Iterator[Unit]:
    current: Unit = []
    size = start = j = done = 0
    for e in entries:
        if picked is None:
            local = list(range(e.n))
        else:
            k = int(np.searchsorted(picked, start + e.n))
            local = (picked[j:k] - start).tolist()
            j = k
        start += e.n
        # stacks: at most 16 images per unit; an .npz member is one unit, read in one pass (a
        # compressed stream cannot seek: units of 16 each decompressed it from its start, so a
        # 1,000-image member took 9x as long as the same .npy, and the cost grew with n^2)
        # an .npy stack: 64 consecutive images, counted in one kernel call (`count_stack`)
        step = max(1, len(local)) if e.kind == "npz" else 64 if e.kind == "npy" else 16
        for s in range(0, len(local), step):
            chunk = local[s : s + step]
            current.append((e, chunk))
            size += len(chunk)
            done += len(chunk)
            if size >= per_unit or (singles_from is not None and done >= singles_from):
                yield current
                current, size = [], 0
    if current:
        yield current


def pixels_per_image(entries: Sequence[Entry]) -> int:
    """Pixels of the first image when its PNG header says so (33 bytes read), else typical."""
    if entries and entries[0].kind == "image" and not is_url(entries[0].path):
        try:
            with open(entries[0].path, "rb") as fh:
                head = png_header(fh.read(33))
        except OSError:
            head = None
        if head is not None:
            return head[0] * head[1]
    return TYPICAL_PIXELS
