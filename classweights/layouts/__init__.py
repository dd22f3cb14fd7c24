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

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DatasetError
from .split_files import ids_to_paths
from .split_files import read_ids as read_ids  # re-exported
from .tables import CAMVID32_TO_11, CAMVID_VOID, COCO_STUFF_REMAP, MAPILLARY_V12
from .tables import COCO_STUFF_UNUSED as COCO_STUFF_UNUSED  # re-exported

log = logging.getLogger(__name__)

SPLIT_KEYS = ("layout", "split", "split_file", "root", "suffix")


@dataclass
class Resolved:
    """What a layout (or a split file) turned the caller's arguments into."""

    source: Any
    settings: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Layout:
    name: str
    splits: tuple[str, ...]
    build: Callable[..., Resolved]  # (folder, split) or (folder, split, explicit settings)


def _find(root: Path, names: tuple[str, ...], what: str, layout: str) -> Path:
    """``root`` itself if it is one of ``names``, else the first such folder at or below it."""
    if root.name in names:
        return root
    for depth in range(3):
        for name in names:
            hits = sorted(root.glob("/".join(["*"] * depth + [name])))
            hits = [h for h in hits if h.is_dir()]
            if hits:
                return hits[0]
    raise DatasetError(
        f"{root}: no {what} folder found for --layout {layout} (looked for "
        f"{', '.join(n + '/' for n in names)} at most two levels down); pass the dataset's root"
    )


def _voc(root: Path, split: str | None) -> Resolved:
    seg = _find(root, ("SegmentationClass", "SegmentationClassAug"), "SegmentationClass", "voc")
    settings = {"classes": "pascal-voc", "ignore_index": 255}
    if split is None:
        return Resolved(str(seg), settings | {"glob": "*.png"}, f"{seg}/*.png")
    sets = seg.parent / "ImageSets" / "Segmentation"
    if split not in ("aug", "trainaug"):
        files = ids_to_paths(sets / f"{split}.txt", seg, ".png")
        return Resolved(files, settings, f"{len(files)} ids of {sets / f'{split}.txt'}")
    # SBD ("aug"), as mmsegmentation's voc_aug.py lays it out: SegmentationClassAug/ holds SBD's
    # masks, aug.txt the SBD ids outside VOC train and val; trainaug = VOC train + aug (10,582),
    # each id from VOC's own masks where VOC has them (mmseg's voc12aug train set)
    aug = seg.parent / "SegmentationClassAug"
    if not aug.is_dir():
        raise DatasetError(
            f"{seg.parent}: no SegmentationClassAug/ folder for --layout voc --split {split} "
            "(make it from SBD with mmsegmentation's tools/dataset_converters/voc_aug.py)"
        )
    voc = seg.parent / "SegmentationClass"
    if split == "aug":
        files = ids_to_paths(sets / "aug.txt", aug, ".png")
        return Resolved(files, settings, f"{len(files)} ids of {sets / 'aug.txt'}")
    if (sets / "trainaug.txt").is_file():
        files = ids_to_paths(sets / "trainaug.txt", [voc, aug], ".png")
        return Resolved(files, settings, f"{len(files)} ids of {sets / 'trainaug.txt'}")
    files = ids_to_paths(sets / "train.txt", voc, ".png") + ids_to_paths(sets / "aug.txt", aug)
    return Resolved(files, settings, f"{len(files)} ids of train.txt + aug.txt in {sets}")


def _cityscapes(root: Path, split: str | None, explicit: Mapping[str, Any]) -> Resolved:
    base = root / "gtFine" if split is None and (root / "gtFine").is_dir() else root
    if split is not None and root.name != split:
        gt = (
            root
            if root.name.startswith("gt")
            else _find(root, ("gtFine", "gtCoarse"), "gtFine", "cityscapes")
        )
        base = gt / split
        if not base.is_dir():
            raise DatasetError(f"{gt}: no {split}/ folder for --layout cityscapes --split {split}")
    glob = explicit.get("glob")
    train_ids = (
        "labelTrainIds" in glob
        if glob
        else (next(base.glob("**/*_labelTrainIds.png"), None) is not None)
    )
    if train_ids:
        settings = {"glob": "**/*_labelTrainIds.png", "classes": "cityscapes", "ignore_index": 255}
    else:
        settings = {
            "glob": "**/*_labelIds.png",
            "remap": "cityscapes",
            "classes": "cityscapes",
            "ignore_index": 255,
        }
    return Resolved(str(base), settings, f"{base}/{settings['glob']}")


def _ade20k(root: Path, split: str | None) -> Resolved:
    ann = (
        _find(root, ("annotations",), "annotations", "ade20k")
        if root.name not in ("training", "validation")
        else root
    )
    folder = ann / {"train": "training", "val": "validation"}[split] if split else ann
    settings = {
        "glob": "*.png",
        "reduce_zero_label": True,
        "ignore_index": 255,
        "classes": "ade20k",
    }
    return Resolved(str(folder), settings, f"{folder}/*.png")


