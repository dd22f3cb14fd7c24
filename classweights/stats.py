"""`ClassStats`: exact, mergeable per-class counts of a segmentation dataset.

Everything a class-weight method needs is an integer count. The state is a per-image table
(images x classes) plus per-image totals; every dataset-level count is a sum over it, so a
`ClassStats` merges by concatenation (``a + b``), subsets by row selection, and any weight
method, subset or bootstrap can be recomputed without reading a mask again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ClassWeightsError
from .stats_extras import (
    check_extras,
    compact_uint,
    merge_extras,
    same_extras,
    spacing_summary,
    subset_extras,
)

SCHEMA_VERSION = 1


@dataclass
class ClassStats:
    """Exact per-class statistics of a set of label masks.

    Attributes:
        num_classes: number of classes ``C``.
        ignore_index: the label that is ignored (never a class), or ``None``.
        counts: ``(N, C)`` unsigned ints, pixels of class ``c`` in image ``i`` (for multi-label
            data: positive pixels of channel ``c``).
        image_total: ``(N,)`` int64, all pixels of image ``i`` (ignored and unknown included).
        image_ignored: ``(N,)`` int64, ignored pixels of image ``i``.
        image_unknown: ``(N,)`` int64, pixels with a label that is neither a class nor ignored
            (only non-zero when the scan ran with ``unknown="ignore"``).
        sources: ``N`` strings naming where each image came from (path, ``path[index]``...).
        class_names: ``C`` names, or ``None``.
        multilabel: ``True`` when ``counts`` are per-channel positives of multi-label masks.
        unknown_values: unknown label value (``"34"``, or ``"#rrggbb"`` for colours) -> pixels.
        sampled: whether the rows are a sample of the dataset; ``sample`` describes it.
        skipped: ``(source, reason)`` of files skipped with ``on_error="skip"``.
        settings: the scan settings that produced the counts (for provenance and caching).
        spacing, shape: ``(N, 3)`` voxel spacing (mm; NaN where unknown) and shape of each
            3-D volume (zeros for 2-D masks), or ``None`` when no image is a volume.
        units_assumed: ``(N,)`` bool, True where the file gave a spacing without a unit (read
            as mm), or ``None``.
        object_counts: ``(N, C)`` connected components of class ``c`` in image ``i`` (or None);
            ``object_sizes``: ``(M,)`` voxels of each, image by image, class by class.

    >>> s = ClassStats.from_counts([[3, 1, 0], [0, 2, 2]], image_total=[4, 5], image_ignored=[0, 1])
    >>> s.pixels.tolist(), s.images.tolist(), s.image_pixels.tolist()
    ([3, 3, 2], [1, 2, 1], [4, 9, 5])
    >>> (s + s).pixels.tolist()
    [6, 6, 4]
    """

    num_classes: int
    ignore_index: int | None
    counts: NDArray[Any]
    image_total: NDArray[np.int64]
    image_ignored: NDArray[np.int64]
    image_unknown: NDArray[np.int64]
    sources: list[str]
    class_names: list[str] | None = None
    multilabel: bool = False
    unknown_values: dict[str, int] = field(default_factory=dict)
    sampled: bool = False
    sample: dict[str, Any] | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    spacing: NDArray[np.float64] | None = None
    shape: NDArray[np.int64] | None = None
    units_assumed: NDArray[np.bool_] | None = None
    object_counts: NDArray[Any] | None = None
    object_sizes: NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts)
        if self.counts.ndim != 2:
            self.counts = self.counts.reshape(-1, self.num_classes)
        n = self.counts.shape[0]
        self.image_total = np.asarray(self.image_total, dtype=np.int64).reshape(n)
        self.image_ignored = np.asarray(self.image_ignored, dtype=np.int64).reshape(n)
        self.image_unknown = np.asarray(self.image_unknown, dtype=np.int64).reshape(n)
        if self.counts.shape[1] != self.num_classes:
            raise ClassWeightsError(
                f"counts has {self.counts.shape[1]} columns but num_classes={self.num_classes}"
            )
        if len(self.sources) != n:
            raise ClassWeightsError(f"{len(self.sources)} sources for {n} images")
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ClassWeightsError(
                f"{len(self.class_names)} class names for num_classes={self.num_classes}"
            )
        check_extras(self, n)  # volume rows (spacing, shape, units) and objects

    @classmethod
    def from_counts(
        cls,
        counts: Sequence[Sequence[int]] | NDArray[Any],
        image_total: Sequence[int] | NDArray[Any] | None = None,
        image_ignored: Sequence[int] | NDArray[Any] | None = None,
        image_unknown: Sequence[int] | NDArray[Any] | None = None,
        *,
        ignore_index: int | None = None,
        sources: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> ClassStats:
        """Build statistics from a hand-made per-image table (tests, published counts).

        ``image_total`` defaults to the row sums plus ignored and unknown pixels.
        """
        c = np.asarray(counts, dtype=np.int64)
        if c.ndim == 1:
            c = c[None, :]
        n = c.shape[0]
        ign = np.zeros(n, np.int64) if image_ignored is None else np.asarray(image_ignored)
        unk = np.zeros(n, np.int64) if image_unknown is None else np.asarray(image_unknown)
        tot = c.sum(1) + ign + unk if image_total is None else np.asarray(image_total)
        return cls(
            num_classes=c.shape[1],
            ignore_index=ignore_index,
            counts=c.astype(compact_uint(int(c.max(initial=0)))),
            image_total=tot,
            image_ignored=ign,
            image_unknown=unk,
            sources=list(sources) if sources is not None else [f"[{i}]" for i in range(n)],
            **kwargs,
        )

    # ---- dataset-level counts (all exact int64) -------------------------------------------
    @property
    def num_images(self) -> int:
        return int(self.counts.shape[0])

    @property
    def pixels(self) -> NDArray[np.int64]:
        """``(C,)`` pixels of each class over the dataset."""
        return self.counts.sum(axis=0, dtype=np.int64)

    @property
    def images(self) -> NDArray[np.int64]:
        """``(C,)`` number of images that contain each class."""
        return np.count_nonzero(self.counts, axis=0).astype(np.int64)

    @property
    def image_pixels(self) -> NDArray[np.int64]:
        """``(C,)`` all pixels (ignored included) of the images that contain each class."""
        return (self.counts > 0).T.astype(np.int64) @ self.image_total

    @property
    def image_labelled_pixels(self) -> NDArray[np.int64]:
        """``(C,)`` labelled (not ignored, not unknown) pixels of the images containing each
        class."""
        return (self.counts > 0).T.astype(np.int64) @ self.image_labelled

    @property
    def image_labelled(self) -> NDArray[np.int64]:
        """``(N,)`` labelled pixels of each image (multi-label: pixels not ignored)."""
        if self.multilabel:
            return self.image_total - self.image_ignored
        return self.counts.sum(axis=1, dtype=np.int64)

    @property
    def negatives(self) -> NDArray[np.int64]:
        """``(C,)`` multi-label negatives: labelled pixels minus positives, per channel."""
        return int(self.image_labelled.sum()) - self.pixels

    @property
    def total_pixels(self) -> int:
        return int(self.image_total.sum())

    @property
    def labelled_pixels(self) -> int:
        return int(self.image_labelled.sum())

    @property
    def ignored_pixels(self) -> int:
        return int(self.image_ignored.sum())

    @property
    def unknown_pixels(self) -> int:
        return int(self.image_unknown.sum())

    @property
    def share(self) -> NDArray[np.float64]:
        """``(C,)`` share of each class among the labelled pixels (0 when nothing is labelled)."""
        total = self.labelled_pixels
        return self.pixels / total if total else np.zeros(self.num_classes)

    @property
    def voxel_volume(self) -> NDArray[np.float64] | None:
        """``(N,)`` volume of one voxel of each image in mm³ (NaN without spacing), or None."""
        return None if self.spacing is None else np.prod(self.spacing, axis=1)

    @property
    def physical_volume(self) -> NDArray[np.float64] | None:
        """``(C,)`` mm³ per class: Σ count x voxel volume over the images with a spacing, or None.

        >>> s = ClassStats.from_counts([[2, 1], [0, 4]], shape=[[1, 1, 3], [2, 2, 1]],
        ...                            spacing=[[1, 1, 2.5], [0.5, 0.5, 1]])
        >>> s.physical_volume.tolist()
        [5.0, 3.5]
        """
        vox = self.voxel_volume
        known = np.isfinite(vox) if vox is not None else None
        return None if known is None or not known.any() else self.counts[known].T @ vox[known]

    def spacing_summary(self) -> dict[str, list[float]] | None:
        """Median, min and max spacing per axis (as nnU-Net's fingerprint), or None."""
        return spacing_summary(self.spacing)

    @property
    def names(self) -> list[str]:
        """Class names, or the class ids as strings."""
        return (
            list(self.class_names)
            if self.class_names
            else [str(i) for i in range(self.num_classes)]
        )

    # ---- algebra -------------------------------------------------------------------------
    def _check_compatible(self, other: ClassStats) -> None:
        for attr in ("num_classes", "ignore_index", "multilabel"):
            if getattr(self, attr) != getattr(other, attr):
                raise ClassWeightsError(
                    f"cannot merge statistics with {attr}={getattr(self, attr)!r} and "
                    f"{attr}={getattr(other, attr)!r}"
                )

    def __add__(self, other: ClassStats) -> ClassStats:
        """Concatenate the images of two scans (counts add up exactly)."""
        if not isinstance(other, ClassStats):
            return NotImplemented
        self._check_compatible(other)
        counts = np.concatenate([self.counts, other.counts])
        unknown = dict(self.unknown_values)
        for k, v in other.unknown_values.items():
            unknown[k] = unknown.get(k, 0) + v
        return ClassStats(
            num_classes=self.num_classes,
            ignore_index=self.ignore_index,
            counts=counts.astype(compact_uint(int(counts.max(initial=0)))),
            image_total=np.concatenate([self.image_total, other.image_total]),
            image_ignored=np.concatenate([self.image_ignored, other.image_ignored]),
            image_unknown=np.concatenate([self.image_unknown, other.image_unknown]),
            sources=self.sources + other.sources,
            class_names=self.class_names or other.class_names,
            multilabel=self.multilabel,
            unknown_values=unknown,
            sampled=self.sampled or other.sampled,
            sample=self.sample or other.sample,
            skipped=self.skipped + other.skipped,
            settings=dict(self.settings),
            **merge_extras(self, other),
        )

    def subset(self, rows: Sequence[int] | NDArray[Any] | slice) -> ClassStats:
        """Statistics of a subset of the images (rows of the per-image table, repeats allowed).

        >>> s = ClassStats.from_counts([[1, 0], [0, 2], [3, 3]])
        >>> s.subset([2, 2]).pixels.tolist()
        [6, 6]
        """
        idx = np.arange(self.num_images)[rows] if isinstance(rows, slice) else np.asarray(rows)
        return ClassStats(
            num_classes=self.num_classes,
            ignore_index=self.ignore_index,
            counts=self.counts[idx],
            image_total=self.image_total[idx],
            image_ignored=self.image_ignored[idx],
            image_unknown=self.image_unknown[idx],
            sources=[self.sources[i] for i in idx.tolist()],
            class_names=self.class_names,
            multilabel=self.multilabel,
            unknown_values=dict(self.unknown_values),
            sampled=True if len(idx) != self.num_images else self.sampled,
            sample=self.sample,
            skipped=list(self.skipped),
            settings=dict(self.settings),
            **subset_extras(self, idx),
        )

    def extras(self) -> dict[str, NDArray[Any]]:
        """The optional per-image arrays this statistics object holds (volumes, objects)."""
        return {k: getattr(self, k) for k in self.OPTIONAL_ARRAYS if getattr(self, k) is not None}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClassStats):
            return NotImplemented
        return (
            self.num_classes == other.num_classes
            and self.ignore_index == other.ignore_index
            and self.multilabel == other.multilabel
            and np.array_equal(self.counts, other.counts)
            and np.array_equal(self.image_total, other.image_total)
            and np.array_equal(self.image_ignored, other.image_ignored)
            and np.array_equal(self.image_unknown, other.image_unknown)
            and self.sources == other.sources
            and self.unknown_values == other.unknown_values
            and same_extras(self.extras(), other.extras())
        )

    # ---- persistence ---------------------------------------------------------------------
    def to_meta(self) -> dict[str, Any]:
        """Everything but the count arrays, as JSON-ready values (what :meth:`save` and the
        cache store beside the arrays); :meth:`from_meta` reverses it.

        >>> ClassStats.from_counts([[3, 1]]).to_meta()["num_classes"]
        2
        """
        return {
            "schema": SCHEMA_VERSION,
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
            "class_names": self.class_names,
            "multilabel": self.multilabel,
            "unknown_values": dict(self.unknown_values),
            "sampled": self.sampled,
            "sample": self.sample,
            "skipped": [list(s) for s in self.skipped],
            "settings": self.settings,
            "sources": self.sources,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> ClassStats:
        """Statistics from :meth:`to_meta`'s dict and the arrays named in :attr:`ARRAYS`.

        Raises:
            ClassWeightsError: the metadata has another schema version (rescan the dataset).
        """
        if meta.get("schema") != SCHEMA_VERSION:
            raise ClassWeightsError(
                f"statistics schema {meta.get('schema')!r} is not the supported {SCHEMA_VERSION}; "
                "rescan the dataset"
            )
        return cls(
            num_classes=int(meta["num_classes"]),
            ignore_index=meta["ignore_index"],
            counts=arrays["counts"],
            image_total=arrays["image_total"],
            image_ignored=arrays["image_ignored"],
            image_unknown=arrays["image_unknown"],
            sources=list(meta["sources"]),
            class_names=meta["class_names"],
            multilabel=bool(meta["multilabel"]),
            unknown_values={str(k): int(v) for k, v in meta["unknown_values"].items()},
            sampled=bool(meta["sampled"]),
            sample=meta["sample"],
            skipped=[tuple(s) for s in meta["skipped"]],
            settings=meta["settings"],
            **{k: arrays[k] for k in cls.OPTIONAL_ARRAYS if k in arrays},
        )

    ARRAYS = ("counts", "image_total", "image_ignored", "image_unknown")
    OPTIONAL_ARRAYS = ("spacing", "shape", "units_assumed", "object_counts", "object_sizes")

    def save(self, path: str | Path) -> Path:
        """Save losslessly to a ``.npz`` file (atomically: temporary name, then rename)."""
        from .atomic import atomic_write

        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz")
        meta = np.frombuffer(json.dumps(self.to_meta()).encode(), dtype=np.uint8)
        arrays = {k: getattr(self, k) for k in self.ARRAYS} | self.extras()
        return atomic_write(path, lambda fh: np.savez(fh, meta=meta, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> ClassStats:
        """Load statistics saved by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            names = cls.ARRAYS + tuple(k for k in cls.OPTIONAL_ARRAYS if k in z.files)
            return cls.from_meta(meta, {k: z[k] for k in names})

    def __repr__(self) -> str:
        kind = "multilabel " if self.multilabel else ""
        return (
            f"ClassStats({kind}num_classes={self.num_classes}, ignore_index={self.ignore_index}, "
            f"images={self.num_images}, pixels={self.total_pixels}, "
            f"ignored={self.ignored_pixels}, unknown={self.unknown_pixels}"
            f"{', sampled' if self.sampled else ''})"
        )
