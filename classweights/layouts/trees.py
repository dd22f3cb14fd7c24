"""Where each dataset keeps its label masks: one builder per layout, from the folder given (and the
split) to the files to count and the label space.

Rules every builder keeps (docs/layouts.md):

- the folder a layout picks is never the first of several sorted hits: one candidate, a rule that
  names the one (VOC2012 over VOC2007, ``gtFine`` over ``gtCoarse``), or an error naming them;
- a tree that is partly converted (Cityscapes ``*_labelTrainIds.png``, COCO-Stuff's mmseg
  ``*_labelTrainIds.png``) is refused naming the counts: the converted files are counted only
  when every frame has one, and then never remapped again;
- without ``--split`` a layout counts every split under the folder given.
"""

from __future__ import annotations

import glob as _glob
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from .split_files import ids_to_paths
from .tables import CAMVID32_TO_11, CAMVID_VOID, COCO_STUFF_REMAP, MAPILLARY_V12


@dataclass
class Resolved:
    """What a layout (or a split file) turned the caller's arguments into."""

    source: Any
    settings: dict[str, Any] = field(default_factory=dict)
    note: str = ""


Builder = Callable[[Path, "str | None", Mapping[str, Any]], Resolved]


def find(
    root: Path,
    names: tuple[str, ...],
    what: str,
    layout: str,
    accept: Callable[[Path], bool] | None = None,
) -> Path:
    """``root`` itself if it is one of ``names``, else the one such folder nearest below it
    (names in order of preference); several at the same depth are refused, naming them."""
    if root.name in names:
        return root
    for depth in range(3):
        for name in names:
            hits = sorted(root.glob("/".join(["*"] * depth + [name])))
            hits = [h for h in hits if h.is_dir() and (accept is None or accept(h))]
            if len(hits) == 1:
                return hits[0]
            if hits:
                shown = ", ".join(str(h.relative_to(root)) for h in hits[:4])
                raise DatasetError(
                    f"{root}: {len(hits)} {name}/ folders for --layout {layout} ({shown}); pass "
                    "the one to count as the path"
                )
    raise DatasetError(
        f"{root}: no {what} folder found for --layout {layout} (looked for "
        f"{', '.join(n + '/' for n in names)} at most two levels down); pass the dataset's root"
    )


def _has_png(folder: Path) -> bool:
    return any_match(folder, "*.png")


def any_match(folder: str | Path, pattern: str) -> bool:
    """``pattern`` matches something under ``folder`` (stops at the first hit)."""
    pattern = os.path.join(_glob.escape(str(folder)), pattern)
    return next(_glob.iglob(pattern, recursive=True), None) is not None


def glob_files(folder: str | Path, pattern: str) -> list[str]:
    """The paths ``pattern`` matches under ``folder``, sorted (``glob.glob``: several times faster
    than pathlib on large folders, no stat per file); hidden names are passed over, as the scan
    does."""
    return sorted(_glob.glob(os.path.join(_glob.escape(str(folder)), pattern), recursive=True))


def _inside(root: Path, names: tuple[str, ...] | re.Pattern[str]) -> Path | None:
    """The folder among ``root`` and its parents whose name is one of ``names`` (or matches)."""
    for p in (root, *Path(os.path.abspath(root)).parents):
        if (
            names.fullmatch(p.name) if isinstance(names, re.Pattern) else p.name in names
        ) and p.name:
            return p
    return None


# ---- voc --------------------------------------------------------------------------------------
_VOC_YEAR = re.compile(r"VOC\d{4}")
_VOC_CLASS = ("SegmentationClass", "SegmentationClassAug")


def _voc_folder(root: Path) -> Path:
    """``SegmentationClass`` (or ``SegmentationClassAug``) of the VOC tree at or below ``root``.

    The voc preset means VOC2012: a ``VOCdevkit`` holding VOC2007 and VOC2012 counts VOC2012;
    another year is counted only when the path points at (or into) its folder.
    """
    if root.name in _VOC_CLASS or _inside(root, _VOC_YEAR) is not None:
        return find(root, _VOC_CLASS, "SegmentationClass", "voc")
    hits = []
    for depth in range(3):
        for name in _VOC_CLASS:
            hits += [h for h in root.glob("/".join(["*"] * depth + [name])) if h.is_dir()]
        if hits:
            break
    parents = sorted({h.parent for h in hits})
    if len(parents) <= 1 and not (parents and _VOC_YEAR.fullmatch(parents[0].name)):
        return find(root, _VOC_CLASS, "SegmentationClass", "voc")  # custom VOC-format trees
    years = [p for p in parents if p.name == "VOC2012"]
    if len(years) == 1:
        return find(years[0], _VOC_CLASS, "SegmentationClass", "voc")
    shown = ", ".join(str(p.relative_to(root)) for p in parents[:4])
    raise DatasetError(
        f"{root} holds {shown} but no VOC2012: --layout voc means VOC2012, another year only when "
        f"the path points at it; pass {parents[0]} (or the folder of the year to count)"
    )


