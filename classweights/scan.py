"""The scan engine: stream masks in parallel (or a seeded sample of them) into `ClassStats`.

Workers (threads by default; decoders and the nogil kernels release the GIL) read and count
masks into sparse raw-value histograms; the calling thread maps raw values to classes through
the label space and fills the per-image table in file order, so the result is bit-identical for
any worker count. At most a few units per worker are in flight, so memory stays bounded.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .counting import CountOptions, Failure, ImageCount, MaskWarning, Unit, count_mask, count_unit
from .errors import ClassWeightsError, ConfigError, DatasetError, MaskReadError, UnknownLabelError
from .kernels_numpy import use_jit
from .labels import (
    IGNORED,
    REMAP_PRESETS,
    UNKNOWN,
    VOID,
    LabelSpace,
    resolve_class_names,
    resolve_palette,
    resolve_remap,
)
from .objects import object_options
from .sources import (
    DEFAULT_MAX_PIXELS,
    Entry,
    ReadOptions,
    discover,
    is_torch_dataset,
    is_url,
    iter_torch_dataset,
    mask_from_item,
    png_header,
)
from .stats import ClassStats, compact_uint
from .stats_extras import ExtraRows

log = logging.getLogger(__name__)

UNKNOWN_POLICIES = ("error", "ignore")
UNKNOWN_VALUE = np.iinfo(np.int64).max  # raw-value stand-in for "a colour not in the table"
ERROR_POLICIES = ("fail", "skip")
PARALLEL_MODES = ("threads",)  # "processes" was removed: see _PROCESSES_REMOVED
ProgressFn = Callable[[int, int], None]


# ---- the engine -----------------------------------------------------------------------------
class _Table:
    """The per-image table while it is filled: int64 rows in one growing block (no per-image
    arrays), so memory is a few machine words per image and class."""

    def __init__(self, num_classes: int, capacity: int = 1024):
        self.n = 0
        self.rows = np.zeros((max(capacity, 1), num_classes), np.int64)
        self.totals = np.zeros((max(capacity, 1), 2), np.int64)  # ignored, unknown

    def next_row(self) -> NDArray[np.int64]:
        """A zeroed row for the next image (its totals start at 0)."""
        if self.n == len(self.rows):
            grow = len(self.rows)
            self.rows = np.concatenate([self.rows, np.zeros_like(self.rows[:grow])])
            self.totals = np.concatenate([self.totals, np.zeros_like(self.totals[:grow])])
        self.n += 1
        return self.rows[self.n - 1]

    def next_rows(self, k: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Zeroed rows and totals (ignored, unknown) for the next ``k`` images, as views."""
        while self.n + k > len(self.rows):
            grow = len(self.rows)
            self.rows = np.concatenate([self.rows, np.zeros_like(self.rows[:grow])])
            self.totals = np.concatenate([self.totals, np.zeros_like(self.totals[:grow])])
        self.n += k
        return self.rows[self.n - k : self.n], self.totals[self.n - k : self.n]

    def set_totals(self, ignored: int, unknown: int) -> None:
        self.totals[self.n - 1] = (ignored, unknown)

    def arrays(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        return self.rows[: self.n], self.totals[: self.n, 0].copy(), self.totals[: self.n, 1].copy()


class _Collector:
    """Maps raw histograms to class rows in the calling thread, in input order.

    With ``num_classes`` known, each image is mapped as it arrives, so unknown labels stop the
    scan early (after the third file holding them); otherwise raw histograms are kept until the
    largest label is known.
    """

    def __init__(self, space: LabelSpace, multilabel: bool, on_error: str, unknown: str):
        self.space = space
        self.multilabel = multilabel
        self.on_error = on_error
        self.unknown = unknown
        self.raw: list[tuple[NDArray[np.int64], NDArray[np.int64]]] = []
        self.table = _Table(space.num_classes) if space.num_classes else None
        self.sources: list[str] = []
        self.total: list[int] = []
        self.skipped: list[tuple[str, str]] = []
        self.unknown_values: dict[str, int] = {}
        self.unknown_files: dict[str, list[str]] = {}
        self.bad_files: set[str] = set()
        self.volumes = ExtraRows()
        self._lut = space.map_values(np.arange(65536)) if space.num_classes else None

    def reserve(self, images: int) -> None:
        """Size the table for ``images`` rows up front (no regrowth copies)."""
        if self.table is not None and self.table.n == 0:
            self.table = _Table(self.space.num_classes, capacity=images)

    def add_batch(self, items: list[ImageCount | Failure]) -> None:
        """Add a unit's results in order: one vectorised mapping for the whole unit.

        The common case (known classes, single-label, no failure, note, unknown colour or
        unknown label in the unit) costs a dozen NumPy calls per unit instead of per image;
        anything else goes through `add` one image at a time, with the same result.
        """
        lut = self._lut
        if (
            lut is None
            or self.multilabel
            or len(items) < 2
            or not all(type(it) is ImageCount and not it.notes and not it.unknown_colors
                       and it.spacing is None and it.shape is None and it.objects is None
                       for it in items)  # fmt: skip  (volumes and objects: per image)
        ):
            for it in items:
                self.add(it)
            return
        values = np.concatenate([it.values for it in items])
        counts = np.concatenate([it.counts for it in items])
        if values.size and values.min() >= 0 and values.max() < lut.size:
            cls = lut[values]
        else:
            cls = self.space.map_values(values)
        if (cls == UNKNOWN).any():  # unknown labels: per image, to stop after the third file
            for it in items:
                self.add(it)
            return
        k = len(items)
        image = np.repeat(np.arange(k), [it.values.size for it in items])
        rows, totals = self.table.next_rows(k)
        valid = cls >= 0
        np.add.at(rows, (image[valid], cls[valid]), counts[valid])
        ignored = ~valid
        if ignored.any():
            np.add.at(totals[:, 0], image[ignored], counts[ignored])
        self.sources.extend(it.source for it in items)
        self.total.extend(it.total for it in items)

    def add(self, item: ImageCount | Failure) -> None:
        if isinstance(item, Failure):
            if self.on_error == "skip":
                log.warning("skipped %s", item.message)
                self.skipped.append((item.source, item.message))
                return
            raise MaskReadError(item.message)
        for note in item.notes:  # worker threads never touch the global warning filters
            warnings.warn(note, MaskWarning, stacklevel=5)
        self.sources.append(item.source)
        self.total.append(item.total)
        self.volumes.add(item)
        values, counts = item.values, item.counts
        if item.unknown_colors:  # colours outside the table: counted as unknown pixels
            for key, c in item.unknown_colors.items():
                self._unknown(key, c, item.source)
            values = np.append(values, UNKNOWN_VALUE)
            counts = np.append(counts, sum(item.unknown_colors.values()))
        if self._lut is None:
            self.raw.append((values, counts))
        else:
            self._map(values, counts, item.source, self.space, self._lut)
        if self.unknown == "error" and len(self.bad_files) >= 3:
            raise self.unknown_error(self.space)

    def _map(self, values, counts, source, space, lut) -> None:
        n_cls = space.num_classes
        if values.size and values[-1] == UNKNOWN_VALUE:
            cls = np.append(space.map_values(values[:-1]), UNKNOWN)
            return self._append(values, counts, cls, source, n_cls)
        if self.multilabel:
            row = self.table.next_row()
            row[values] = counts
            return
        if values.size and values.min() >= 0 and values.max() < lut.size:
            cls = lut[values]
        else:
            cls = space.map_values(values)
        self._append(values, counts, cls, source, n_cls)

    def _append(self, values, counts, cls, source, n_cls) -> None:
        valid = cls >= 0
        row = self.table.next_row()
        np.add.at(row, cls[valid], counts[valid])
        unk = cls == UNKNOWN
        self.table.set_totals(int(counts[cls == IGNORED].sum()), int(counts[unk].sum()))
        for v, c in zip(values[unk].tolist(), counts[unk].tolist()):
            if v != UNKNOWN_VALUE:  # unknown colours are recorded by colour in add()
                self._unknown(str(v), c, source)

    def _unknown(self, key: str, count: int, source: str) -> None:
        self.unknown_values[key] = self.unknown_values.get(key, 0) + int(count)
        self.bad_files.add(source)
        files = self.unknown_files.setdefault(key, [])
        if len(files) < 3:
            files.append(source)

    def finish(self, settings: dict[str, Any], names: list[str] | None) -> ClassStats:
        if not self.sources:
            detail = (
                f"; {len(self.skipped)} file(s) skipped, first: {self.skipped[0][1]}"
                if self.skipped
                else ""
            )
            raise DatasetError(f"no image could be counted{detail}")
        space = self.space
        if space.num_classes is None:
            space = LabelSpace(
                self._infer_classes(), space.ignore_index, space.remap, space.reduce_zero_label
            )
            lut = space.map_values(np.arange(65536))
            self.table = _Table(space.num_classes, capacity=len(self.raw))
            for (values, counts), src in zip(self.raw, self.sources):
                self._map(values, counts, src, space, lut)
        if self.unknown_values and self.unknown == "error":
            raise self.unknown_error(space)
        rows, ignored, unknown = self.table.arrays()
        return ClassStats(
            num_classes=space.num_classes,
            ignore_index=space.ignore_index,
            counts=rows.astype(compact_uint(int(rows.max(initial=0)))),
            image_total=np.asarray(self.total, np.int64),
            image_ignored=ignored,
            image_unknown=unknown,
            sources=self.sources,
            class_names=names,
            multilabel=self.multilabel,
            unknown_values=dict(sorted(self.unknown_values.items())),
            skipped=self.skipped,
            settings=settings | {"num_classes": space.num_classes},
            **self.volumes.fields(space.num_classes),
        )

    def _infer_classes(self) -> int:
        ig = self.space.ignore_index
        top = -1
        probe = LabelSpace(None, ig, self.space.remap, self.space.reduce_zero_label)
        for values, _ in self.raw:
            values = values[values != UNKNOWN_VALUE]
            cls = values if self.multilabel else probe.map_values(values)
            cls = cls[cls >= 0]
            if cls.size:
                top = max(top, int(cls.max()))
        n = top + 1 if top >= 0 else 1
        log.warning("num_classes not given; inferred %d from the largest label seen (%d)", n, top)
        return n

    def unknown_error(self, space: LabelSpace) -> UnknownLabelError:
        items = sorted(self.unknown_values.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{k} ({v:,} px)" for k, v in items[:8])
        more = f" and {len(items) - 8} more" if len(items) > 8 else ""
        files = self.unknown_files[items[0][0]]
        colours = items[0][0].startswith("#")
        if colours:
            what = "colours not in the colour table"
            fix = "add them to the colour table, or pass --unknown ignore to count them as unknown"
        else:
            from .hints import unknown_label_fix

            what = f"labels outside 0..{space.num_classes - 1} that are not the ignore index ({space.ignore_index})"
            rows = self.table.rows[: self.table.n] if self.table is not None else None
            fix = unknown_label_fix(
                (int(k) for k in self.unknown_values if k.lstrip("-").isdigit()),
                num_classes=space.num_classes, ignore_index=space.ignore_index,
                remap=space.remap, reduce_zero_label=space.reduce_zero_label,
                zero_seen=bool(rows is not None and rows[:, 0].any()),
            )  # fmt: skip
        return UnknownLabelError(f"{what}: {shown}{more}; first in {', '.join(files)}; {fix}")


def scan(
    source: Any,
    *,
    num_classes: int | None = None,
    ignore_index: int | None = None,
    remap: Any = None,
    reduce_zero_label: bool = False,
    classes: Any = None,
    palette: Any = None,
    glob: str | None = None,
    multilabel: bool = False,
    sample: int | float | None = None,
    seed: int = 0,
    workers: int | None = None,
    unknown: Literal["error", "ignore"] = "error",
    on_error: Literal["fail", "skip"] = "fail",
    parallel: Literal["threads"] = "threads",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    indices: Sequence[int] | None = None,
    client: Any = None,
    progress: ProgressFn | None = None,
    entries: Sequence[Entry] | None = None,
    objects: bool | Literal["full", "face"] = False,
    layout: str | None = None,
    split: str | None = None,
    split_file: Any = None,
    root: Any = None,
    suffix: str | None = None,
) -> ClassStats:
    """Scan label masks into exact per-class statistics.

    Args:
        source: a folder (recursive), a mask file (PNG/TIFF, ``.npy``, ``.npz``), a text file
            listing mask paths (relative to the list), a zarr array or group, a list of those,
            a Python iterable of arrays / ``(image, mask)`` pairs / dicts, or a torch Dataset.
        num_classes: number of classes; inferred from the largest label when ``None``.
        ignore_index: label value that is ignored (never a class), e.g. 255.
        remap: raw value -> label table: preset (``"cityscapes"``: labelId -> trainId), a
            JSON/YAML file or a mapping. Values not in the table keep their value.
        reduce_zero_label: ADE20K convention: 0 -> ignore, k -> k-1 (applied before ``remap``).
        classes: class names: preset (cityscapes, camvid, pascal-voc, ade20k, celebamask-hq),
            a names file or a list. Sets ``num_classes`` when that is not given.
        palette: colour table for RGB masks: preset, file or mapping.
        glob: pattern selecting files inside folders (e.g. ``"**/*_labelTrainIds.png"``).
        multilabel: masks are C x H x W 0/1 stacks, or one binary PNG per class and image
            (``{id}_{class}.png``, needs ``classes``); counts become per-class positives.
        sample: scan a seeded random sample: a count (``1000``) or a fraction (``0.1``).
        seed: sampling seed.
        workers: parallel workers (default: CPU count).
        unknown: ``"error"`` (default) stops on labels that are neither a class nor ignored;
            ``"ignore"`` counts them as unknown pixels.
        on_error: ``"fail"`` (default) stops on an unreadable file; ``"skip"`` skips and lists it.
        parallel: ``"threads"`` (the only mode: decoders and kernels release the GIL; a
            process pool was 3-7x slower at every worker count measured, so it was removed;
            for more cores than one process can keep busy, pass ``client``).
        max_pixels: refuse images declaring more pixels than this (decompression bombs).
        indices: scan only these images (positions in the dataset's image order, as
            :func:`count_images` counts them); the result is marked sampled.
        client: a ``distributed.Client``: run the same reading and counting on a Dask cluster
            (paths may then be fsspec URLs); the result is identical to the local scan.
        progress: called as ``progress(images_done, images_total)`` from the calling thread.
        entries: already discovered entries of ``source`` (the cache passes the changed files
            of an incremental rescan); skips discovery.
        objects: also find the connected components of every class (``True`` or ``"full"``:
            8-connected in 2-D, 26 in 3-D; ``"face"``: 4 / 6), see :mod:`classweights.objects`.
        layout: a dataset layout (``voc``, ``cityscapes``, ``ade20k``, ``camvid``,
            ``coco-stuff``, ``celebamask-hq``, ``mapillary``, ``nnunet``; see
            :mod:`classweights.layouts`): ``source`` is the dataset's folder and the layout fills
            in every setting not given explicitly.
        split: ``train``/``val``/... of the layout.
        split_file: a text file of ids (mmseg's ``ann_file``); masks are
            ``root / (id + suffix)``, ``root`` defaulting to ``source``, ``suffix`` to ``.png``.

    Returns:
        ClassStats with the per-image table in input order.

    >>> import numpy as np
    >>> masks = [np.array([[0, 1], [1, 255]], np.uint8), np.array([[2, 2], [2, 2]], np.uint8)]
    >>> s = scan(masks, num_classes=3, ignore_index=255)
    >>> s.pixels.tolist(), s.images.tolist(), s.ignored_pixels
    ([1, 2, 4], [1, 1, 1], 1)
    """
    if parallel == "processes":
        raise ConfigError(_PROCESSES_REMOVED)
    if any(v is not None for v in (layout, split, split_file, root, suffix)):
        from .layouts import apply

        source, s = apply(source, {
            "layout": layout, "split": split, "split_file": split_file, "root": root,
            "suffix": suffix, "num_classes": num_classes, "ignore_index": ignore_index,
            "remap": remap, "reduce_zero_label": reduce_zero_label, "classes": classes,
            "palette": palette, "glob": glob, "multilabel": multilabel,
        })  # fmt: skip
        num_classes, ignore_index, remap = s["num_classes"], s["ignore_index"], s["remap"]
        reduce_zero_label, classes, palette = s["reduce_zero_label"], s["classes"], s["palette"]
        glob, multilabel = s["glob"], s["multilabel"]
    plan = _Plan.build(
        num_classes=num_classes, ignore_index=ignore_index, remap=remap,
        reduce_zero_label=reduce_zero_label, classes=classes, palette=palette,
        multilabel=multilabel, unknown=unknown, on_error=on_error, parallel=parallel,
        max_pixels=max_pixels, sample=sample, seed=seed, glob=glob, indices=indices,
        objects=objects,
    )  # fmt: skip
    workers = max(1, int(workers or os.cpu_count() or 1))
    collector = _Collector(
        plan.space, multilabel, on_error, unknown
    )  # sized once the count is known
    if is_path_source(source):
        if entries is None:
            entries = discover(source, glob=glob, multilabel=multilabel, class_names=plan.names)
        units, total, picked = plan.units(entries)
        collector.reserve(total)
        opts = _with_kernels(plan.count_opts, total * _pixels_per_image(entries))
        if client is not None:
            from .distributed import run_units as run_on_cluster

            run_on_cluster(list(units), total, opts, client, collector, progress)
        else:
            _run_units(units, total, opts, workers, parallel, collector, progress)
        paths = [
            os.fspath(s) for s in ([source] if isinstance(source, (str, os.PathLike)) else source)
        ]
        sample_info = plan.sample_info(picked, total_population=sum(e.n for e in entries))
    else:
        total, items, picked, population = _in_memory(source, plan, workers)
        opts = _with_kernels(plan.count_opts, total * _TYPICAL_PIXELS)
        _run_items(items, total, opts, workers, collector, progress)
        paths = [f"<{type(source).__name__}>"]
        sample_info = plan.sample_info(picked, population or total)
    stats = collector.finish(plan.settings | {"paths": paths}, plan.names)
    warn_void_label(stats, plan.settings)
    if sample_info:
        stats.sample = sample_info
        stats.sampled = sample_info["images"] < sample_info["population"]
    return stats


class VoidLabelWarning(UserWarning):
    """``num_classes`` was inferred as 256 only because label 255 (usually void) is present."""


def warn_void_label(stats: ClassStats, settings: dict[str, Any]) -> None:
    """Warn when 255 made the inferred ``num_classes`` 256 while no label lies just below it.

    Called on every path that returns statistics (a scan, a cache hit), so the warning does not
    depend on where the numbers came from.
    """
    if settings.get("num_classes") is not None or stats.ignore_index is not None:
        return
    if stats.multilabel or stats.num_classes != 256 or not stats.pixels[255]:
        return
    below = np.flatnonzero(stats.pixels[:255])
    top = int(below[-1]) if below.size else -1
    if top >= 254:  # labels run right up to 255: plausibly 256 real classes
        return
    warnings.warn(
        f"num_classes was inferred as 256 because label 255 is present, but no label lies "
        f"between {top + 1} and 254: 255 looks like the void label; pass --ignore-index 255 "
        f"(and --num-classes {top + 1}) to ignore it, or --num-classes 256 if it is a class",
        VoidLabelWarning,
        stacklevel=3,
    )


@dataclass
class _Plan:
    space: LabelSpace
    names: list[str] | None
    count_opts: CountOptions
    sample: int | float | None
    seed: int
    settings: dict[str, Any]
    indices: NDArray[np.int64] | None = None

    @classmethod
    def build(cls, *, num_classes, ignore_index, remap, reduce_zero_label, classes, palette,
              multilabel, unknown, on_error, parallel, max_pixels, sample, seed, glob,
              indices=None, objects=False) -> _Plan:  # fmt: skip
        for value, allowed, flag in (
            (unknown, UNKNOWN_POLICIES, "unknown"),
            (on_error, ERROR_POLICIES, "on_error"),
            (parallel, PARALLEL_MODES, "parallel"),
        ):
            if value not in allowed:
                raise ConfigError(f"{flag}={value!r} is not one of {', '.join(allowed)}")
        for flag, value in (("num_classes", num_classes), ("ignore_index", ignore_index)):
            if isinstance(value, (bool, np.bool_)) or (  # True would pass as 1 silently
                flag == "ignore_index"
                and not (value is None or isinstance(value, (int, np.integer)))
            ):
                raise ConfigError(f"{flag} must be a whole number, got {value!r}")
        names = resolve_class_names(classes)
        if names is not None:
            if num_classes is None:
                num_classes = len(names)
            elif len(names) != num_classes:
                raise ConfigError(
                    f"{len(names)} class names given but num_classes={num_classes}; "
                    "give as many names as classes"
                )
        table = resolve_palette(palette)
        if table and VOID in table.values():  # a preset's void colours -> the ignore index
            if ignore_index is None:
                ignore_index = 255
                log.info("the colour table's void colours are ignored as label 255")
            table = {c: ignore_index if v == VOID else v for c, v in table.items()}
        try:
            space = LabelSpace(num_classes, ignore_index, resolve_remap(remap), reduce_zero_label)
        except ConfigError as e:  # a table checked against the classes: name its file
            if isinstance(remap, (str, os.PathLike)) and str(remap) not in REMAP_PRESETS:
                raise ConfigError(f"{remap}: {e}") from None
            raise
        keys = labels = None
        if table:
            keys = np.array([(r << 16) | (g << 8) | b for r, g, b in table], np.int64)
            labels = np.array(list(table.values()), np.int64)
            order = np.argsort(keys)
            keys, labels = keys[order], labels[order]
        _check_sample(sample)
        hint = max(256, (num_classes or 0) + 1, (ignore_index or 0) + 1,
                   max((space.remap or {0: 0}).keys()) + 1)  # fmt: skip
        opts = CountOptions(
            ReadOptions(multilabel=multilabel, rgb=table is not None, max_pixels=max_pixels),
            num_classes, min(hint, 1 << 20), keys, labels,
            objects=object_options(objects, space, multilabel, table is not None),
        )  # fmt: skip
        settings = space.settings() | {
            "palette": {f"#{int(k):06x}": int(v) for k, v in zip(keys, labels)} if table else None,
            "multilabel": multilabel, "glob": glob, "sample": sample, "seed": seed,
            "unknown": unknown, "max_pixels": max_pixels,
        }  # fmt: skip
        if opts.objects is not None:  # only when asked: keys of plain scans stay as they were
            settings["objects"] = opts.objects.connectivity
        if indices is not None:
            indices = np.unique(np.asarray(indices, dtype=np.int64))
            if sample is not None:
                raise ConfigError("give either sample or indices, not both")
        return cls(space, names, opts, sample, seed, settings, indices)

    def pick(self, population: int) -> NDArray[np.int64] | None:
        """Sorted indices of a seeded sample of ``population`` images, or None for all."""
        if self.indices is not None:
            if self.indices.size and (self.indices[0] < 0 or self.indices[-1] >= population):
                raise ConfigError(
                    f"image indices must lie in 0..{population - 1}; got "
                    f"{int(self.indices[0])}..{int(self.indices[-1])}"
                )
            return self.indices
        if self.sample is None:
            return None
        k = (
            int(round(self.sample * population))
            if isinstance(self.sample, float)
            else int(self.sample)
        )
        k = max(1, min(k, population))
        if k >= population:
            return None
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(population, size=k, replace=False))

    def sample_info(self, picked: NDArray[np.int64] | None, total_population: int) -> dict | None:
        if self.sample is None and self.indices is None:
            return None
        if picked is None and self.indices is not None:
            picked = self.indices
        n = total_population if picked is None else len(picked)
        requested = self.sample if self.indices is None else "indices"
        return {
            "requested": requested,
            "seed": self.seed,
            "images": n,
            "population": total_population,
        }

    def units(self, entries: list[Entry]) -> tuple[Iterator[Unit], int, NDArray[np.int64] | None]:
        """Units of work (a few images each, made lazily), the image count and the sample."""
        population = sum(e.n for e in entries)
        picked = self.pick(population)
        total = population if picked is None else len(picked)
        return _units(entries, picked), total, picked


def _units(entries: list[Entry], picked: NDArray[np.int64] | None) -> Iterator[Unit]:
    current: Unit = []
    size = start = j = 0
    for e in entries:
        if picked is None:
            local = list(range(e.n))
        else:
            k = int(np.searchsorted(picked, start + e.n))
            local = (picked[j:k] - start).tolist()
            j = k
        start += e.n
        for s in range(0, len(local), 16):  # stacks: at most 16 images per unit
            chunk = local[s : s + 16]
            current.append((e, chunk))
            size += len(chunk)
            if size >= 4:
                yield current
                current, size = [], 0
    if current:
        yield current


def _check_sample(sample: Any) -> None:
    if sample is None:
        return
    if isinstance(sample, bool) or not isinstance(sample, (int, float, np.integer, np.floating)):
        raise ConfigError(
            f"sample must be a count (e.g. 1000) or a fraction (e.g. 0.1), got {sample!r}"
        )
    if isinstance(sample, (float, np.floating)) and not 0 < sample <= 1:
        raise ConfigError(f"a sample fraction must lie in (0, 1], got {sample}")
    if isinstance(sample, (int, np.integer)) and sample < 1:
        raise ConfigError(f"a sample count must be >= 1, got {sample}")


_TYPICAL_PIXELS = 1 << 20  # per image, when a source's image size is unknown before decoding


def _pixels_per_image(entries: Sequence[Entry]) -> int:
    """Pixels of the first image when its PNG header says so (33 bytes read), else typical."""
    if entries and entries[0].kind == "image" and not is_url(entries[0].path):
        try:
            with open(entries[0].path, "rb") as fh:
                head = png_header(fh.read(33))
        except OSError:
            head = None
        if head is not None:
            return head[0] * head[1]
    return _TYPICAL_PIXELS


def _with_kernels(opts: CountOptions, pixels: int) -> CountOptions:
    """Count with Numba only when the job repays its JIT (`kernels_numpy.use_jit`)."""
    jit = use_jit(pixels)
    return opts if opts.jit == jit else dataclasses.replace(opts, jit=jit)


_PROCESSES_REMOVED = (
    "parallel='processes' was removed: threads were 3-7x faster at every worker count "
    "measured (decoders and kernels release the GIL; see benchmarks/README.md); drop the "
    "option, or pass client= (a Dask cluster, e.g. --dask-local N) to use worker processes"
)


def _make_executor(parallel: str, workers: int) -> Executor:
    return ThreadPoolExecutor(workers, thread_name_prefix="classweights-scan")


def _drain(window: deque[Future], collector: _Collector) -> int:
    items = window.popleft().result()
    collector.add_batch(items)
    return len(items)


def _run_units(units, total, opts, workers, parallel, collector, progress) -> None:
    if workers == 1:
        done = 0
        for u in units:
            collector.add_batch(count_unit(u, opts))
            done += sum(len(ix) for _, ix in u)
            if progress:
                progress(done, total)
        return
    window: deque[Future] = deque()
    sizes: deque[int] = deque()
    done = 0
    with _make_executor(parallel, workers) as pool:
        try:
            for u in units:
                window.append(pool.submit(count_unit, u, opts))
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


def _in_memory(
    source: Any, plan: _Plan, workers: int
) -> tuple[int, Iterable[tuple[str, Any]], Any, int | None]:
    if isinstance(source, np.ndarray) or hasattr(source, "detach"):
        raise ConfigError(
            "pass a list of masks, not one array: scan([mask]) or scan(list(stack)) for a stack"
        )
    if not isinstance(source, Iterable) and not is_torch_dataset(source):
        raise ConfigError(
            f"cannot scan a {type(source).__name__}: give a path, a list of paths, an iterable "
            "of masks or a torch Dataset"
        )
    n = len(source) if hasattr(source, "__len__") else None
    picked = None
    if plan.sample is not None or plan.indices is not None:
        if n is None:
            raise ConfigError("sampling needs a source with a length (a list or a Dataset)")
        picked = plan.pick(n)
    if is_torch_dataset(source):
        ds = source
        if picked is not None:
            from torch.utils.data import Subset

            ds = Subset(source, picked.tolist())
        it = iter_torch_dataset(ds, workers if workers > 1 else 0)
        ids = picked.tolist() if picked is not None else range(n if n is not None else 1 << 62)
    else:
        it = (source[i] for i in picked) if picked is not None else iter(source)
        ids = picked.tolist() if picked is not None else range(1 << 62)
    total = len(picked) if picked is not None else (n or 0)
    items = ((f"[{i}]", mask_from_item(item, i)) for i, item in zip(ids, it))
    return total, items, picked, n


def _run_items(items, total, opts, workers, collector, progress) -> None:
    def chunk(sid_masks: list[tuple[str, Any]]) -> list[ImageCount | Failure]:
        out: list[ImageCount | Failure] = []
        for sid, m in sid_masks:
            try:
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


def is_path_source(source: Any) -> bool:
    """A path, or a non-empty list of paths (as opposed to in-memory masks)."""
    if isinstance(source, (str, os.PathLike)):
        return True
    return (
        isinstance(source, (list, tuple))
        and bool(source)
        and all(isinstance(s, (str, os.PathLike)) for s in source)
    )


def scan_settings(**scan_kwargs: Any) -> tuple[dict[str, Any], list[str] | None]:
    """Validated settings that change counts (what a cache key hashes) and the class names.

    Raises ConfigError exactly as :func:`scan` would, before any file is read.
    """
    defaults = {
        "num_classes": None, "ignore_index": None, "remap": None, "reduce_zero_label": False,
        "classes": None, "palette": None, "multilabel": False, "unknown": "error",
        "on_error": "fail", "parallel": "threads", "max_pixels": DEFAULT_MAX_PIXELS,
        "sample": None, "seed": 0, "glob": None, "objects": False,
    }  # fmt: skip
    unknown = set(scan_kwargs) - set(defaults) - {"workers", "progress", "client", "indices"}
    if unknown:
        raise ConfigError(f"unknown scan option(s): {', '.join(sorted(unknown))}")
    args = defaults | {k: v for k, v in scan_kwargs.items() if k in defaults}
    plan = _Plan.build(**args)
    return plan.settings | {"on_error": args["on_error"]}, plan.names


def count_images(
    source: Any, *, glob: str | None = None, multilabel: bool = False, classes: Any = None
) -> int:
    """Number of images in a source, in the order :func:`scan` reads them (no mask decoded).

    >>> count_images([[0], [1], [2]])
    3
    """
    if is_path_source(source):
        names = resolve_class_names(classes)
        return sum(
            e.n for e in discover(source, glob=glob, multilabel=multilabel, class_names=names)
        )
    if not hasattr(source, "__len__"):
        raise ConfigError("counting images needs a path or a source with a length")
    return len(source)


def calculate_class_weights(
    dataset: Any,
    num_classes: int,
    device: Any = None,
    method: str = "sqrt_inv_freq",
    ignore_index: int | None = 255,
    **kwargs: Any,
):
    """Seed-script compatible: scan a dataset and return class weights as a torch tensor.

    ``calculate_class_weights(dataset=train_dst, num_classes=19, device=device,
    method="sqrt_inv_freq", ignore_index=255)`` keeps working: ``dataset`` may be a torch
    Dataset returning ``(image, mask)`` or a dict, an iterable of masks, or a path.
    Extra keyword arguments go to :func:`classweights.compute_weights`.
    """
    from .errors import require
    from .weights import compute_weights

    torch = require("torch", "torch", "calculate_class_weights")
    stats = scan(dataset, num_classes=num_classes, ignore_index=ignore_index)
    w = compute_weights(stats, method=method, **kwargs)
    return torch.as_tensor(w, dtype=torch.float32, device=device)


__all__: Sequence[str] = (
    "ClassStats",
    "calculate_class_weights",
    "count_images",
    "count_mask",
    "scan",
)
