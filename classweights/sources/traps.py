"""Layouts that would be read as plausible wrong numbers: refused with one line naming the fix.

Each check is cheap and runs where the layout becomes visible:

- folders (in ``discover``): a Pascal VOC root, whose ``SegmentationObject/`` (instance ids)
  holds the same file names as ``SegmentationClass/``; CelebAMask-HQ's per-class binary PNGs
  (``{id}_{class}.png``) scanned as label masks;
- arrays (in the reader): an ``H x W x 3`` (or ``x 4``) colour array that a stack rule would
  read as ``H`` masks of ``W x 3`` pixels, and a one-hot ``C x H x W`` stack that would be read
  as ``C`` binary masks.

The one-hot rule: a 3-D 0/1 array of 2..256 slices is refused without ``--multilabel`` when
every pixel has exactly one slice set (checked on a corner patch, then slice by slice). A
stack of ``N`` independent binary masks almost never partitions every pixel, so real stacks of
binary masks (overlapping, or with pixels in none) are still read as ``N`` images.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DatasetError, MaskReadError

_VOC_CLASS = ("SegmentationClass", "SegmentationClassAug")
_VOC_DIRS = (*_VOC_CLASS, "SegmentationObject")


def check_tree(
    root: Any, files: Sequence[str], *, multilabel: bool, class_names: Sequence[str] | None = None
) -> None:
    """Refuse folder layouts that would be counted wrongly (VOC roots, CelebAMask-HQ parts)."""
    _check_voc(root, files)  # a glob selecting one folder passes: only selected files count
    if not multilabel:
        _check_celebamask(root, files)
    elif not class_names:
        _check_perclass_without_names(root, files)


def _check_perclass_without_names(root: Any, files: Sequence[str]) -> None:
    """``--multilabel`` on ``{id}_{class}.png`` files needs the class names to group them."""
    if len(files) < 2:
        return
    ids: Counter[str] = Counter()
    parts: set[str] = set()
    for f in files:
        name = str(f).rpartition(os.sep)[2]
        head, _, tail = name.partition("_")
        stem, _, ext = tail.rpartition(".")
        if ext.lower() != "png" or not head.isdigit() or not stem or stem.isdigit():
            return
        ids[head] += 1
        parts.add(stem)
    if len(parts) >= 2 and max(ids.values()) >= 2:
        shown = ", ".join(sorted(parts)[:4]) + (", ..." if len(parts) > 4 else "")
        raise DatasetError(
            f"{root} holds one binary PNG per class and image ({{id}}_{{class}}.png: {shown}) "
            "but --classes is missing: --multilabel groups the files of an image by class name; "
            "pass --classes FILE|PRESET (CelebAMask-HQ: --layout celebamask-hq)"
        )


def _check_voc(root: Any, files: Sequence[str]) -> None:
    cands = [f for f in map(str, files) if "Segmentation" in f]  # C-speed prefilter
    folders = {f.rpartition(os.sep)[0] for f in cands}
    voc = {d for d in folders if d.rpartition(os.sep)[2] in _VOC_DIRS}
    parents = Counter(d.rpartition(os.sep)[0] for d in voc)
    if not parents or max(parents.values()) < 2:  # no two VOC folders side by side
        return
    stems: dict[str, set[str]] = {}
    for f in cands:
        folder, _, name = f.rpartition(os.sep)
        if folder in voc:
            stems.setdefault(folder, set()).add(name.rpartition(".")[0])
    for folder, names in sorted(stems.items()):
        parent, _, base = folder.rpartition(os.sep)
        for other in _VOC_DIRS:
            sib = f"{parent}{os.sep}{other}"
            if other == base or sib not in stems or not names & stems[sib]:
                continue
            keep = next((d for d in _VOC_CLASS if f"{parent}{os.sep}{d}" in stems), base)
            rel = os.path.relpath(f"{parent}{os.sep}{keep}", os.path.abspath(root))
            rel = rel.replace(os.sep, "/")
            why = (
                "SegmentationObject holds instance ids, not classes"
                if "SegmentationObject" in (base, other)
                else "the same images would be counted twice"
            )
            raise DatasetError(
                f"{root} is a Pascal VOC folder: {base}/ and {other}/ hold the same "
                f"{len(names & stems[sib]):,} file names ({why}); pass --layout voc (with "
                f"--split train|val), or --glob '{rel}/*.png'"
            )


def _check_celebamask(root: Any, files: Sequence[str]) -> None:
    from ..labels import CELEBAMASK_HQ

    classes = set(CELEBAMASK_HQ)
    if len(files) < 2:
        return
    seen = set()
    for f in files:  # every file must be {digits}_{class}.png: most trees stop at the first
        name = str(f).rpartition(os.sep)[2]
        head, _, tail = name.partition("_")
        stem, _, ext = tail.rpartition(".")
        if ext.lower() != "png" or not head.isdigit() or stem not in classes:
            return
        seen.add(stem)
    if len(seen) >= 2:
        pngs = [str(files[0]).rpartition(os.sep)[2]]
        raise DatasetError(
            f"{root} looks like CelebAMask-HQ per-class binary masks ({{id}}_{{class}}.png, e.g. "
            f"{pngs[0]}): each file is one class of one image, not a label mask; pass "
            "--layout celebamask-hq (or --multilabel --classes celebamask-hq)"
        )


def colour_array(shape: tuple[int, ...]) -> bool:
    """An ``H x W x 1|3|4`` array (one mask), not a stack of ``H`` masks of ``W x 3`` pixels.

    >>> colour_array((512, 640, 3)), colour_array((20, 512, 640))
    (True, False)
    """
    return len(shape) == 3 and shape[-1] in (1, 3, 4) and min(shape[:2]) >= 8


def one_image(arr: Any, name: str, rgb: bool) -> Any:
    """The single mask of an ``H x W x 1|3|4`` array, or MaskReadError naming the fix."""
    h, w, c = arr.shape
    if c == 1:
        return np.asarray(arr[..., 0])
    if not rgb:
        kind = "RGB" if c == 3 else "RGBA"
        raise MaskReadError(
            f"{name}: has shape {tuple(arr.shape)}: one {kind} colour mask of {h}x{w} pixels, "
            f"not {h} masks of {w}x{c}; pass --palette PRESET|FILE to map colours to labels, "
            "or save an H x W label mask"
        )
    return np.asarray(arr[..., :3])


def check_one_hot(arr: Any, name: str) -> None:
    """Refuse a one-hot ``C x H x W`` array that would be read as ``C`` binary masks.

    A corner patch rules most stacks out at once; otherwise the slices are read one at a time
    (`check_one_hot_stream`), never the whole array.
    """
    if arr.ndim != 3 or not 2 <= arr.shape[0] <= 256 or colour_array(arr.shape):
        return
    if _is_one_hot(np.asarray(arr[:, :16, :16])):
        check_one_hot_stream(arr, name)


def check_one_hot_stream(member: Any, name: str) -> None:
    """`check_one_hot` reading one first-axis slice at a time (an ``.npz`` member, a zarr
    store, a memory-mapped ``.npy``).

    Only a stack whose first slice holds nothing but 0/1 can be one-hot; the check keeps one
    byte per pixel and stops at the first slice that rules one-hot out (a value other than 0/1,
    or a pixel set twice).
    """
    if member.ndim != 3 or not 2 <= member.shape[0] <= 256 or colour_array(member.shape):
        return
    hits = np.zeros(member.shape[1:], np.uint8)
    for s in _slices(member):
        if s.dtype.kind not in "biuf" or (s.dtype.kind != "b" and ((s != 0) & (s != 1)).any()):
            return
        hits += s != 0
        if (hits > 1).any():
            return
    if not (hits == 1).all():
        return
    raise _one_hot_error(member.shape, name)


def _slices(member: Any) -> Any:
    """The first-axis slices of an array, read in blocks of up to 16 M values where the
    array reads blocks (an ``.npz`` member: one pass over its stream per block)."""
    n, per = member.shape[0], max(1, int(np.prod(member.shape[1:], dtype=np.int64)))
    yield np.asarray(member[0])  # most stacks are ruled out by their first slice
    step = max(1, (1 << 24) // per) if hasattr(member, "block") else 1
    for a in range(1, n, step):
        if step == 1:
            yield np.asarray(member[a])
        else:
            yield from member.block(a, min(step, n - a))


def _one_hot_error(shape: tuple[int, ...], name: str) -> MaskReadError:
    c = shape[0]
    return MaskReadError(
        f"{name}: has shape {tuple(shape)} and every pixel is set in exactly one of its {c} "
        f"slices: one one-hot mask of {c} classes, not {c} binary masks; pass --multilabel to "
        "count each channel, or save arr.argmax(0) as an H x W label mask"
    )


def _is_one_hot(a: Any) -> bool:
    if a.dtype.kind not in "biuf" or a.size == 0:
        return False
    if a.dtype.kind != "b" and ((a != 0) & (a != 1)).any():
        return False
    return bool((np.count_nonzero(a, axis=0) == 1).all())