def _camvid(root: Path, split: str | None) -> Resolved:
    colour = root / "LabeledApproved_full"
    labelled = colour.is_dir() and not (root / "trainannot").is_dir()
    if root.name == "LabeledApproved_full" or labelled:
        folder = root if root.name == "LabeledApproved_full" else colour
        table = {f"#{r:02x}{g:02x}{b:02x}": v for (r, g, b), v in CAMVID32_TO_11.items()}
        settings = {
            "glob": "*_L.png",
            "classes": "camvid",
            "ignore_index": CAMVID_VOID,
            "palette": table | {"#000000": CAMVID_VOID},
        }
        return Resolved(str(folder), settings, f"{folder}/*_L.png (32 colours merged to 11)")
    folder = root
    if split is not None and root.name != f"{split}annot":
        folder = _find(root, (f"{split}annot",), f"{split}annot", "camvid")
    settings = {"glob": "*.png", "classes": "camvid", "ignore_index": CAMVID_VOID}
    return Resolved(str(folder), settings, f"{folder}/*.png")


def _coco_stuff(root: Path, split: str | None) -> Resolved:
    folder = root
    if split is not None and root.name != f"{split}2017":
        folder = _find(root, (f"{split}2017",), f"{split}2017", "coco-stuff")
    settings = {"glob": "*.png", "remap": COCO_STUFF_REMAP, "num_classes": 171, "ignore_index": 255}
    return Resolved(str(folder), settings, f"{folder}/*.png (ids 0..181 -> 171 classes)")


def _celebamask(root: Path, split: str | None) -> Resolved:
    anno = _find(root, ("CelebAMask-HQ-mask-anno",), "CelebAMask-HQ-mask-anno", "celebamask-hq")
    settings = {"glob": "*/*.png", "multilabel": True, "classes": "celebamask-hq"}
    return Resolved(str(anno), settings, f"{anno}/*/<id>_<class>.png, multi-label")


def _mapillary(root: Path, split: str | None) -> Resolved:
    folder = root
    if split is not None:
        name = {"train": "training", "val": "validation"}[split]
        folder = _find(root, (name,), name, "mapillary")
    if folder.name != "labels":
        folder = (
            folder / "labels"
            if (folder / "labels").is_dir()
            else _find(folder, ("labels",), "labels", "mapillary")
        )
    names = list(MAPILLARY_V12)
    configs = (root / "config.json", root / "config_v1.2.json")
    config = next((p for p in configs if p.is_file()), None)
    if config is not None:
        labels = json.loads(config.read_text(encoding="utf-8")).get("labels", [])
        names = [str(lab.get("readable", lab.get("name"))) for lab in labels][:-1] or names
    settings = {"glob": "*.png", "classes": names, "ignore_index": len(names)}
    return Resolved(
        str(folder),
        settings,
        f"{folder}/*.png ({len(names)} classes, {len(names)} = Unlabeled ignored)",
    )


def _nnunet(root: Path, split: str | None) -> Resolved:
    meta = root / "dataset.json"
    if not meta.is_file():
        raise DatasetError(f"{root}: no dataset.json for --layout nnunet; pass the Dataset folder")
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DatasetError(f"{meta}: not valid JSON ({e})") from None
    labels = info.get("labels")
    if not isinstance(labels, Mapping) or not labels:
        raise DatasetError(f"{meta}: no 'labels' table; nnU-Net needs one")
    ending = str(info.get("file_ending", ".nii.gz"))
    by_id, regions = _nnunet_labels(labels, meta)
    settings: dict[str, Any] = {"glob": f"labelsTr/*{ending}"}
    ignore = next((i for i, n in by_id.items() if n == "ignore"), None)
    if ignore is not None:
        del by_id[ignore]
        settings["ignore_index"] = ignore
    n = max(by_id) + 1 if by_id else 1
    if regions or sorted(by_id) != list(range(n)):
        settings["num_classes"] = n
        what = "region labels" if regions else "label ids with gaps"
        note = f"{root}/labelsTr/*{ending} ({n} raw labels; {what}: no class names)"
    else:
        settings["classes"] = [by_id[i] for i in range(n)]
        note = f"{root}/labelsTr/*{ending} ({n} classes from dataset.json)"
    return Resolved(str(root), settings, note)


def _nnunet_labels(labels: Mapping[str, Any], meta: Path) -> tuple[dict[int, str], bool]:
    """``{id: name}`` from nnU-Net v2 (name -> int or list) or MSD (``"0": name``) tables."""
    by_id: dict[int, str] = {}
    regions = False
    msd = all(str(k).lstrip("-").isdigit() for k in labels)
    for k, v in labels.items():
        ids, name = ([k], v) if msd else (v if isinstance(v, list) else [v], k)
        regions |= isinstance(v, list)
        for i in ids:
            try:
                i = int(i)
            except (TypeError, ValueError):
                raise DatasetError(f"{meta}: label {k!r}: {v!r} is not an integer id") from None
            by_id.setdefault(i, str(name))
    return by_id, regions


LAYOUTS: dict[str, Layout] = {
    "voc": Layout("voc", ("train", "val", "trainval", "aug", "trainaug"), _voc),
    "cityscapes": Layout("cityscapes", ("train", "val", "test"), _cityscapes),
    "ade20k": Layout("ade20k", ("train", "val"), _ade20k),
    "camvid": Layout("camvid", ("train", "val", "test"), _camvid),
    "coco-stuff": Layout("coco-stuff", ("train", "val"), _coco_stuff),
    "celebamask-hq": Layout("celebamask-hq", (), _celebamask),
    "mapillary": Layout("mapillary", ("train", "val"), _mapillary),
    "nnunet": Layout("nnunet", (), _nnunet),
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
    if spec.name == "cityscapes":
        preset = spec.build(path, split, {k: v for k, v in settings.items() if k in settings})
    else:
        preset = spec.build(path, split)
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
