"""`ScanSettings`: every scan setting, validated on every construction, in one frozen object.

Each public entry point (:func:`classweights.scan`, ``cached_scan``, ``load_weights``, every
CLI command) builds one `ScanSettings` from its keywords; `MaskSource.resolve` applies a layout
or a split file to it once, giving concrete settings; nothing below re-lists the keywords. The
object derives what the layers below need: the label space, the class names, the counting and
reading options and the cache-key dictionary.

**Given or not.** Every field defaults to :data:`~classweights.params.UNSET` ("not given"): a
layout fills only what the caller left unset, so an explicit value equal to a default
(``reduce_zero_label=False``, ``ignore_index=None``) still wins over a preset. Without a layout
the unset fields take their defaults at construction; with one they stay unset until the
layout is applied (`locate`).

**The ignore_index rule.** ``None`` (the default) means no label value is ignored; set it (e.g.
255) or let a preset that knows the dataset set it. Raw loss constructors keep PyTorch's
``-100``, metrics torchmetrics' ``None``, and a loss built from a weight record or a dataset
takes the record's value (docs/architecture.md).

>>> s = ScanSettings(num_classes=19, ignore_index=255)
>>> s.key()["num_classes"], s.key()["on_error"]
(19, 'fail')
>>> ScanSettings(workers=0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
classweights.errors.ConfigError: workers=0 is not valid: expected an int >= 1 or None
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
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..counting import CountOptions
from ..errors import ConfigError, unknown_keywords
from ..kernels_numpy import use_jit
from ..labels import (
    LabelSpace,
)
from ..layouts import SPLIT_KEYS
from ..params import (
    UNSET,
    validate,
)
from ..sources import DEFAULT_MAX_PIXELS, ReadOptions
from .constraints import CONNECTIVITIES as CONNECTIVITIES  # re-exported: documented names
from .constraints import ERROR_POLICIES as ERROR_POLICIES
from .constraints import MAX_CLASSES as MAX_CLASSES
from .constraints import PARALLEL_MODES as PARALLEL_MODES
from .constraints import PROCESSES_REMOVED, SCAN_CONSTRAINTS
from .constraints import UNKNOWN_POLICIES as UNKNOWN_POLICIES
from .derive import derive

_DERIVED = dict(init=False, repr=False, compare=False)
#: settings that name where the masks are (`classweights.layouts`), resolved by `locate`
LAYOUT_FIELDS = SPLIT_KEYS

log = logging.getLogger("classweights.scan")


@dataclass(frozen=True, kw_only=True)
class ScanSettings:
    """Every setting of a scan, validated when the object is made (a ``ConfigError`` names
    the setting, quotes the value and says what is accepted, before any file is listed).

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
        binary: each mask holds exactly two values, 0 (class 0, "background") and one other
            (class 1, "foreground"): 0/255 vessel, lesion or building masks. A file holding a
            third value (anti-aliased edges, a second class) is refused naming the counts;
            the ignore index, when given, is neither.
        sample: scan a seeded random sample: a count (``1000``) or a fraction (``0.1``).
        seed: sampling seed (>= 0).
        workers: parallel workers (default: CPU count).
        unknown: ``"error"`` (default) stops on labels that are neither a class nor ignored;
            ``"ignore"`` counts them as unknown pixels.
        on_error: ``"fail"`` (default) stops on an unreadable file; ``"skip"`` skips and lists it.
        parallel: ``"threads"`` (the only mode: decoders and kernels release the GIL; a
            process pool was 3-7x slower at every worker count measured, so it was removed;
            for more cores than one process can keep busy, pass ``client``).
        max_pixels: refuse images declaring more pixels than this (decompression bombs).
        valid_mask: a template naming each mask's valid-region mask (``{stem}``, ``{id}``,
            ``{name}``; relative to the mask's folder): pixels where it is 0 are counted as
            ignored (field-of-view masks, no-data regions; :mod:`classweights.sources.valid`).
        png_decoder: ``"auto"`` counts PNG masks with the fused decoder where it applies (the
            Numba back end: inflate once, unfilter and count in one pass); ``"library"``
            decodes every PNG with libpng / Pillow (for a bug report). Never part of the cache
            key: both give the same counts. ``CLASSWEIGHTS_PNG_DECODER=library`` also sets it.
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
        mask_column: the column of a Hugging Face dataset (a ``Dataset``, an
            ``IterableDataset``, a ``save_to_disk`` folder, ``.arrow``/``.parquet`` files) that
            holds the masks, or the key of in-memory dict items; found without it among the
            ``Image`` columns named like masks (``annotation``, ``mask``, ``label``...).

    Settings with a layout or a split file are resolved against the source by :meth:`locate`
    (which lists the dataset's folder), giving concrete settings; only those derive the label
    space, the counting options and the cache key. Every given value is validated either way.

    How a scan runs that is not a setting (a Dask ``client``, a ``progress`` callback) is
    passed to :func:`classweights.scan` beside the settings.
    """

    num_classes: int | None = UNSET
    ignore_index: int | None = UNSET
    remap: Any = UNSET
    reduce_zero_label: bool = UNSET
    classes: Any = UNSET
    palette: Any = UNSET
    glob: str | None = UNSET
    multilabel: bool = UNSET
    binary: bool = UNSET
    sample: int | float | None = UNSET
    seed: int = UNSET
    workers: int | None = UNSET
    unknown: str = UNSET
    on_error: str = UNSET
    parallel: str = UNSET
    max_pixels: int = UNSET
    png_decoder: str = UNSET
    valid_mask: str | None = UNSET
    indices: Any = UNSET
    objects: bool | str = UNSET
    layout: str | None = UNSET
    split: str | None = UNSET
    split_file: Any = UNSET
    root: Any = UNSET
    suffix: str | None = UNSET
    mask_column: str | None = UNSET

    #: each setting's value when not given
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "num_classes": None,
        "ignore_index": None,
        "remap": None,
        "reduce_zero_label": False,
        "classes": None,
        "palette": None,
        "glob": None,
        "multilabel": False,
        "binary": False,
        "sample": None,
        "seed": 0,
        "workers": None,
        "unknown": "error",
        "on_error": "fail",
        "parallel": "threads",
        "max_pixels": DEFAULT_MAX_PIXELS,
        "png_decoder": "auto",
        "valid_mask": None,
        "indices": None,
        "objects": False,
        "layout": None,
        "split": None,
        "split_file": None,
        "root": None,
        "suffix": None,
        "mask_column": None,
    }
    #: the settings a layout may fill in (they stay unset until it is applied)
    LAYOUT_FILLED: ClassVar[tuple[str, ...]] = (
        "num_classes",
        "ignore_index",
        "remap",
        "reduce_zero_label",
        "classes",
        "palette",
        "glob",
        "multilabel",
    )

    # derived in __post_init__ (part of construction; never changed afterwards)
    given: frozenset[str] = field(**_DERIVED)
    space: LabelSpace = field(**_DERIVED)
    names: list[str] | None = field(**_DERIVED)
    count_options: CountOptions = field(**_DERIVED)
    index_array: NDArray[np.int64] | None = field(**_DERIVED)
    record: dict[str, Any] = field(**_DERIVED)

    def __post_init__(self) -> None:
        if self.parallel == "processes":
            raise ConfigError(PROCESSES_REMOVED)
        values = {f: getattr(self, f) for f in self.fields()}
        validate("ScanSettings", SCAN_CONSTRAINTS, values)
        given = frozenset(f for f, v in values.items() if v is not UNSET)
        object.__setattr__(self, "given", given)
        if values["sample"] not in (UNSET, None) and values["indices"] not in (UNSET, None):
            raise ConfigError("give either sample or indices, not both")
        wait = self.LAYOUT_FILLED if self.uses_layout else ()
        for name in self.fields():
            if name not in given and name not in wait:
                object.__setattr__(self, name, self.DEFAULTS[name])
        if self.uses_layout:  # resolved against the source by `locate`, then derived
            for name in ("space", "names", "count_options", "index_array", "record"):
                object.__setattr__(self, name, None)
            return
        for name, value in derive(self).items():
            object.__setattr__(self, name, value)

    # ---- building ---------------------------------------------------------------------------
    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The names of the settings (the keywords :func:`classweights.scan` takes)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.init)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each setting's value when not given."""
        return dict(cls.DEFAULTS)

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
        return settings.replace(**kwargs) if kwargs else settings

    @classmethod
    def partition(cls, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``kwargs`` split into scan settings and the rest (e.g. weight options)."""
        names = set(cls.fields())
        mine = {k: v for k, v in kwargs.items() if k in names}
        return mine, {k: v for k, v in kwargs.items() if k not in names}

    def replace(self, **changes: Any) -> ScanSettings:
        """A new, validated object: the settings given here, with ``changes`` applied
        (a change to ``UNSET`` takes a setting back to "not given")."""
        unknown = set(changes) - set(self.fields())
        if unknown:
            raise unknown_keywords("scan setting", unknown, self.fields())
        kept = {f: getattr(self, f) for f in self.given}
        return ScanSettings(**(kept | changes))

    def explicit(self) -> dict[str, Any]:
        """The settings the caller gave (never a default)."""
        return {f: getattr(self, f) for f in self.fields() if f in self.given}

    @property
    def uses_layout(self) -> bool:
        """A layout or a split file is set (resolve it with :meth:`locate`)."""
        return any(getattr(self, f) not in (None, UNSET) for f in LAYOUT_FIELDS)

    def locate(self, source: Any) -> tuple[Any, ScanSettings]:
        """The source to scan and the concrete settings: a layout or split file fills in
        every setting not given; as is without one (``MaskSource.resolve`` does this once
        per request)."""
        source, settings, _ = self.resolve_layout(source)
        return source, settings

    def resolve_layout(self, source: Any) -> tuple[Any, ScanSettings, str]:
        """As :meth:`locate`, with the one line saying what the layout set ("" without one)."""
        if not self.uses_layout:
            return source, self, ""
        from ..layouts import resolve

        given = self.explicit()
        where = {k: given.pop(k) for k in LAYOUT_FIELDS if k in given}
        r = resolve(source, **where, **given)
        return r.source, ScanSettings(**r.settings), r.note

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
