"""What concrete scan settings stand for: the label space, the class names, the counting and
reading options and the settings' record (what a cache key hashes)."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..counting import CountOptions
from ..errors import ConfigError
from ..labels import (
    REMAP_PRESETS,
    VOID,
    LabelSpace,
    resolve_class_names,
    resolve_palette,
    resolve_remap,
    void_outside,
)
from ..objects import object_options
from ..sources import ReadOptions, png_decoder

log = logging.getLogger("classweights.scan")


def derive(s: Any) -> dict[str, Any]:
    """What the layers below need from concrete settings ``s``: the label space, the class
    names, the counting options, the image indices and the record (the cache-key dict)."""
    num_classes, ignore_index = s.num_classes, s.ignore_index
    names = resolve_class_names(s.classes)
    if s.binary:
        num_classes, names = _binary(s, num_classes, names)
    if s.reduce_zero_label and ignore_index is None and "ignore_index" not in s.given:
        # mmsegmentation's reduce_zero_label: 0 -> 255, the ignore index (a value outside
        # the classes where 255 is one of them)
        ignore_index = void_outside(num_classes)
    if names is not None:
        if num_classes is None:
            num_classes = len(names)
        elif len(names) != num_classes:
            raise ConfigError(
                f"{len(names)} class names given but num_classes={num_classes}; "
                "give as many names as classes"
            )
    table = resolve_palette(s.palette)
    if table and VOID in table.values():  # a preset's void colours -> the ignore index
        if ignore_index is None:
            ignore_index = 255
            log.info("the colour table's void colours are ignored as label 255")
        table = {c: ignore_index if v == VOID else v for c, v in table.items()}
    remap = s.remap
    try:
        remap_table = resolve_remap(remap)
        space = LabelSpace(num_classes, ignore_index, remap_table, s.reduce_zero_label)
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
    hint = max(
        256,
        (num_classes or 0) + 1,
        (ignore_index or 0) + 1,
        max((space.remap or {0: 0}).keys()) + 1,
    )
    opts = CountOptions(
        ReadOptions(
            multilabel=s.multilabel,
            rgb=table is not None,
            max_pixels=s.max_pixels,
            png_decoder=png_decoder(s.png_decoder),  # never in the cache key
        ),
        num_classes,
        min(hint, 1 << 20),
        keys,
        labels,
        objects=object_options(s.objects, space, s.multilabel, table is not None),
    )
    record = space.settings() | {
        "palette": {f"#{int(k):06x}": int(v) for k, v in zip(keys, labels, strict=True)}
        if table
        else None,
        "multilabel": s.multilabel,
        "glob": s.glob,
        "sample": s.sample,
        "seed": s.seed,
        "unknown": s.unknown,
        "max_pixels": s.max_pixels,
    }
    if opts.objects is not None:  # only when asked: keys of plain scans stay as they were
        record["objects"] = opts.objects.connectivity
    if s.binary:
        record["binary"] = True
    if s.valid_mask is not None:  # only when given: keys of other scans stay as they were
        clash = [f for f in ("multilabel", "objects") if getattr(s, f)]
        if clash:
            raise ConfigError(
                f"valid_mask= counts the pixels inside each valid region; it does not go with "
                f"{clash[0]}= (drop one of them)"
            )
        from ..sources.valid import check_template

        check_template(s.valid_mask)
        record["valid_mask"] = s.valid_mask
    if s.mask_column is not None:  # only when given: keys of other scans stay as they were
        record["mask_column"] = s.mask_column
    index_array = None
    if s.indices is not None:
        index_array = np.unique(np.asarray(s.indices, dtype=np.int64))
        if s.sample is not None:
            raise ConfigError("give either sample or indices, not both")
    derived = {
        "space": space,
        "names": names,
        "count_options": opts,
        "index_array": index_array,
        "record": record,
    }
    return derived


def _binary(s: Any, num_classes: Any, names: Any) -> tuple[int, list[str]]:
    clash = [
        f
        for f in ("multilabel", "palette", "remap", "reduce_zero_label")
        if getattr(s, f) not in (None, False)
    ]
    if clash:
        raise ConfigError(
            f"binary=True reads masks of 0 and one other value; it does not go with "
            f"{clash[0]}= (drop one of them)"
        )
    if num_classes not in (None, 2):
        raise ConfigError(f"binary=True means 2 classes, got num_classes={num_classes}")
    return 2, names if names is not None else ["background", "foreground"]
