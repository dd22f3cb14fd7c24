"""In-memory sources: Python iterables of masks and torch Datasets (read through a DataLoader)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import DatasetError
from .volumes import Volume


def mask_from_item(item: Any, index: int, key: str | None = None) -> NDArray[Any]:
    """The mask of one item of an iterable/Dataset: an array, ``(image, mask)``, or a dict
    (its ``key``: the ``mask_column`` setting, else the first of :data:`MASK_KEYS`)."""
    if key is not None:
        if not isinstance(item, dict) or key not in item:
            what = f"keys: {', '.join(map(str, item))}" if isinstance(item, dict) else "not a dict"
            raise DatasetError(
                f"item {index} has no {key!r} (mask_column) to read ({what}); name a key the "
                "items hold"
            )
        return _to_numpy(item[key])
    if isinstance(item, dict):
        for key in MASK_KEYS:
            if key in item:
                return _to_numpy(item[key])
        raise DatasetError(
            f"item {index} is a dict without a mask key; keys: {', '.join(map(str, item))} "
            f"(expected one of {', '.join(MASK_KEYS)})"
        )
    if isinstance(item, (tuple, list)):
        if len(item) < 2:
            raise DatasetError(f"item {index} is a {type(item).__name__} of length {len(item)}")
        return _to_numpy(item[1])
    return _to_numpy(item)


# dict keys holding the mask, in the order they are looked up (mmseg: gt_semantic_seg, seg_map)
MASK_KEYS = (
    "mask",
    "label",
    "labels",
    "target",
    "seg",
    "segmentation",
    "gt_semantic_seg",
    "gt_seg_map",
    "seg_map",
    "gt",
)


def _to_numpy(x: Any) -> NDArray[Any]:
    if isinstance(x, Volume):  # a 3-D label volume given in memory (with its spacing)
        return Volume(_to_numpy(x.array), x.spacing, x.units_assumed)  # type: ignore[return-value]
    if type(x).__name__ == "DataContainer" and hasattr(x, "data"):  # mmcv 1.x wraps tensors
        x = x.data
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    elif not isinstance(x, np.ndarray) and (
        hasattr(x, "__array__") or hasattr(x, "__array_interface__")  # PIL images: the latter
    ):
        mode = getattr(x, "mode", None)
        x = np.asarray(x)
        if mode in ("LA", "PA") and x.ndim == 3:  # grey/palette + alpha: the labels, as the
            x = x[..., 0]  # file reader takes them
    if not isinstance(x, np.ndarray):
        raise DatasetError(f"expected an array-like mask, got {type(x).__name__}")
    return x


def is_torch_dataset(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.utils.data") for c in type(obj).__mro__)


def iter_torch_dataset(ds: Any, workers: int) -> Iterator[Any]:
    """Iterate a map-style/iterable torch Dataset through a DataLoader with worker processes."""
    from torch.utils.data import DataLoader

    loader = DataLoader(
        ds, batch_size=None, shuffle=False, num_workers=workers, collate_fn=_identity
    )
    yield from loader


def _identity(x: Any) -> Any:
    return x


def iter_items(obj: Iterable[Any]) -> Iterator[Any]:
    yield from obj
