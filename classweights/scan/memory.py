"""In-memory sources: lists and iterables of arrays, ``(image, mask)`` pairs, dicts, torch
Datasets and the mask column of a Hugging Face dataset become ``(source id, mask)`` items
(sampled when the settings ask for it); a Hugging Face cell is read by the worker counting it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..sources import HFColumn, is_torch_dataset, iter_torch_dataset, mask_from_item
from .plan import pick
from .settings import ScanSettings


def in_memory(
    source: Any, settings: ScanSettings, workers: int
) -> tuple[int, Iterable[tuple[str, Any]], NDArray[np.int64] | None, int | None]:
    """The image count, the ``(source id, mask)`` items, the sample and the population."""
    if isinstance(source, HFColumn):
        return _hf_items(source, settings)
    if isinstance(source, np.ndarray) or hasattr(source, "detach"):
        raise ConfigError(
            "pass a list of masks, not one array: scan([mask]) or scan(list(stack)) for a stack"
        )
    if not isinstance(source, Iterable) and not is_torch_dataset(source):
        raise ConfigError(
            f"cannot scan a {type(source).__name__}: give a path, a list of paths, an iterable "
            "of masks or a torch Dataset"
        )
    n = len(source) if hasattr(source, "__len__") else None
    picked = None
    if settings.sampling:
        if n is None:
            raise ConfigError("sampling needs a source with a length (a list or a Dataset)")
        picked = pick(settings, n)
    if is_torch_dataset(source):
        ds = source
        if picked is not None:
            from torch.utils.data import Subset

            ds = Subset(source, picked.tolist())
        it = iter_torch_dataset(ds, workers if workers > 1 else 0)
        ids = picked.tolist() if picked is not None else range(n if n is not None else 1 << 62)
    else:
        it = (source[i] for i in picked) if picked is not None else iter(source)
        ids = picked.tolist() if picked is not None else range(1 << 62)
    total = len(picked) if picked is not None else (n or 0)
    key = settings.mask_column
    items = ((f"[{i}]", mask_from_item(item, i, key)) for i, item in zip(ids, it, strict=False))
    return total, items, picked, n


def _hf_items(
    table: HFColumn, settings: ScanSettings
) -> tuple[int, Iterable[tuple[str, Any]], NDArray[np.int64] | None, int | None]:
    """The rows of a Hugging Face mask column (row positions as ids, as for other datasets)."""
    n = table.rows
    picked = None
    if settings.sampling:
        if n is None:
            raise ConfigError(
                "sampling needs a source with a length; a streaming IterableDataset has none "
                "(take a sample with ds.take(N), or materialise it as a Dataset)"
            )
        picked = pick(settings, n)
    rows = picked.tolist() if picked is not None else None
    total = len(picked) if picked is not None else (n or 0)
    return total, ((f"[{i}]", cell) for i, cell in table.items(rows)), picked, n
