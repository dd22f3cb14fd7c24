"""Does a folder given to a layout hold that dataset, or a look-alike in its folder names?

A VOC-format set of your own (``VOCdevkit/VOC2012/SegmentationClass`` holding 4 custom classes),
or an ADE20K subset relabelled to 5 values, fits the layout's tree, and would get the preset's
class names attached to numbers that are not those classes. Before the scan a preset with class
names checks its files against its dataset:

- **file names** (most must look like the dataset's: ``2007_000032``, ``ADE_train_00000001``,
  ``aachen_000000_000019_gtFine_labelIds``...) and **shapes** from the PNG headers of a few files
  (Cityscapes is 1024 x 2048, Pascal VOC at most 500 on a side, CamVid 360 x 480 or 720 x 960);
- **values** of a few masks (evenly spread, at most :data:`PEEK` decoded), mapped through the
  preset's label space: values outside it, or a range far smaller than its class count.

Values outside the preset's range, or (with :data:`PEEK` masks checked) classes only up to an
eighth of its count, are enough; otherwise two signals are needed (names, shapes, classes up to
a quarter of the count). A genuine small subset passes: its names and shapes are the dataset's
and its values spread over the classes (50 ADE20K images show ~30 of 150 classes, up to 150).

A look-alike is warned about plainly (:class:`~classweights.errors.LayoutWarning`, through
:func:`~classweights.errors.warn_data`), the preset's class names are withheld (the class count
then comes from the data), and the warning says what to pass instead. Explicit ``--classes`` or
``--num-classes`` skip the check: the caller has said what the labels are.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import ClassWeightsError, LayoutWarning, warn_data
from .trees import Resolved, glob_files

#: masks decoded to check a preset's value range; PNG headers read to check shapes
PEEK = 4
HEADERS = 16


@dataclass(frozen=True)
class Expect:
    dataset: str
    names: re.Pattern[str]
    example: str
    shape: Callable[[int, int], bool] | None = None
    shape_text: str = ""
    note: str = ""  # what else the preset does to the numbers, said with the warning
    # names and shapes both alike are enough (Cityscapes' 1024 x 2048 frames): no mask decoded
    shape_decides: bool = False


EXPECT: dict[str, Expect] = {
    "voc": Expect(
        "Pascal VOC",
        re.compile(r"\d{4}_\d{6}"),
        "2007_000032.png",
        lambda h, w: max(h, w) <= 500,
        "at most 500 pixels on a side",
    ),
    "cityscapes": Expect(
        "Cityscapes",
        re.compile(r"[a-z]+(?:_[a-z]+)*_\d{6}_\d{6}_gt(?:Fine|Coarse)_\w+"),
        "aachen_000000_000019_gtFine_labelIds.png",
        lambda h, w: (h, w) == (1024, 2048),
        "1024 x 2048",
        "--layout cityscapes also remaps labelIds to trainIds",
        shape_decides=True,
    ),
    "ade20k": Expect(
        "ADE20K",
        re.compile(r"ADE_(?:train|val|training|validation|frame)_\d{8}"),
        "ADE_train_00000001.png",
        note="--layout ade20k also ignores label 0 (ADE20K's 'other') and counts label k as "
        "class k-1 (--reduce-zero-label): if 0 is a class here, count without --layout",
    ),
    "camvid": Expect(
        "CamVid",
        re.compile(r"(?:0001TP_\d{6}|0006R0_f\d{5}|0016E5_\d{5}|Seq05VD_f\d{5})(?:_L)?"),
        "0001TP_006690.png",
        lambda h, w: (h, w) in ((360, 480), (720, 960)),
        "360 x 480 or 720 x 960",
    ),
    "mapillary": Expect(
        "Mapillary Vistas", re.compile(r"[A-Za-z0-9_-]{22}"), "<22-character id>.png"
    ),
}


def check(layout: str, preset: Resolved, explicit: Mapping[str, Any]) -> Resolved:
    """``preset``, or ``preset`` without its class names (and a warning) when the files do not
    look like the layout's dataset."""
    expect = EXPECT.get(layout)
    settings = preset.settings
    if (
        expect is None
        or "classes" not in settings
        or "palette" in settings  # colours name the classes (CamVid's 32-colour masks)
        or {"classes", "num_classes"} & set(explicit)
    ):
        return preset
    files = _files(preset)
    if not files:
        return preset
    reasons, decisive = [], False
    stems = [os.path.basename(f).partition(".")[0] for f in files]
    alike = sum(bool(expect.names.fullmatch(s)) for s in stems)
    if 2 * alike < len(stems):
        reasons.append(
            f"file names like '{os.path.basename(files[0])}', not {expect.dataset}'s "
            f"'{expect.example}'"
        )
    if expect.shape is not None:
        shapes = [s for s in map(_png_shape, _spread(files, HEADERS)) if s is not None]
        unlike = [s for s in shapes if not expect.shape(*s)]
        if shapes and 2 * len(unlike) > len(shapes):
            reasons.append(
                f"{unlike[0][0]} x {unlike[0][1]} pixels where {expect.dataset}'s are "
                f"{expect.shape_text}"
            )
        elif shapes and not reasons and expect.shape_decides:
            return preset  # the dataset's names and its frame size: no mask need be decoded
    peeked = _spread(files, PEEK)
    values = _values(peeked, explicit)
    n, top, suggest = _classes(settings), None, ""
    if values is not None and values.size:
        cls, outside = _mapped(values, settings, n)
        top = int(cls.max()) if cls.size else None
        labels = values[values != settings.get("ignore_index")]
        if labels.size:
            top_label = int(labels.max())
            suggest = (
                f" (e.g. {top_label + 1}: the largest label in the masks checked is {top_label})"
            )
        if outside.size:
            decisive = True
            shown = ", ".join(map(str, outside[:6].tolist())) + (
                ", ..." if outside.size > 6 else ""
            )
            reasons.append(f"values {shown} outside its label space")
        elif top is not None and (top + 1) * 4 <= n:
            decisive = (top + 1) * 8 <= n and len(peeked) >= PEEK
            reasons.append(f"classes up to {top} of its {n} in the {len(peeked)} masks checked")
    if not decisive and len(reasons) < 2:
        return preset
    withheld = {"classes"}
    ignore, what = settings.get("ignore_index"), f"its {n} class names are not attached"
    if ignore is not None and values is not None and values.size and int(values.max()) > ignore:
        withheld.add("ignore_index")  # a label of the data, not its void: the count would fail
        what = f"its {n} class names and its ignore index {ignore} are not applied"
    count = "the class count comes from the data"
    kept = {k: v for k, v in settings.items() if k not in withheld}
    if settings.get("remap") is not None:  # its remap's targets are the classes: keep their count
        kept["num_classes"], count = n, f"the {n} classes its remap maps to are kept"
    note = f"; {expect.note}" if expect.note else ""
    warn_data(
        f"--layout {layout}: these masks do not look like {expect.dataset} "
        f"({'; '.join(reasons)}): {what} and {count}; pass "
        f"--classes FILE (your class names, one per line) or --num-classes K{suggest}{note}",
        LayoutWarning,
        stacklevel=5,
    )
    return replace(preset, settings=kept, note=f"{preset.note} (not {expect.dataset}: no names)")


