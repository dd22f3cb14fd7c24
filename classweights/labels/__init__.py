"""Label spaces: class-name presets, colour tables, remap tables, reduce-zero-label, ignore index.

A :class:`LabelSpace` turns raw mask values into class ids. The order is the one mmsegmentation
uses: ``reduce_zero_label`` first (0 -> ignore, k -> k-1, the ignore value stays), then the remap
table (values not in the table keep their value), then the ignore index and the class range.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..config_text import load_json, load_yaml, read_config_text
from ..errors import ConfigError
from .presets import (
    ADE20K,
    CAMVID,
    CAMVID_COLORS,
    CELEBAMASK_HQ,
    CITYSCAPES,
    CITYSCAPES_COLORS,
    CITYSCAPES_TRAIN_IDS,
    CLASS_PRESETS,
    PALETTE_PRESETS,
    PALETTE_VOID,
    PASCAL_VOC,
    REMAP_PRESETS,
    voc_colors,
)

IGNORED = -1
UNKNOWN = -2

VOID = -3  # label of a void colour until the ignore index is known


def _read_table(value: str | Path, what: str) -> Any:
    path = Path(value)
    if not path.is_file():
        return None
    text = read_config_text(path, what)
    if path.suffix.lower() in (".yaml", ".yml"):
        return load_yaml(text, f"the {what} file {path}")
    if path.suffix.lower() == ".json":
        return load_json(text, f"the {what} file {path}")
    return text


def _preset(value: str, presets: Mapping[str, Any], what: str, flag: str) -> Any:
    if value in presets:
        return presets[value]
    loaded = _read_table(value, what)
    if loaded is None:
        raise ConfigError(
            f"{flag} {value!r} is neither a preset ({', '.join(presets)}) nor an existing file"
        )
    return loaded


def resolve_class_names(classes: str | Path | Sequence[str] | None) -> list[str] | None:
    """Class names from a preset name, a names file (one per line, JSON or YAML list) or a list.

    >>> resolve_class_names("camvid")[:3]
    ['sky', 'building', 'pole']
    """
    if classes is None:
        return None
    if isinstance(classes, (str, Path)):
        loaded = _preset(str(classes), CLASS_PRESETS, "class names", "--classes")
        if isinstance(loaded, str):
            lines = (ln.strip() for ln in loaded.splitlines())
            loaded = [ln for ln in lines if ln and not ln.startswith("#")]
        if isinstance(loaded, Mapping):  # {id: name}
            where = f"the class names file {classes}"
            ids = {_whole(k, f"{where}: class id", _INT64): k for k in loaded}
            missing = sorted(set(range(len(ids))) - set(ids))
            if missing:  # {0: a, 2: b} would name label 1 "b"
                raise ConfigError(
                    f"{where} maps labels {min(ids)}..{max(ids)} but not {missing[0]}: the "
                    f"labels must run 0..{len(ids) - 1} without gaps; add a name for each "
                    "missing label"
                )
            loaded = [loaded[ids[i]] for i in sorted(ids)]
        if not isinstance(loaded, (list, tuple)):
            raise ConfigError(
                f"the class names file {classes} holds a {type(loaded).__name__}; expected one "
                "name per line, a list of names or a mapping {id: name}"
            )
        classes = loaded
    names = [str(n) for n in classes]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"class names must be unique; repeated: {', '.join(dup)}")
    return names


#: an inline remap: ``RAW:LABEL`` pairs, comma-separated
_INLINE_REMAP = re.compile(r"\s*-?\d+\s*:\s*-?\d+\s*(,\s*-?\d+\s*:\s*-?\d+\s*)*")


def resolve_remap(remap: str | Path | Mapping[Any, Any] | None) -> dict[int, int] | None:
    """A remap table ``raw value -> label`` from a preset, a JSON/YAML file, a mapping, or an
    inline ``RAW:LABEL,...`` list (``--remap 255:1``, ``--remap 1:0,2:0,3:1``).

    >>> resolve_remap("cityscapes")[7], resolve_remap("cityscapes")[0]
    (0, 255)
    >>> resolve_remap({"3": 1})
    {3: 1}
    >>> resolve_remap("255:1"), resolve_remap("1:0, 2:0, 3:1")
    ({255: 1}, {1: 0, 2: 0, 3: 1})
    """
    if remap is None:
        return None
    where = "the remap table"
    inline = isinstance(remap, str) and _INLINE_REMAP.fullmatch(remap)
    if inline and not Path(remap).exists():
        where = f"the remap {remap!r}"
        remap = dict(part.split(":") for part in remap.replace(" ", "").split(","))
    elif isinstance(remap, (str, Path)):
        if str(remap) not in REMAP_PRESETS:
            where = f"the remap file {remap}"
        remap = _preset(str(remap), REMAP_PRESETS, "remap", "--remap")
    if not isinstance(remap, Mapping):
        raise ConfigError(
            f'{where} must be a mapping of raw value -> label, e.g. {{"7": 0}}; got a '
            f"{type(remap).__name__}"
        )
    table: dict[int, int] = {}
    spelled: dict[int, Any] = {}
    for raw, label in remap.items():
        k = _whole(raw, f"{where}: key", _INT64)
        v = _whole(label, f"{where}: the label of {k}", _INT64)
        if k in table and table[k] != v:  # "1" and "01": one value, two targets
            raise ConfigError(
                f"{where} is ambiguous: value {k} is sent to {table[k]} (as "
                f"{spelled[k]!r}) and to {v} (as {raw!r}); keep one entry per value"
            )
        table[k], spelled[k] = v, raw
    return table


def resolve_palette(palette: Any) -> dict[tuple[int, int, int], int] | None:
    """A colour table ``(r, g, b) -> label`` from a preset, a file or a mapping/list.

    Accepts a list of colours (index = label), a mapping label -> colour, or colour -> label,
    with colours as ``[r, g, b]`` or ``"#rrggbb"``. A preset's void colours (CamVid black,
    VOC's border ``#e0e0c0``) get the label :data:`VOID`, which the scan turns into the ignore
    index. A mapping with ``"extends": PRESET`` adds its colours to that preset's (its own
    entries win).

    >>> resolve_palette({"#ff0000": 1, "0,0,0": 0})
    {(255, 0, 0): 1, (0, 0, 0): 0}
    """
    if palette is None:
        return None
    where = "the colour table"
    if isinstance(palette, (str, Path)):
        name = str(palette)
        if name not in PALETTE_PRESETS:
            where = f"the colour table file {palette}"
        palette = _preset(name, PALETTE_PRESETS, "colour table", "--palette")
        if name in PALETTE_VOID:
            base = _palette_items(palette) + [(c, VOID) for c in PALETTE_VOID[name]]
            return _colour_table(base, where)
    if not isinstance(palette, (Mapping, list, tuple)):
        raise ConfigError(f"{where} holds a {type(palette).__name__}; expected a list or mapping")
    if isinstance(palette, Mapping) and "extends" in palette:  # a user table on a preset
        rest = {k: v for k, v in palette.items() if k != "extends"}
        if str(palette["extends"]) not in PALETTE_PRESETS:
            raise ConfigError(
                f"{where} extends {palette['extends']!r}, which is not a preset "
                f"({', '.join(PALETTE_PRESETS)})"
            )
        base = resolve_palette(str(palette["extends"])) or {}
        own = _colour_table(_palette_items(rest), where) if rest else {}
        return {c: v for c, v in base.items() if c not in own} | own  # the user's entries win
    return _colour_table(_palette_items(palette), where)


def _palette_items(palette: Any) -> list[tuple[Any, Any]]:
    items: list[tuple[Any, Any]]
    if isinstance(palette, Mapping):
        items = list(palette.items())
        if items and _is_int(items[0][0]):
            items = [(c, k) for k, c in items]  # label -> colour
    else:
        items = [(c, i) for i, c in enumerate(palette)]
    return items


def _colour_table(items: list[tuple[Any, Any]], where: str) -> dict[tuple[int, int, int], int]:
    table: dict[tuple[int, int, int], int] = {}
    for colour, label in items:
        rgb = _parse_colour(colour)
        if rgb in table:
            raise ConfigError(
                f"colour {rgb} appears twice in the colour table (labels {table[rgb]} and "
                f"{label}); each colour must map to one label"
            )
        table[rgb] = _whole(label, f"{where}: the label of colour {rgb}", _INT64)
    return table


_INT64 = (-(1 << 63), (1 << 63) - 1)
_DECIMAL = re.compile(r"[+-]?[0-9]{1,30}")


def _whole(x: Any, what: str, bounds: tuple[int, int]) -> int:
    """``x`` as an int if it is one (or its decimal text), in ``bounds``; else a ConfigError.

    >>> _whole("7", "key", _INT64), _whole(3, "key", _INT64)
    (7, 3)
    >>> _whole(0.9, "the label of 3", _INT64)
    Traceback (most recent call last):
    ...
    classweights.errors.ConfigError: the label of 3 is 0.9, not a whole number; labels are integers
    """
    value: int | None = None
    if (isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))) or (
        isinstance(x, str) and _DECIMAL.fullmatch(x.strip())
    ):
        value = int(x)
    if value is None:
        shown = repr(x) if len(repr(x)) <= 40 else f"a {type(x).__name__}"
        raise ConfigError(f"{what} is {shown}, not a whole number; labels are integers")
    if not bounds[0] <= value <= bounds[1]:
        raise ConfigError(
            f"{what} is {value:.3g}, outside the label range {bounds[0]:.3g}..{bounds[1]:.3g}"
        )
    return value


def _is_int(x: Any) -> bool:
    try:
        int(x)
        return not isinstance(x, (list, tuple))
    except (TypeError, ValueError):
        return False


def _parse_colour(c: Any) -> tuple[int, int, int]:
    try:
        if isinstance(c, str):
            s = c.strip()
            if s.startswith("#") and len(s) == 7:
                return (int(s[1:3], 16), int(s[3:5], 16), int(s[5:7], 16))
            c = [p for p in s.replace("(", "").replace(")", "").split(",") if p.strip()]
        r, g, b = (int(v) for v in c)
        if not all(0 <= v <= 255 for v in (r, g, b)):
            raise ValueError
        return (r, g, b)
    except (TypeError, ValueError):
        raise ConfigError(f"cannot read colour {c!r}; use [r, g, b] or '#rrggbb'") from None


#: The most classes a scan counts: the per-image table keeps one int64 per class and image, and
#: the largest real label spaces are a few thousand (ADE20K-full: 3,688).
MAX_CLASSES = 1 << 16


def void_outside(num_classes: int | None) -> int:
    """A usual void label outside the classes ``0..num_classes-1``, to suggest in a message:
    255 (8-bit masks), 65535 (16-bit masks) when 255 is a class, else -1.

    >>> void_outside(19), void_outside(300), void_outside(65536), void_outside(None)
    (255, 65535, -1, 255)
    """
    if num_classes is None or num_classes <= 255:
        return 255
    return 65535 if num_classes <= 65535 else -1


@dataclass(frozen=True)
class LabelSpace:
    """How raw mask values become class ids.

    >>> ls = LabelSpace(num_classes=3, ignore_index=255, reduce_zero_label=True)
    >>> ls.map_values(np.array([0, 1, 3, 4, 255])).tolist()
    [-1, 0, 2, -2, -1]
    """

    num_classes: int | None
    ignore_index: int | None = None
    remap: dict[int, int] | None = None
    reduce_zero_label: bool = False

    def __post_init__(self) -> None:
        n, ig = self.num_classes, self.ignore_index
        if n is not None and (not isinstance(n, (int, np.integer)) or n < 1):
            raise ConfigError(f"num_classes must be a whole number >= 1, got {n!r}")
        if n is not None and n > MAX_CLASSES:
            raise ConfigError(
                f"num_classes={n:,} is above the {MAX_CLASSES:,} a scan counts (the per-image "
                "table keeps a count of every class for every image); label values that large "
                "are instance ids or packed colours: map them to classes with --remap"
            )
        if ig is not None and n is not None and 0 <= ig < n:
            raise ConfigError(
                f"ignore_index={ig} lies inside the class range 0..{n - 1}: the ignore label is "
                f"never a class. Use a value outside it (e.g. {void_outside(n)}), or remap that "
                "label"
            )
        if self.reduce_zero_label and ig is None:
            raise ConfigError(
                "reduce_zero_label sends label 0 to the ignore index, but none is set; "
                f"pass ignore_index (e.g. {void_outside(n)})"
            )
        if self.remap and n is not None:
            self._check_remap(n)

    def _check_remap(self, n: int) -> None:
        targets: dict[int, list[int]] = {}
        for k, v in self.remap.items():
            targets.setdefault(v, []).append(k)
            if v != self.ignore_index and not 0 <= v < n:
                raise ConfigError(
                    f"the remap table sends {k} -> {v}, outside the classes 0..{n - 1} and not "
                    f"the ignore index {self.ignore_index}"
                )
        # many -> one is allowed (mmseg's label_map: CamVid 32 -> 11, grouped organs); a key
        # given twice is refused where the table is read (resolve_remap)

    def map_values(self, values: NDArray[np.integer]) -> NDArray[np.int64]:
        """Map raw values to class ids, ``IGNORED`` (-1) or ``UNKNOWN`` (-2)."""
        v = np.asarray(values, dtype=np.int64).copy()
        ig = self.ignore_index
        if self.reduce_zero_label:
            zero, keep = v == 0, v == ig
            v = v - 1
            v[zero | keep] = ig
        if self.remap:
            keys = np.fromiter(self.remap.keys(), np.int64)
            vals = np.fromiter(self.remap.values(), np.int64)
            order = np.argsort(keys)
            keys, vals = keys[order], vals[order]
            pos = np.searchsorted(keys, v).clip(0, len(keys) - 1)
            hit = keys[pos] == v
            v = np.where(hit, vals[pos], v)
        out = np.full(v.shape, UNKNOWN, np.int64)
        if ig is not None:
            out[v == ig] = IGNORED
        n = self.num_classes if self.num_classes is not None else np.iinfo(np.int64).max
        cls = (v >= 0) & (v < n) & (out != IGNORED)
        out[cls] = v[cls]
        return out

    def settings(self) -> dict[str, Any]:
        return {
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
            "remap": {str(k): v for k, v in sorted(self.remap.items())} if self.remap else None,
            "reduce_zero_label": self.reduce_zero_label,
        }


__all__ = [  # the presets (`presets.py`) are part of this room's interface
    "ADE20K",
    "CAMVID",
    "CAMVID_COLORS",
    "CELEBAMASK_HQ",
    "CITYSCAPES",
    "CITYSCAPES_COLORS",
    "CITYSCAPES_TRAIN_IDS",
    "CLASS_PRESETS",
    "IGNORED",
    "MAX_CLASSES",
    "PALETTE_PRESETS",
    "PALETTE_VOID",
    "PASCAL_VOC",
    "REMAP_PRESETS",
    "UNKNOWN",
    "VOID",
    "LabelSpace",
    "resolve_class_names",
    "resolve_palette",
    "resolve_remap",
    "voc_colors",
]