def voc(root: Path, split: str | None, explicit: Mapping[str, Any]) -> Resolved:
    seg = _voc_folder(root)
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
    own = seg.parent / "SegmentationClass"
    if split == "aug":
        files = ids_to_paths(sets / "aug.txt", aug, ".png")
        return Resolved(files, settings, f"{len(files)} ids of {sets / 'aug.txt'}")
    if (sets / "trainaug.txt").is_file():
        files = ids_to_paths(sets / "trainaug.txt", [own, aug], ".png")
        return Resolved(files, settings, f"{len(files)} ids of {sets / 'trainaug.txt'}")
    files = ids_to_paths(sets / "train.txt", own, ".png") + ids_to_paths(sets / "aug.txt", aug)
    return Resolved(files, settings, f"{len(files)} ids of train.txt + aug.txt in {sets}")


# ---- cityscapes ---------------------------------------------------------------------------------
def _cityscapes_base(root: Path, split: str | None) -> Path:
    """The folder to walk: gtFine is the dataset; gtCoarse only when the path points at it."""
    gt = _inside(root, ("gtFine", "gtCoarse"))
    if gt is not None or (split is not None and root.name == split):
        if split is None or root.name == split:
            return root
        if root != gt:
            raise DatasetError(
                f"{root}: --split {split} needs the dataset's root or its {gt.name}/ folder"
            )
        base = gt / split
    else:
        fine = [h for d in range(3) for h in root.glob("/".join(["*"] * d + ["gtFine"]))]
        fine = [h for h in fine if h.is_dir()]
        if not fine:
            coarse = next(
                (h for d in range(3) for h in root.glob("/".join(["*"] * d + ["gtCoarse"]))), None
            )
            if coarse is not None:
                raise DatasetError(
                    f"{root}: no gtFine/ folder for --layout cityscapes, only {coarse.name}/: "
                    f"gtFine is the dataset; to count the coarse annotations pass {coarse} itself"
                )
            if split is None:
                return root  # a tree of city folders: walk it as it is
            raise DatasetError(f"{root}: no gtFine/ folder for --layout cityscapes --split {split}")
        gt = find(root, ("gtFine",), "gtFine", "cityscapes")
        if split is None:
            return gt
        base = gt / split
    if not base.is_dir():
        raise DatasetError(f"{gt}: no {split}/ folder for --layout cityscapes --split {split}")
    return base


def _frames(base: Path, kinds: tuple[str, ...]) -> dict[str, set[str]]:
    """The frame stems (``aachen_000000_000019_gtFine``) of each ``*_<kind>.png`` under ``base``."""
    out: dict[str, set[str]] = {k: set() for k in kinds}
    tails = {f"_{k}.png": k for k in kinds}
    for folder, _, files in os.walk(base):
        rel = os.path.relpath(folder, base)
        for f in files:
            head, sep, tail = f.rpartition("_")
            kind = tails.get(sep + tail)
            if kind is not None:
                out[kind].add(f"{rel}/{head}")
    return out