def _files(preset: Resolved) -> list[str]:
    """The mask files a preset resolved to (a list, or folders and a glob), sorted."""
    source, glob = preset.source, preset.settings.get("glob")
    if isinstance(source, str):
        return glob_files(source, glob) if glob else [source]
    if glob:
        return [f for folder in source for f in glob_files(folder, glob)]
    return [str(f) for f in source]


def _spread(files: Sequence[str], k: int) -> list[str]:
    """At most ``k`` files evenly spread over ``files`` (first and last included)."""
    if len(files) <= k:
        return list(files)
    return [files[round(i * (len(files) - 1) / (k - 1))] for i in range(k)]


def _png_shape(path: str) -> tuple[int, int] | None:
    """``(height, width)`` from a PNG header; None for anything else."""
    from ..sources import png_header

    try:
        with open(path, "rb") as fh:
            head = png_header(fh.read(33))
    except OSError:
        return None
    return None if head is None else (head[1], head[0])


def _values(files: Sequence[str], explicit: Mapping[str, Any]) -> Any:
    """The distinct raw values of a few masks (None when one cannot be read: the scan says why)."""
    from ..sources import DEFAULT_MAX_PIXELS, ReadOptions, read_image

    opts = ReadOptions(max_pixels=int(explicit.get("max_pixels", DEFAULT_MAX_PIXELS)))
    found = []
    for f in files:
        try:
            a = np.asarray(read_image(f, opts))
        except (ClassWeightsError, OSError):
            return None
        if a.ndim != 2 or a.dtype.kind not in "biu":
            return None
        found.append(np.unique(a).astype(np.int64))
    return np.unique(np.concatenate(found)) if found else None


def _classes(settings: Mapping[str, Any]) -> int:
    from ..labels import resolve_class_names

    return len(resolve_class_names(settings["classes"]) or [])


def _mapped(values: Any, settings: Mapping[str, Any], n: int) -> tuple[Any, Any]:
    """The classes ``values`` map to under the preset's label space, and the values that map
    to nothing (neither a class nor ignored)."""
    from ..labels import UNKNOWN, LabelSpace, resolve_remap

    space = LabelSpace(
        n,
        settings.get("ignore_index"),
        resolve_remap(settings.get("remap")),
        bool(settings.get("reduce_zero_label")),
    )
    mapped = space.map_values(values)
    return mapped[mapped >= 0], values[mapped == UNKNOWN]
