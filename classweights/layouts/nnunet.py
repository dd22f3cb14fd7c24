"""The nnU-Net / Medical Segmentation Decathlon layout: ``labelsTr/`` and ``dataset.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from .trees import Resolved


def nnunet(root: Path, split: str | None, explicit: Mapping[str, Any]) -> Resolved:
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
