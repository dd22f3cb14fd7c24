"""Collecting counts into the per-image table: raw histograms from the workers become class
rows in the calling thread, in input order (so the result is bit-identical for any worker
count); unknown labels and colours are tallied, unreadable files skipped or raised."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..counting import Failure, ImageCount, MaskWarning
from ..errors import DatasetError, DataWarning, MaskReadError, UnknownLabelError, warn_data
from ..labels import IGNORED, MAX_CLASSES, UNKNOWN, LabelSpace
from ..stats import ClassStats, compact_uint
from ..stats_extras import ExtraRows
from .palettes import PaletteCheck
from .settings import ScanSettings

log = logging.getLogger("classweights.scan")

UNKNOWN_VALUE = np.iinfo(np.int64).max  # raw-value stand-in for "a colour not in the table"
OUTSIDE_VALUE = np.iinfo(np.int64).min  # raw-value stand-in for "outside the valid region"


class ValidRegionWarning(DataWarning):
    """Pixels outside the masks' valid regions (``valid_mask``) were counted as ignored."""


class InferredClassesWarning(DataWarning):
    """``num_classes`` was not given and was inferred from the largest label seen."""


def binary_values(
    values: NDArray[np.int64], counts: NDArray[np.int64], source: str, ignore: int | None
) -> NDArray[np.int64]:
    """A binary mask's raw values with its one foreground value as 1 (``binary=True``).

    >>> binary_values(np.array([0, 255]), np.array([10, 6]), "m.png", None).tolist()
    [0, 1]
    >>> binary_values(np.array([0, 128, 255]), np.array([10, 2, 6]), "m.png", None)
    Traceback (most recent call last):
    ...
    classweights.errors.DatasetError: m.png: not a binary mask: it holds 0 (10 px), 128 (2 px)
    and 255 (6 px); --binary takes masks of 0 and one other value. Map the others with --remap
    (e.g. --remap 128:0,255:1), or drop --binary
    """
    fg = (values != 0) & (counts > 0)
    if ignore is not None:
        fg &= values != ignore
    if np.count_nonzero(fg) > 1:
        held = [f"{int(v)} ({int(c):,} px)" for v, c in zip(values, counts, strict=True) if c]
        pairs = ",".join(f"{int(v)}:{i == len(values[fg]) - 1:d}" for i, v in enumerate(values[fg]))
        raise DatasetError(
            f"{source}: not a binary mask: it holds {', '.join(held[:-1])} and {held[-1]}; "
            f"--binary takes masks of 0 and one other value. Map the others with --remap "
            f"(e.g. --remap {pairs}), or drop --binary"
        )
    return np.where(fg, 1, values)


class Table:
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


def _plain(it: ImageCount | Failure) -> bool:
    """A count `Collector.add_batch` maps with its unit: no failure, note, unknown colour,
    volume row or objects (those go through `Collector.add`, one image at a time)."""
    return (
        type(it) is ImageCount
        and not it.notes
        and not it.unknown_colors
        and it.spacing is None
        and it.shape is None
        and it.objects is None
        and not it.outside
    )


