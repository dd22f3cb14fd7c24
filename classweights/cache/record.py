"""The weight record: the plain dict a ``.pth`` weight file holds.

Every saved weight vector explains itself: method, every option, the counts it came from, the
dataset's fingerprint, the scan settings and the tool version. It holds only tensors, numbers,
strings, lists and dicts, so ``torch.load(path, weights_only=True)`` reads it and a weight file
is never unpickled as arbitrary objects. A ``checksum`` (blake2b of every other field, tensors
by dtype, shape and bytes) is verified when a record is read, so a flipped byte in a weight file
is an error, never a silently different weight.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import ClassWeightsError
from ..records import read_pth, read_weight_file
from ..stats import ClassStats

RECORD_SCHEMA = 2  # 2: a checksum over the whole record


def stats_counts(stats: ClassStats) -> dict[str, Any]:
    """The dataset-level counts a weight method reads (numpy int64 arrays and ints)."""
    void_rows = stats.image_ignored > 0
    return {
        "pixels": stats.pixels,
        "images": stats.images,
        "image_pixels": stats.image_pixels,
        "image_labelled_pixels": stats.image_labelled_pixels,
        "num_images": stats.num_images,
        "total_pixels": stats.total_pixels,
        "labelled_pixels": stats.labelled_pixels,
        "ignored_pixels": stats.ignored_pixels,
        "unknown_pixels": stats.unknown_pixels,
        "void_images": int(void_rows.sum()),
        "void_image_pixels": int(stats.image_total[void_rows].sum()),
        "void_image_labelled_pixels": int(
            (stats.image_labelled[void_rows] + stats.image_ignored[void_rows]).sum()
        ),
        "multilabel": stats.multilabel,
    }


def weight_record(
    stats: ClassStats,
    weights: Any,
    method: str,
    options: dict[str, Any],
    *,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """Build the record saved in a ``.pth`` file (tensors for arrays; needs torch)."""
    import torch

    from .. import __version__

    def tensor(a: Any) -> Any:
        return torch.as_tensor(np.asarray(a))

    counts = {
        k: tensor(v) if isinstance(v, np.ndarray) else v for k, v in stats_counts(stats).items()
    }
    record = {
        "schema": RECORD_SCHEMA,
        "weights": torch.as_tensor(np.asarray(weights, dtype=np.float64)),
        "method": method,
        "options": plain(options),
        "num_classes": stats.num_classes,
        "ignore_index": stats.ignore_index,
        "class_names": list(stats.class_names) if stats.class_names else None,
        "counts": counts,
        "settings": plain(stats.settings),
        "dataset": {
            "paths": list(stats.settings.get("paths", [])),
            "fingerprint": fingerprint,
            "sampled": stats.sampled,
            "sample": plain(stats.sample),
        },
        "version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    return seal(record)


def seal(record: dict[str, Any]) -> dict[str, Any]:
    """Set ``record["checksum"]`` over every other field (call again after editing a record)."""
    record.pop("checksum", None)
    record["checksum"] = record_checksum(record)
    return record


def record_checksum(record: dict[str, Any]) -> str:
    """blake2b of a record without its ``checksum`` field (tensors: dtype, shape and bytes).

    The non-tensor fields are hashed as sorted-key JSON (floats by their exact repr), each
    tensor as its dtype, shape and raw bytes, in the order the JSON meets them.
    """
    h = hashlib.blake2b(digest_size=16)

    def tensor(obj: Any) -> str:
        if not (hasattr(obj, "detach") and hasattr(obj, "dtype")):
            return repr(obj)
        a = np.ascontiguousarray(obj.detach().cpu().numpy())
        h.update(a.tobytes())
        return f"tensor {a.dtype.str} {a.shape}"

    rest = {k: v for k, v in record.items() if k != "checksum"}
    h.update(json.dumps(rest, sort_keys=True, default=tensor).encode())
    return h.hexdigest()


def plain(obj: Any) -> Any:
    """JSON-like copy (tuples to lists, numpy scalars to Python) that weights_only accepts."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def save_record(record: dict[str, Any], path: str | Path) -> Path:
    """Write a record atomically (temporary name in the same folder, then rename)."""

    import torch

    return atomic_write(path, lambda fh: torch.save(record, fh))


def load_record(path: str | Path) -> dict[str, Any]:
    """Read a weight file with ``torch.load(weights_only=True)``; a bare tensor is accepted too.

    Raises:
        ClassWeightsError: the file is unreadable, holds pickled objects, or is not a record.
    """
    import torch

    obj = read_pth(path)
    if not isinstance(obj["weights"], torch.Tensor):
        raise ClassWeightsError(f"{path}: holds no 'weights' tensor (found {type(obj).__name__})")
    if "checksum" in obj and obj["checksum"] != record_checksum(obj):
        raise ClassWeightsError(
            f"{path}: checksum mismatch (the weight file was edited or damaged); "
            "recompute it (or delete the file)"
        )
    return obj


def load_any_record(path: str | Path) -> dict[str, Any]:
    """Any export of ``classweights compute -o`` as a record to show: a ``.pth`` through
    :func:`load_record` (checksum verified); ``.npy``, ``.json`` and ``.yaml`` with their
    weights checked to be a 1-D vector of finite numbers, and their class names kept only when
    they are one string per weight.

    Raises:
        ClassWeightsError: the file is unreadable or its weights are not such a vector.
    """
    if Path(path).suffix.lower() not in (".npy", ".json", ".yaml", ".yml"):
        return load_record(path)
    data = read_weight_file(path)
    try:
        w = np.asarray(data["weights"], dtype=np.float64)
    except (TypeError, ValueError):
        w = None
    if w is None or w.ndim != 1 or not w.size or not np.isfinite(w).all():
        raise ClassWeightsError(
            f"{path}: 'weights' is not a list of finite numbers (one per class); re-export it "
            "with `classweights compute -o`"
        )
    names = data.get("class_names")
    ok = isinstance(names, list) and len(names) == w.size and all(isinstance(n, str) for n in names)
    options = data.get("options")
    return {
        "method": str(data["method"]) if data.get("method") is not None else "?",
        "options": options if isinstance(options, dict) else {},
        "class_names": names if ok else None,
        "weights": w,
    }
