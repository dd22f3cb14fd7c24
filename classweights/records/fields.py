"""What a weight record holds besides its weights: the dataset counts it came from, plain
(``weights_only``-readable) copies of its settings, and the checksum over every field."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..stats import ClassStats


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


def record_checksum(record: Mapping[str, Any]) -> str:
    """blake2b of a record dict without its ``checksum`` field (tensors: dtype, shape, bytes).

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
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj
