"""Dataset layouts: one name sets the files, the split and the label space of a documented tree.

``scan("VOCdevkit/VOC2012", layout="voc", split="train")`` is ``scan`` of the files that
``ImageSets/Segmentation/train.txt`` names, with ``classes="pascal-voc"`` and
``ignore_index=255``. A layout only *fills in* scan settings; every setting the caller gives
explicitly wins over the preset's, even one equal to the scan's default (``reduce_zero_label=False``
on ade20k, ``ignore_index=None``). The resolved settings,
not the layout name, travel on to the scan and into the cache key, so a layout never changes
what a cache entry means.

| layout | files (under the path given) | label space |
|---|---|---|
| ``voc`` | ``SegmentationClass/<id>.png``, ids: ``ImageSets/Segmentation/<split>.txt``; SBD |
|  | (``aug``, ``trainaug``) also from ``SegmentationClassAug/`` | 21, 255 |
| ``cityscapes`` | ``gtFine/<split>/**/*_labelTrainIds.png``, else ``*_labelIds.png`` | 19 |
| ``ade20k`` | ``annotations/{training,validation}/*.png`` | 150, reduce-zero-label |
| ``camvid`` | ``<split>annot/*.png``, or ``LabeledApproved_full/*_L.png`` (32 colours) | 11 |
| ``coco-stuff`` | ``{train,val}2017/*.png`` (ids 0..181) | 171 used ids, 255 void |
| ``celebamask-hq`` | ``CelebAMask-HQ-mask-anno/<n>/<id>_<class>.png`` | multi-label, 19 |
| ``mapillary`` | ``{training,validation}/labels/*.png`` (v1.2 palette PNGs) | 65, 65 void |
| ``nnunet`` | ``labelsTr/*<file_ending>`` with ``dataset.json`` | its label names |
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DatasetError
from . import lookalike, nnunet, trees
from .split_files import ids_to_paths
from .split_files import read_ids as read_ids  # re-exported
from .tables import CAMVID32_TO_11 as CAMVID32_TO_11  # re-exported
from .tables import COCO_STUFF_UNUSED as COCO_STUFF_UNUSED  # re-exported
from .trees import Builder, Resolved

log = logging.getLogger(__name__)

SPLIT_KEYS = ("layout", "split", "split_file", "root", "suffix")


@dataclass(frozen=True)
class Layout:
    name: str
    splits: tuple[str, ...]
    build: Builder  # (folder, split, the caller's explicit settings) -> Resolved


LAYOUTS: dict[str, Layout] = {
    "voc": Layout("voc", ("train", "val", "trainval", "aug", "trainaug"), trees.voc),
    "cityscapes": Layout("cityscapes", ("train", "val", "test"), trees.cityscapes),
    "ade20k": Layout("ade20k", ("train", "val"), trees.ade20k),
    "camvid": Layout("camvid", ("train", "val", "test"), trees.camvid),
    "coco-stuff": Layout("coco-stuff", ("train", "val"), trees.coco_stuff),
    "celebamask-hq": Layout("celebamask-hq", (), trees.celebamask),
    "mapillary": Layout("mapillary", ("train", "val"), trees.mapillary),
    "nnunet": Layout("nnunet", (), nnunet.nnunet),
}


# ---- split files ----------------------------------------------------------------------------
# ---- the entry point ------------------------------------------------------------------------
def resolve(
    source: Any,
    *,
    layout: str | None = None,
    split: str | None = None,
    split_file: Any = None,
    root: Any = None,
    suffix: str | None = None,
    **settings: Any,
) -> Resolved:
    """The source and scan settings a layout or a split file stands for.

    Args:
        source: the dataset's root folder (a path, or a list holding one path).
        layout: a name from :data:`LAYOUTS`, or None.
        split: ``train``/``val``/... where the layout has splits.
        split_file: a text file of ids; masks are ``root / (id + suffix)``.
        root: the folder the ids of ``split_file`` live in (default: ``source``).
        suffix: appended to each id (default ``.png``).
        settings: the scan settings the caller gave (only those: every one of them wins over
            the preset's, whatever its value).

    Returns:
        Resolved: the source to scan, the merged settings and one line saying what was set.

    >>> resolve("masks", glob="*.png").settings
    {'glob': '*.png'}
    """
    if layout is None and split is not None:
        raise ConfigError("--split needs --layout NAME (the layout knows where each split lives)")
    if split_file is not None:
        if layout is not None:
            raise ConfigError("give either --layout or --split-file, not both")
        base = root if root is not None else _one_path(source, "--split-file")
        files = ids_to_paths(split_file, base, ".png" if suffix is None else suffix)
        return Resolved(files, dict(settings), f"{len(files)} ids of {split_file} under {base}")
    if root is not None or suffix is not None:
        raise ConfigError("--root and --suffix go with --split-file FILE")
    if layout is None:
        return Resolved(source, dict(settings))
    if layout not in LAYOUTS:
        raise ConfigError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    spec = LAYOUTS[layout]
    if split is not None and split not in spec.splits:
        have = f"one of {', '.join(spec.splits)}" if spec.splits else "none"
        raise ConfigError(f"--layout {layout} has no split {split!r} (splits: {have})")
    path = Path(_one_path(source, f"--layout {layout}"))
    if not path.is_dir():
        raise DatasetError(f"{path}: --layout {layout} needs the dataset's folder")
    explicit = dict(settings)  # only what the caller gave (UNSET: not given)
    preset = spec.build(path, split, explicit)
    if "glob" not in explicit:
        _check_found(preset, layout)
    preset = lookalike.check(layout, preset, explicit)  # a look-alike gets no class names
    merged = dict(settings)
    used = []
    given = {k for k in preset.settings if k in merged}
    for k, v in preset.settings.items():
        if k in given:
            continue
        n = merged.get("num_classes")
        if k == "classes" and "num_classes" in merged and len(_names(v)) != n:
            continue  # an explicit num_classes wins over the preset's names (and their count)
        if k == "num_classes" and "classes" in merged:
            continue
        merged[k] = v
        used.append(k)
    shown = ", ".join(f"{k}={_short(preset.settings[k])}" for k in used)
    where = f"layout {layout}{f' ({split})' if split else ''}"
    note = f"{where}: {preset.note}; set {shown or 'nothing'}"
    return Resolved(preset.source, merged, note)


def _check_found(preset: Resolved, layout: str) -> None:
    """A layout whose own glob matches nothing says so, naming the layout (not a --glob the
    caller never gave)."""
    glob = preset.settings.get("glob")
    folders = [preset.source] if isinstance(preset.source, str) else []
    if not glob or not folders or any(trees.any_match(f, glob) for f in folders):
        return
    raise DatasetError(
        f"--layout {layout} found no masks in {folders[0]} (looked for {glob}); pass the "
        "dataset's root as the layout documents it (docs/layouts.md), or the folder of one split"
    )


def _names(classes: Any) -> list[str]:
    from ..labels import resolve_class_names

    return resolve_class_names(classes) or []


def _one_path(source: Any, flag: str) -> Any:
    if isinstance(source, (str, os.PathLike)):
        return source
    if isinstance(source, (list, tuple)) and len(source) == 1:
        return source[0]
    raise ConfigError(f"{flag} takes one dataset folder, got {len(source)} paths")


def _short(v: Any) -> str:
    return f"<{len(v)} entries>" if isinstance(v, (Mapping, list)) else str(v)


__all__ = ["LAYOUTS", "SPLIT_KEYS", "Resolved", "ids_to_paths", "resolve"]
