"""`ScanSettings`: every scan setting, validated once, in one frozen object.

Each public entry point (:func:`classweights.scan`, ``cached_scan``, ``load_weights``, every
CLI command) builds one `ScanSettings` from its keywords and passes it down; nothing below
re-lists the keywords. The object derives what the layers below need: the label space, the
class names, the counting and reading options and the cache-key dictionary.

**The ignore_index rule.** ``None`` (the default everywhere in this package) means no label
value is ignored; set it (e.g. 255) or let a preset that knows the dataset set it. The losses
keep PyTorch's ``-100`` (``torch.nn.CrossEntropyLoss``'s own default), and the seed-script
compatible :func:`classweights.calculate_class_weights` keeps its historical 255.

>>> s = ScanSettings(num_classes=19, ignore_index=255)
>>> s.key()["num_classes"], s.key()["on_error"]
(19, 'fail')
>>> ScanSettings.from_kwargs(num_classes=2, ignore_idx=255)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
classweights.errors.ConfigError: unknown scan setting ignore_idx (did you mean ignore_index?); ...
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..counting import CountOptions
from ..errors import ConfigError, unknown_keywords
from ..kernels_numpy import use_jit
from ..labels import (
    REMAP_PRESETS,
    VOID,
    LabelSpace,
    resolve_class_names,
    resolve_palette,
    resolve_remap,
)
from ..layouts import SPLIT_KEYS
from ..objects import object_options
from ..sources import DEFAULT_MAX_PIXELS, ReadOptions, png_decoder

UNKNOWN_POLICIES = ("error", "ignore")
ERROR_POLICIES = ("fail", "skip")
PARALLEL_MODES = ("threads",)  # "processes" was removed: see PROCESSES_REMOVED

PROCESSES_REMOVED = (
    "parallel='processes' was removed: threads were 3-7x faster at every worker count "
    "measured (decoders and kernels release the GIL; see benchmarks/README.md); drop the "
    "option, or pass client= (a Dask cluster, e.g. --dask-local N) to use worker processes"
)

_DERIVED = dict(init=False, repr=False, compare=False)
#: settings that name where the masks are (`classweights.layouts`), resolved by `locate`
LAYOUT_FIELDS = SPLIT_KEYS

log = logging.getLogger("classweights.scan")


@dataclass(frozen=True, kw_only=True)
class ScanSettings:
    """Every setting of a scan, validated when the object is made (a ``ConfigError`` names
    the problem before any file is listed or read).

    Attributes:
        num_classes: number of classes; inferred from the largest label when ``None``.
        ignore_index: label value that is ignored (never a class), e.g. 255; ``None``: none.
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
            :func:`classweights.scan.count_images` counts them); the result is marked sampled.
        objects: also find the connected components of every class (``True`` or ``"full"``:
            8-connected in 2-D, 26 in 3-D; ``"face"``: 4 / 6), see :mod:`classweights.objects`.
        layout: a dataset layout (``voc``, ``cityscapes``, ``ade20k``, ``camvid``,
            ``coco-stuff``, ``celebamask-hq``, ``mapillary``, ``nnunet``; see
            :mod:`classweights.layouts`): the source is the dataset's folder and the layout fills
            in every setting not given explicitly.
        split: ``train``/``val``/... of the layout.
        split_file: a text file of ids (mmseg's ``ann_file``); masks are
            ``root / (id + suffix)``, ``root`` defaulting to the source, ``suffix`` to ``.png``.

    Settings with a layout or a split file are resolved against the source by :meth:`locate`
    (which lists the dataset's folder), giving concrete settings; only those are validated
    and derive the label space, the counting options and the cache key.

    How a scan runs that is not a setting (a Dask ``client``, a ``progress`` callback) is
    passed to :func:`classweights.scan` beside the settings.
    """

    num_classes: int | None = None
    ignore_index: int | None = None
    remap: Any = None
    reduce_zero_label: bool = False
    classes: Any = None
    palette: Any = None
    glob: str | None = None
    multilabel: bool = False
    sample: int | float | None = None
    seed: int = 0
    workers: int | None = None
    unknown: str = "error"
    on_error: str = "fail"
    parallel: str = "threads"
    max_pixels: int = DEFAULT_MAX_PIXELS
    indices: Any = None
    objects: bool | str = False
    layout: str | None = None
    split: str | None = None
    split_file: Any = None
    root: Any = None
    suffix: str | None = None

    # derived in __post_init__ (part of construction; never changed afterwards)
    space: LabelSpace = field(**_DERIVED)
    names: list[str] | None = field(**_DERIVED)
    count_options: CountOptions = field(**_DERIVED)
    index_array: NDArray[np.int64] | None = field(**_DERIVED)
    record: dict[str, Any] = field(**_DERIVED)

    def __post_init__(self) -> None:
        if self.uses_layout:  # resolved against the source by `locate`, then validated
            for name in ("space", "names", "count_options", "index_array", "record"):
                object.__setattr__(self, name, None)
            return
        if self.parallel == "processes":
            raise ConfigError(PROCESSES_REMOVED)
        for value, allowed, flag in (
            (self.unknown, UNKNOWN_POLICIES, "unknown"),
            (self.on_error, ERROR_POLICIES, "on_error"),
            (self.parallel, PARALLEL_MODES, "parallel"),
        ):
            if value not in allowed:
                raise ConfigError(f"{flag}={value!r} is not one of {', '.join(allowed)}")
        num_classes, ignore_index = self.num_classes, self.ignore_index
        for flag, value in (("num_classes", num_classes), ("ignore_index", ignore_index)):
            if isinstance(value, (bool, np.bool_)) or (  # True would pass as 1 silently
                flag == "ignore_index"
                and not (value is None or isinstance(value, (int, np.integer)))
            ):
                raise ConfigError(f"{flag} must be a whole number, got {value!r}")
        names = resolve_class_names(self.classes)
        if names is not None:
            if num_classes is None:
                num_classes = len(names)
            elif len(names) != num_classes:
                raise ConfigError(
                    f"{len(names)} class names given but num_classes={num_classes}; "
                    "give as many names as classes"
                )
        table = resolve_palette(self.palette)
        if table and VOID in table.values():  # a preset's void colours -> the ignore index
            if ignore_index is None:
                ignore_index = 255
                log.info("the colour table's void colours are ignored as label 255")
            table = {c: ignore_index if v == VOID else v for c, v in table.items()}
        remap = self.remap
        try:
            remap_table = resolve_remap(remap)
            space = LabelSpace(num_classes, ignore_index, remap_table, self.reduce_zero_label)
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
        check_sample(self.sample)
        hint = max(
            256,
            (num_classes or 0) + 1,
            (ignore_index or 0) + 1,
            max((space.remap or {0: 0}).keys()) + 1,
        )
        opts = CountOptions(
            ReadOptions(
                multilabel=self.multilabel,
                rgb=table is not None,
                max_pixels=self.max_pixels,
                png_decoder=png_decoder(),  # CLASSWEIGHTS_PNG_DECODER; never in the cache key
            ),
            num_classes,
            min(hint, 1 << 20),
            keys,
            labels,
            objects=object_options(self.objects, space, self.multilabel, table is not None),
        )
        record = space.settings() | {
            "palette": {f"#{int(k):06x}": int(v) for k, v in zip(keys, labels, strict=True)}
            if table
            else None,
            "multilabel": self.multilabel,
            "glob": self.glob,
            "sample": self.sample,
            "seed": self.seed,
            "unknown": self.unknown,
            "max_pixels": self.max_pixels,
        }
        if opts.objects is not None:  # only when asked: keys of plain scans stay as they were
            record["objects"] = opts.objects.connectivity
        index_array = None
        if self.indices is not None:
            index_array = np.unique(np.asarray(self.indices, dtype=np.int64))
            if self.sample is not None:
                raise ConfigError("give either sample or indices, not both")
        derived = {
            "space": space,
            "names": names,
            "count_options": opts,
            "index_array": index_array,
            "record": record,
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    # ---- building ---------------------------------------------------------------------------
    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The names of the settings (the keywords :func:`classweights.scan` takes)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.init)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each setting's default value."""
        return {f.name: f.default for f in dataclasses.fields(cls) if f.init}

    @classmethod
    def from_kwargs(cls, settings: ScanSettings | None = None, /, **kwargs: Any) -> ScanSettings:
        """``settings`` (or the defaults) with ``kwargs`` applied, validated once.

        An unknown keyword is a ``ConfigError`` naming it and the closest setting.
        """
        if settings is not None and not isinstance(settings, ScanSettings):
            raise ConfigError(
                f"settings must be a ScanSettings, got {type(settings).__name__}; pass the "
                "scan settings as keywords (num_classes=..., ignore_index=...)"
            )
        unknown = set(kwargs) - set(cls.fields())
        if unknown:
            raise unknown_keywords("scan setting", unknown, cls.fields())
        if settings is None:
            return cls(**kwargs)
        return dataclasses.replace(settings, **kwargs) if kwargs else settings

    @classmethod
    def partition(cls, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``kwargs`` split into scan settings and the rest (e.g. weight options)."""
        names = set(cls.fields())
        mine = {k: v for k, v in kwargs.items() if k in names}
        return mine, {k: v for k, v in kwargs.items() if k not in names}

    def replace(self, **changes: Any) -> ScanSettings:
        """A new, validated object with ``changes`` applied."""
        return ScanSettings.from_kwargs(self, **changes)

    @property
    def uses_layout(self) -> bool:
        """A layout or a split file is set (resolve it with :meth:`locate`)."""
        return any(getattr(self, f) is not None for f in LAYOUT_FIELDS)

    def locate(self, source: Any) -> tuple[Any, ScanSettings]:
        """The source to scan and the concrete settings, with a layout or split file applied
        (the layout fills in every setting not given explicitly); as is without one."""
        if not self.uses_layout:
            return source, self
        from ..layouts import apply

        given = {f: getattr(self, f) for f in self.fields()}
        source, merged = apply(source, given, ScanSettings.defaults())
        return source, ScanSettings(**merged)

    # ---- what the layers below need -----------------------------------------------------------
    def key(self) -> dict[str, Any]:
        """The settings a cache key hashes: every one that changes a count.

        Multi-label per-class files are assigned channels by class name, so there the names
        change counts and belong in the key.
        """
        key = self.record | {"on_error": self.on_error}
        if self.multilabel and self.names:
            key |= {"channel_names": list(self.names)}
        return key

    @property
    def read_options(self) -> ReadOptions:
        return self.count_options.read

    @property
    def worker_count(self) -> int:
        """Workers to run with (``workers``, else the CPU count; at least 1)."""
        return max(1, int(self.workers or os.cpu_count() or 1))

    @property
    def sampling(self) -> bool:
        """True when only some images are scanned (``sample`` or ``indices``)."""
        return self.sample is not None or self.index_array is not None

    def counting(self, pixels: int) -> CountOptions:
        """The counting options for a job of ``pixels`` pixels: Numba only when the job
        repays its JIT (`kernels_numpy.use_jit`)."""
        jit = use_jit(pixels)
        opts = self.count_options
        return opts if opts.jit == jit else dataclasses.replace(opts, jit=jit)


def check_sample(sample: Any) -> None:
    """Refuse a sample that is neither a count >= 1 nor a fraction in (0, 1]."""
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


def scan_settings(**scan_kwargs: Any) -> tuple[dict[str, Any], list[str] | None]:
    """The cache-key settings and the class names of ``scan_kwargs`` (compatibility helper:
    prefer ``ScanSettings.from_kwargs(**kw).key()``).

    Raises ConfigError exactly as :func:`classweights.scan` would, before any file is read.
    """
    s = ScanSettings.from_kwargs(**scan_kwargs)
    return s.record | {"on_error": s.on_error}, s.names
