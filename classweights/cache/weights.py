"""Weight records in the store: their file names, and finding them by key or path.

The store keeps one ``.pth`` record per method and options beside an entry's statistics
(``weights/<method>-<digest>.pth``); the pipeline decides when to read and write them.
``load_weights`` moved to :mod:`classweights.pipeline` (``classweights.load_weights``).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..records import WeightRecord
from ..stats import ClassStats
from .store import Store


def weight_file_name(method: str, options: dict[str, Any]) -> str:
    """File name of a weight record: the method plus a digest of its options.

    Arrays and tensors are hashed by their exact values (``tolist``), never by their printed
    form, which rounds (``tensor([1.2345])``) and elides long vectors (``[1. 1. ... 1.]``).

    >>> weight_file_name("sqrt_inv_freq", {"normalize": "mean"})  # doctest: +ELLIPSIS
    'sqrt_inv_freq-...'
    """

    def exact(obj: Any) -> Any:
        return obj.tolist() if hasattr(obj, "tolist") else str(obj)

    text = json.dumps(options, sort_keys=True, default=exact)
    return f"{method}-{hashlib.blake2b(text.encode(), digest_size=6).hexdigest()}"


def compute_named(stats: ClassStats, method: str, options: dict[str, Any]) -> np.ndarray:
    """Deprecated: ``classweights.weights.spec.compute(stats, WeightSpec(method, **options))``,
    the one dispatcher of every method."""
    from ..weights.spec import WeightSpec, compute

    warnings.warn(
        "classweights.cache.compute_named is deprecated; use "
        "classweights.weights.compute(stats, WeightSpec(method, **options))",
        DeprecationWarning,
        stacklevel=2,
    )
    return compute(stats, WeightSpec(method, **options))


def find_records(key_or_path: str, cache_dir: Any = None) -> list[tuple[str, WeightRecord]]:
    """Weight records of a weight file, or of every weight file of a cache entry (by key)."""
    p = Path(key_or_path)
    if p.suffix.lower() in (".pth", ".pt", ".npy", ".json", ".yaml", ".yml") or p.is_file():
        return [(str(p), WeightRecord.load(p))]
    store = Store(cache_dir)
    entry = store.entry(store.resolve_key(key_or_path))
    if entry is None:
        raise ConfigError(f"{key_or_path!r} is neither a .pth file nor a cache key in {store.root}")
    files = sorted((entry.path / "weights").glob("*.pth"))
    if not files:
        raise ConfigError(f"cache entry {key_or_path} holds statistics but no weights yet")
    return [(str(f), WeightRecord.load(f)) for f in files]