class Collector:
    """Maps raw histograms to class rows in the calling thread, in input order.

    With ``num_classes`` known, each image is mapped as it arrives, so unknown labels stop the
    scan early (after the third file holding them); otherwise raw histograms are kept until the
    largest label is known.
    """

    def __init__(self, settings: ScanSettings):
        space = settings.space
        self.space = space
        self.multilabel = settings.multilabel
        self.binary = settings.binary
        self.on_error = settings.on_error
        self.unknown = settings.unknown
        self.raw: list[tuple[NDArray[np.int64], NDArray[np.int64]]] = []
        self.table = Table(space.num_classes) if space.num_classes else None
        self.sources: list[str] = []
        self.total: list[int] = []
        self.skipped: list[tuple[str, str]] = []
        self.unknown_values: dict[str, int] = {}
        self.unknown_files: dict[str, list[str]] = {}
        self.bad_files: set[str] = set()
        self.volumes = ExtraRows()
        self.palettes = PaletteCheck()
        self.fused = 0  # images counted by the fused PNG path
        self.outside = 0  # pixels outside the valid regions (valid_mask): ignored
        self.valid_mask = settings.valid_mask
        # raw value -> class for 8-bit values; grown to 16-bit values the first time one comes
        # (mapping 65,536 values up front cost ~1 ms a scan: 10 us an image of 100)
        self._lut = space.map_values(np.arange(256)) if space.num_classes else None

    def reserve(self, images: int) -> None:
        """Size the table for ``images`` rows up front (no regrowth copies)."""
        if self.table is not None and self.table.n == 0:
            self.table = Table(self.space.num_classes, capacity=images)

    def add_batch(self, items: list[ImageCount | Failure]) -> None:
        """Add a unit's results in order: one vectorised mapping for the whole unit.

        The common case (known classes, single-label, no failure, note, unknown colour or
        unknown label in the unit) costs a dozen NumPy calls per unit instead of per image;
        anything else goes through `add` one image at a time, with the same result.
        """
        for it in items:
            if type(it) is ImageCount and it.palette is not None:
                self.palettes.add(it)
        lut = self._lut
        if (
            lut is None
            or self.multilabel
            or self.binary
            or len(items) < 2
            or not all(map(_plain, items))
        ):
            for it in items:
                self._add(it)
            return
        values = np.concatenate([it.values for it in items])
        counts = np.concatenate([it.counts for it in items])
        lut = self._grown(values)
        if values.size and values.min() >= 0 and values.max() < lut.size:
            cls = lut[values]
        else:
            cls = self.space.map_values(values)
        if (cls == UNKNOWN).any():  # unknown labels: per image, to stop after the third file
            for it in items:
                self._add(it)
            return
        k = len(items)
        image = np.repeat(np.arange(k), [it.values.size for it in items])
        rows, totals = self.table.next_rows(k)
        n_cls = rows.shape[1]
        if n_cls <= 4096:  # one bincount, ignored pixels in an extra column (exact: every
            # sum is a pixel count of one image, far below 2**53)
            slot = image * (n_cls + 1) + np.where(cls >= 0, cls, n_cls)
            sums = np.bincount(slot, weights=counts, minlength=k * (n_cls + 1))
            sums = sums.astype(np.int64).reshape(k, n_cls + 1)
            rows += sums[:, :n_cls]
            totals[:, 0] += sums[:, n_cls]
        else:
            valid = cls >= 0
            np.add.at(rows, (image[valid], cls[valid]), counts[valid])
            ignored = ~valid
            if ignored.any():
                np.add.at(totals[:, 0], image[ignored], counts[ignored])
        self.sources.extend(it.source for it in items)
        self.total.extend(it.total for it in items)
        self.volumes.add_plain(k)  # keeps the volume rows aligned when volumes come later
        self.fused += sum(it.decoder is not None for it in items)

    def add(self, item: ImageCount | Failure) -> None:
        if type(item) is ImageCount and item.palette is not None:
            self.palettes.add(item)
        self._add(item)

    def _add(self, item: ImageCount | Failure) -> None:
        if isinstance(item, Failure):
            if self.on_error == "skip":
                log.warning("skipped %s", item.message)
                self.skipped.append((item.source, item.message))
                return
            raise MaskReadError(item.message)
        for note in item.notes:  # worker threads never touch the global warning filters
            warn_data(note, MaskWarning, stacklevel=5)
        self.sources.append(item.source)
        self.total.append(item.total)
        self.fused += item.decoder is not None
        self.volumes.add(item)
        values, counts = item.values, item.counts
        if item.unknown_colors:  # colours outside the table: counted as unknown pixels
            for key, c in item.unknown_colors.items():
                self._unknown(key, c, item.source)
            values = np.append(values, UNKNOWN_VALUE)
            counts = np.append(counts, sum(item.unknown_colors.values()))
        if self.binary:
            values = binary_values(values, counts, item.source, self.space.ignore_index)
        if item.outside:  # outside the valid region: ignored, whatever the mask holds there
            self.outside += item.outside
            values = np.append(values, OUTSIDE_VALUE)
            counts = np.append(counts, item.outside)
        if self._lut is None:
            self.raw.append((values, counts))
        else:
            self._map(values, counts, item.source, self.space, self._grown(values))
        if self.unknown == "error" and len(self.bad_files) >= 3:
            raise self.unknown_error(self.space)

    def _grown(self, values: NDArray[np.int64]) -> NDArray[np.int64]:
        """The lookup table, grown to 65,536 values when ``values`` hold a larger one."""
        lut = self._lut
        if values.size and lut.size == 256 and 256 <= values.max() < 65536:
            lut = self._lut = self.space.map_values(np.arange(65536))
        return lut

    def _map(self, values, counts, source, space, lut) -> None:
        n_cls = space.num_classes
        if values.size and values[-1] in (UNKNOWN_VALUE, OUTSIDE_VALUE):  # stand-ins, last
            cls = space.map_values(values)
            cls[values == UNKNOWN_VALUE] = UNKNOWN
            cls[values == OUTSIDE_VALUE] = IGNORED
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
        for v, c in zip(values[unk].tolist(), counts[unk].tolist(), strict=True):
            if v != UNKNOWN_VALUE:  # unknown colours are recorded by colour in add()
                self._unknown(str(v), c, source)

    def _unknown(self, key: str, count: int, source: str) -> None:
        self.unknown_values[key] = self.unknown_values.get(key, 0) + int(count)
        self.bad_files.add(source)
        files = self.unknown_files.setdefault(key, [])
        if len(files) < 3:
            files.append(source)

    def finish(
        self, settings: dict[str, Any], names: list[str] | None, sample: dict[str, Any] | None
    ) -> ClassStats:
        """The statistics: ``settings`` as recorded, ``sample`` as `plan.sample_info` gives it."""
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
            self.table = Table(space.num_classes, capacity=len(self.raw))
            for (values, counts), src in zip(self.raw, self.sources, strict=True):
                self._map(values, counts, src, space, lut)
        if self.unknown_values and self.unknown == "error":
            raise self.unknown_error(space)
        self.palettes.warn()
        if self.outside:
            warn_data(
                f"{self.outside:,} pixels outside the valid regions (valid_mask="
                f"{self.valid_mask!r}) are counted as ignored",
                ValidRegionWarning,
                stacklevel=4,
            )
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
            sampled=bool(sample) and sample["images"] < sample["population"],
            sample=sample or None,
            **self.volumes.fields(space.num_classes),
        )

    def _infer_classes(self) -> int:
        ig = self.space.ignore_index
        top, where = -1, ""
        probe = LabelSpace(None, ig, self.space.remap, self.space.reduce_zero_label)
        for (values, _), src in zip(self.raw, self.sources, strict=True):
            values = values[(values != UNKNOWN_VALUE) & (values != OUTSIDE_VALUE)]
            cls = values if self.multilabel else probe.map_values(values)
            cls = cls[cls >= 0]
            if cls.size and int(cls.max()) > top:
                top, where = int(cls.max()), src
        n = top + 1 if top >= 0 else 1
        if n > MAX_CLASSES:  # before a table of images x (top + 1) int64 is allocated
            raise DatasetError(
                f"{where}: holds label {top:,}; inferring {n:,} classes from it is above the "
                f"{MAX_CLASSES:,} a scan counts. Pass --num-classes K (labels from K on are "
                "reported, with a hint), or --remap TABLE; values this large are instance ids "
                "or a wrong dtype"
            )
        warn_data(
            f"num_classes not given; inferred {n} from the largest label seen ({top}); pass "
            "--num-classes K (num_classes=K) to count classes that no mask holds",
            InferredClassesWarning,
            stacklevel=5,
        )
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
            from ..hints import unknown_label_fix

            what = (
                f"labels outside 0..{space.num_classes - 1} that are not the ignore index "
                f"({space.ignore_index})"
            )
            rows = self.table.rows[: self.table.n] if self.table is not None else None
            fix = unknown_label_fix(
                (int(k) for k in self.unknown_values if k.lstrip("-").isdigit()),
                num_classes=space.num_classes,
                ignore_index=space.ignore_index,
                remap=space.remap,
                reduce_zero_label=space.reduce_zero_label,
                zero_seen=bool(rows is not None and rows[:, 0].any()),
                seen=np.flatnonzero(rows.sum(0)).tolist() if rows is not None else None,
            )
        return UnknownLabelError(f"{what}: {shown}{more}; first in {', '.join(files)}; {fix}")
