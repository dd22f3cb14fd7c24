"""Cached class weights: ``.pth`` weight records stored next to a cache entry's statistics.

A warm ``load_weights`` lists and stats the files (that is the fingerprint), opens one ``.pth``
and returns its tensor; on a miss the listing it made is handed to the cached scan, so the
dataset is discovered and fingerprinted once per call.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ClassWeightsError, ConfigError, unknown_keywords
from ..scan.settings import ScanSettings
from ..stats import ClassStats
from .fingerprint import quick_fingerprint
from .identity import Identity, alt_key
from .loader import CacheWarning, Listing, cached_scan, source_paths
from .record import RECORD_SCHEMA, load_record, save_record, seal, weight_record
from .store import Store


def weight_file_name(method: str, options: dict[str, Any]) -> str:
    """File name of a weight record: the method plus a digest of its options.

    Arrays and tensors are hashed by their exact values (``tolist``), never by their printed
    form, which rounds (``tensor([1.2345])``) and elides long vectors (``[1. 1. ... 1.]``).
    """

    def exact(obj: Any) -> Any:
        return obj.tolist() if hasattr(obj, "tolist") else str(obj)

    text = json.dumps(options, sort_keys=True, default=exact)
    return f"{method}-{hashlib.blake2b(text.encode(), digest_size=6).hexdigest()}"


def load_weights(
    source: Any,
    method: str = "sqrt_inv_freq",
    *,
    device: Any = None,
    dtype: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    verify: bool = False,
    refresh: bool = False,
    lock_timeout: float = 600.0,
    progress: Any = None,
    client: Any = None,
    **kwargs: Any,
):
    """Class weights of a dataset as a ``torch.Tensor``, computed once and then read from the cache.

    Keyword arguments are split between :class:`~classweights.ScanSettings` (``num_classes``,
    ``ignore_index``, ``remap``, ...) and :class:`~classweights.WeightOptions`
    (``normalize``, ``clip``, ``absent``, ``beta``, ...). ``method="pos_weight"`` (or
    ``"focal_alpha"``) returns BCE ``pos_weight`` (focal ``alpha``) of multi-label statistics.
    ``spatial_dims=2`` returns them shaped ``(C, 1, 1)``, which broadcasts over ``N x C x H x W``
    logits (``nn.BCEWithLogitsLoss(pos_weight=...)``); the cached record stays ``(C,)``.
    ``layout=``/``split=``/``split_file=`` are as for :func:`classweights.scan`.
    A keyword that is neither, or a bad value, is a ``ConfigError`` (naming the closest valid
    keyword) before any file is read.

    Returns:
        ``(C,) + (1,) * spatial_dims`` tensor on ``device`` with ``dtype`` (default float32).
    """
    import torch

    kwargs = dict(kwargs)
    dims = kwargs.pop("spatial_dims", 0)
    if not isinstance(dims, int) or isinstance(dims, bool) or not 0 <= dims <= 3:
        raise ConfigError(f"spatial_dims={dims!r} is not valid; expected 0, 1, 2 or 3")
    shape = (-1,) + (1,) * dims
    settings, options = _settings_and_options(method, kwargs)  # before any file is read
    source, settings = settings.locate(source)  # a layout / split file: concrete settings
    name = weight_file_name(method, options)
    dtype = dtype or torch.float32
    paths = source_paths(source)
    listing = None
    if paths is not None and not refresh:
        record, listing = _warm_record(paths, name, cache_dir, verify, settings)
        if record is not None:
            return record["weights"].reshape(shape).to(device=device, dtype=dtype)
    stats, info = cached_scan(
        source,
        settings=settings,
        client=client,
        cache_dir=cache_dir,
        verify=verify,
        refresh=refresh,
        lock_timeout=lock_timeout,
        progress=progress,
        listing=listing,
    )
    weights = compute_named(stats, method, options)
    record = weight_record(stats, weights, method, options, fingerprint=info.key)
    if info.path is not None and (Path(info.path) / "meta.json").exists():  # not removed meanwhile
        try:
            _stamp(record, Path(info.path) / "meta.json")
            save_record(record, Path(info.path) / "weights" / f"{name}.pth")
        except OSError as e:
            warnings.warn(
                f"could not write weights into the cache folder {info.path} ({e})",
                CacheWarning,
                stacklevel=2,
            )
    return record["weights"].reshape(shape).to(device=device, dtype=dtype)


def _settings_and_options(
    method: str, kwargs: dict[str, Any]
) -> tuple[ScanSettings, dict[str, Any]]:
    """``load_weights``' keywords as validated scan settings and weight options."""
    from ..weights.options import MULTILABEL_OPTIONS, check_method_options, method_options

    scan_kwargs, options = ScanSettings.partition(kwargs)
    valid = method_options(method)
    unknown = set(options) - set(valid)
    if unknown:
        what = "option" if method in MULTILABEL_OPTIONS else "weight option"
        raise unknown_keywords(
            what,
            unknown,
            (*ScanSettings.fields(), *valid),
            expected=f"a scan setting ({', '.join(ScanSettings.fields())}) or an option of "
            f"method={method!r} ({', '.join(valid)})",
        )
    settings = ScanSettings.from_kwargs(**scan_kwargs)
    check_method_options(method, options)
    return settings, options