def cityscapes(root: Path, split: str | None, explicit: Mapping[str, Any]) -> Resolved:
    base = _cityscapes_base(root, split)
    glob = explicit.get("glob")
    if glob:
        train_ids = "labelTrainIds" in glob
    else:
        frames = _frames(base, ("labelIds", "labelTrainIds"))
        ids, converted = frames["labelIds"], frames["labelTrainIds"]
        train_ids = bool(converted) and ids <= converted
        if converted and not train_ids:
            raise DatasetError(
                f"{base} is half converted: {len(ids & converted):,} of {len(ids):,} frames have "
                "a *_labelTrainIds.png (the conversion script stopped?); rerun cityscapesscripts' "
                "createTrainIdLabelImgs, or pass --glob '**/*_labelIds.png' (exact for every "
                "frame; --layout cityscapes remaps labelIds to trainIds)"
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


# ---- ade20k, camvid ------------------------------------------------------------------------------
def ade20k(root: Path, split: str | None, explicit: Mapping[str, Any]) -> Resolved:
    settings: dict[str, Any] = {"reduce_zero_label": True, "ignore_index": 255, "classes": "ade20k"}
    folders = {"train": "training", "val": "validation"}
    if root.name in ("training", "validation"):
        if split is not None and folders[split] != root.name:
            raise DatasetError(
                f"{root} is ADE20K's {root.name} folder, not {folders[split]}: pass the dataset's "
                f"root (or annotations/) with --split {split}"
            )
        folder, glob = root, "*.png"
    else:
        ann = find(root, ("annotations",), "annotations", "ade20k")
        folder = ann / folders[split] if split else ann
        glob = "*.png" if split else "*/*.png"  # without --split: both splits
    return Resolved(str(folder), {"glob": glob} | settings, f"{folder}/{glob}")


def camvid(root: Path, split: str | None, explicit: Mapping[str, Any]) -> Resolved:
    colour = root / "LabeledApproved_full"
    labelled = colour.is_dir() and not any(root.glob("*annot"))
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
    folder, glob = root, "*.png"
    if split is not None and root.name != f"{split}annot":
        folder = find(root, (f"{split}annot",), f"{split}annot", "camvid")
    elif split is None and not root.name.endswith("annot") and any(root.glob("*annot")):
        glob = "*annot/*.png"  # without --split: every split's masks, never the image folders
    settings = {"glob": glob, "classes": "camvid", "ignore_index": CAMVID_VOID}
    return Resolved(str(folder), settings, f"{folder}/{glob}")


# ---- coco-stuff ----------------------------------------------------------------------------------
_CONVERTED = "_labelTrainIds.png"


def coco_stuff(root: Path, split: str | None, explicit: Mapping[str, Any]) -> Resolved:
    folder, prefix = root, ""
    if split is not None and root.name != f"{split}2017":
        folder = find(root, (f"{split}2017",), f"{split}2017", "coco-stuff", accept=_has_png)
    elif split is None and not _has_png(root) and any(root.glob("*2017/*.png")):
        prefix = "*2017/"  # without --split: train2017/ and val2017/
    glob = explicit.get("glob")
    if glob:
        converted = _CONVERTED[:-4] in glob
    else:
        names = [os.path.basename(p) for p in glob_files(folder, f"{prefix}*.png")]
        done = {n[: -len(_CONVERTED)] for n in names if n.endswith(_CONVERTED)}
        raw = {n[:-4] for n in names if not n.endswith(_CONVERTED)}
        converted = bool(done) and raw <= done
        if done and not converted:
            raise DatasetError(
                f"{folder} is partly converted: {len(raw & done):,} of {len(raw):,} masks have a "
                "*_labelTrainIds.png beside them (mmsegmentation's coco_stuff164k.py stopped?); "
                "rerun it, or pass --glob '"
                f"{prefix}*[0-9].png' to count the raw masks (--layout coco-stuff remaps them)"
            )
    if converted:  # mmseg's converter already mapped the 182 ids to 0..170 and 255
        settings = {"glob": f"{prefix}*{_CONVERTED}", "num_classes": 171, "ignore_index": 255}
        return Resolved(str(folder), settings, f"{folder}/{settings['glob']} (converted ids)")
    settings = {
        "glob": f"{prefix}*[0-9].png",
        "remap": COCO_STUFF_REMAP,
        "num_classes": 171,
        "ignore_index": 255,
    }
    return Resolved(
        str(folder), settings, f"{folder}/{settings['glob']} (ids 0..181 -> 171 classes)"
    )


# ---- celebamask-hq, mapillary (nnunet: nnunet.py) ------------------------------------------
def celebamask(root: Path, split: str | None, explicit: Mapping[str, Any]) -> Resolved:
    anno = find(root, ("CelebAMask-HQ-mask-anno",), "CelebAMask-HQ-mask-anno", "celebamask-hq")
    settings = {"glob": "*/*.png", "multilabel": True, "classes": "celebamask-hq"}
    return Resolved(str(anno), settings, f"{anno}/*/<id>_<class>.png, multi-label")


def _mapillary_labels(folder: Path) -> Path:
    """``labels/`` of a Vistas split folder: v1.2's where a v2.0 download holds both."""
    for cand in (folder, folder / "labels", folder / "v1.2" / "labels"):
        if cand.name == "labels" and cand.is_dir():
            return cand
    return find(folder, ("labels",), "labels", "mapillary")


def mapillary(root: Path, split: str | None, explicit: Mapping[str, Any]) -> Resolved:
    names = list(MAPILLARY_V12)
    configs = (root / "config.json", root / "config_v1.2.json")
    config = next((p for p in configs if p.is_file()), None)
    if config is not None:
        labels = json.loads(config.read_text(encoding="utf-8")).get("labels", [])
        names = [str(lab.get("readable", lab.get("name"))) for lab in labels][:-1] or names
    settings = {"glob": "*.png", "classes": names, "ignore_index": len(names)}
    splits = [root / s for s in ("training", "validation") if (root / s).is_dir()]
    if split is not None:
        name = {"train": "training", "val": "validation"}[split]
        source: Any = str(_mapillary_labels(find(root, (name,), name, "mapillary")))
    elif root.name != "labels" and not (root / "labels").is_dir() and splits:
        source = [str(_mapillary_labels(s)) for s in splits]  # without --split: both splits
    else:
        source = str(_mapillary_labels(root))
    where = source if isinstance(source, str) else " and ".join(source)
    return Resolved(
        source, settings, f"{where}/*.png ({len(names)} classes, {len(names)} = Unlabeled ignored)"
    )
