"""Split files of ids (mmseg's ``ann_file``): which mask each listed id stands for."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import DatasetError


def ids_to_paths(
    split_file: str | os.PathLike[str],
    root: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    suffix: str = ".png",
) -> list[str]:
    """Mask paths of a split file of ids (mmseg's ``ann_file`` + ``seg_map_suffix``).

    Each non-empty line is an id (``2007_000032``) or a relative path without the suffix; the
    mask is ``root / (id + suffix)``; with several roots, in the first that has it (mmseg's
    ``ann_dir`` lists: VOC's ``SegmentationClass`` before SBD's ``SegmentationClassAug``).

    Raises:
        DatasetError: the split file is missing, lists nothing, or names ids without a mask.
    """
    roots = [Path(root)] if isinstance(root, (str, os.PathLike)) else [Path(r) for r in root]
    files = []
    missing = []
    for i in read_ids(split_file):
        found = next((r / f"{i}{suffix}" for r in roots if (r / f"{i}{suffix}").is_file()), None)
        if found is None:
            missing.append(roots[0] / f"{i}{suffix}")
        else:
            files.append(found)
    if missing:
        where = " or ".join(str(r) for r in roots)
        raise DatasetError(
            f"{split_file} lists {len(missing)} id(s) without a mask under {where}, first: "
            f"{missing[0].name}; check --root and --suffix (masks are ROOT/ID{suffix})"
        )
    return [str(f) for f in files]


def read_ids(split_file: str | os.PathLike[str]) -> list[str]:
    """The ids of a split file: one per line, blank lines and ``#`` comments skipped, extra
    columns ignored (``<id> <flag>`` lists)."""
    split_file = Path(split_file)
    if not split_file.is_file():
        raise DatasetError(f"{split_file}: no such split file")
    ids = [ln.strip() for ln in split_file.read_text(encoding="utf-8").splitlines()]
    ids = [i.split()[0] for i in ids if i and not i.startswith("#")]
    if not ids:
        raise DatasetError(f"{split_file}: lists no ids")
    return ids