def _stamp(record: dict[str, Any], meta_file: Path) -> None:
    """Copy the entry's place and probe into the record (the warm path checks them there)."""
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError):
        return
    record["dataset"]["place"] = meta.get("place")
    record["dataset"]["probe"] = meta.get("probe")
    seal(record)


def compute_named(stats: ClassStats, method: str, options: dict[str, Any]) -> np.ndarray:
    """``compute_weights`` plus the multi-label vectors ``pos_weight`` and ``focal_alpha``."""
    from ..weights import compute_weights, focal_alpha, pos_weight

    if method == "pos_weight":
        return pos_weight(stats, **options).reshape(-1)
    if method == "focal_alpha":
        return focal_alpha(stats, **options).reshape(-1)
    return compute_weights(stats, method, **options)


def _warm_record(
    paths: list[str], name: str, cache_dir: Any, verify: bool, settings: ScanSettings
) -> tuple[dict[str, Any] | None, Listing | None]:
    """The cached record for ``name`` if the dataset is unchanged (None on any miss), and the
    listing made to find it (None when a quick walk sufficed), for the cached scan to reuse."""
    listing = None
    try:
        fp = None if verify else quick_fingerprint(paths, settings.key())
        if fp is None:
            listing = Listing.of(paths, settings, verify)
            fp = listing.fingerprint
        store = Store(cache_dir)
        me = Identity.of(fp)
        record = _record_at(store.entry_dir(fp.key) / "weights" / f"{name}.pth", fp.key)
        if record is None or me.confirms(record.get("dataset", {})):
            return record, listing
        # same listing, other bytes: this dataset's entry lives under its own key
        key = alt_key(fp.key, me.probe)
        record = _record_at(store.entry_dir(key) / "weights" / f"{name}.pth", key)
        ok = record is not None and me.confirms(record.get("dataset", {}))
        return (record if ok else None), listing
    except (OSError, ClassWeightsError):
        return None, listing


def _record_at(path: Path, key: str) -> dict[str, Any] | None:
    """The weight record at ``path`` if it is intact, current and made for ``key``."""
    if not path.is_file():
        return None
    try:
        record = load_record(path)
    except ClassWeightsError as e:
        if path.exists():  # else removed by `cache clear` meanwhile: a plain miss
            warnings.warn(f"{e}; recomputing it", CacheWarning, stacklevel=4)
        return None
    if record.get("schema") != RECORD_SCHEMA or "checksum" not in record:
        warnings.warn(
            f"{path}: not a checksummed weight record of this version; recomputing it",
            CacheWarning,
            stacklevel=4,
        )
        return None
    if record.get("dataset", {}).get("fingerprint") != key:
        warnings.warn(
            f"{path}: belongs to another dataset; recomputing it", CacheWarning, stacklevel=4
        )
        return None
    return record


def find_records(key_or_path: str, cache_dir: Any = None) -> list[tuple[str, dict[str, Any]]]:
    """Weight records of a ``.pth`` file, or of every weight file of a cache entry (by key)."""
    p = Path(key_or_path)
    if p.suffix == ".pth" or p.is_file():
        return [(str(p), load_record(p))]
    store = Store(cache_dir)
    entry = store.entry(store.resolve_key(key_or_path))
    if entry is None:
        raise ConfigError(f"{key_or_path!r} is neither a .pth file nor a cache key in {store.root}")
    files = sorted((entry.path / "weights").glob("*.pth"))
    if not files:
        raise ConfigError(f"cache entry {key_or_path} holds statistics but no weights yet")
    return [(str(f), load_record(f)) for f in files]
