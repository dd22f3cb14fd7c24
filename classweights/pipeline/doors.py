"""The Python front doors over the pipeline: each builds its requests once and calls a stage.

:func:`load_weights` (a tensor), :func:`record_for` (the whole `WeightRecord`, which losses
built from a dataset read ``ignore_index`` from) and :func:`cached_scan` (statistics and where
they came from). ``classweights.scan`` is the uncached door (`classweights.scan`).
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import unknown_keywords
from ..records import WeightRecord
from ..requests import CacheOptions, MaskSource, ScanSettings
from ..stats import ClassStats
from ..weights.spec import WeightSpec, spec_fields
from .stages import statistics, weights


def requests_from_keywords(
    source: Any, method: str, kwargs: dict[str, Any]
) -> tuple[MaskSource, WeightSpec]:
    """``kwargs`` split into the scan request and the weight request, both validated before
    any file is read; a keyword that is neither names the closest valid one."""
    scan_kw = {k: v for k, v in kwargs.items() if k in ScanSettings.fields()}
    weight_kw = {k: v for k, v in kwargs.items() if k not in scan_kw}
    unknown = set(weight_kw) - set(spec_fields())
    if unknown:
        valid = (*ScanSettings.fields(), *spec_fields())
        raise unknown_keywords("scan setting or weight option", unknown, valid)
    settings = ScanSettings(**scan_kw)
    spec = WeightSpec(method, **weight_kw)
    return MaskSource.resolve(source, settings), spec


def record_for(
    source: Any,
    method: str = "sqrt_inv_freq",
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    verify: bool = False,
    refresh: bool = False,
    lock_timeout: float = 600.0,
    progress: Any = None,
    client: Any = None,
    **kwargs: Any,
) -> WeightRecord:
    """The :class:`~classweights.records.WeightRecord` of a dataset: the weights with their
    method, options, ``ignore_index`` and class names (keywords as :func:`load_weights`)."""
    src, spec = requests_from_keywords(source, method, kwargs)
    cache = CacheOptions(
        folder=cache_dir,
        enabled=use_cache,
        verify=verify,
        refresh=refresh,
        lock_timeout=lock_timeout,
    )
    return weights(src, spec, cache, client=client, progress=progress)


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
) -> Any:
    """Class weights of a dataset as a ``torch.Tensor``, computed once, then read from the cache.

    Keyword arguments are split between the scan settings (``num_classes``, ``ignore_index``,
    ``remap``, ``layout``, ``split``...; :class:`~classweights.ScanSettings`) and the method's
    options (``normalize``, ``clip``, ``absent``, ``beta``...; :class:`~classweights.weights.
    WeightSpec`). ``method="pos_weight"`` (or ``"focal_alpha"``) returns BCE ``pos_weight``
    (focal ``alpha``) of multi-label statistics; ``spatial_dims=2`` shapes it ``(C, 1, 1)``,
    which broadcasts over ``N x C x H x W`` logits (``nn.BCEWithLogitsLoss(pos_weight=...)``);
    the cached record stays ``(C,)``. An option that does not apply to the method, a keyword
    that is neither, or a bad value is a ``ConfigError`` before any file is read.

    A warm call lists the files (that is the fingerprint), opens one record, raises the
    dataset's stored warnings again and returns its tensor; a changed dataset is never served
    stale weights.

    Returns:
        ``(C,) + (1,) * spatial_dims`` tensor on ``device`` with ``dtype`` (default float32).
    """
    record = record_for(
        source,
        method,
        cache_dir=cache_dir,
        verify=verify,
        refresh=refresh,
        lock_timeout=lock_timeout,
        progress=progress,
        client=client,
        **kwargs,
    )
    dims = kwargs.get("spatial_dims", 0)
    return record.tensor(device=device, dtype=dtype, spatial_dims=dims)


def cached_scan(
    source: Any,
    *,
    settings: ScanSettings | None = None,
    client: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    verify: bool = False,
    refresh: bool = False,
    lock_timeout: float = 600.0,
    progress: Any = None,
    listing: Any = None,
    **scan_kwargs: Any,
) -> tuple[ClassStats, Any]:
    """:func:`classweights.scan` through the cache; returns the statistics and where they came
    from (a ``CacheInfo``: key, entry folder, hit, incremental).

    Args:
        source, settings, scan_kwargs: as for :func:`classweights.scan`, validated before any
            file is read.
        client: a Dask client for the scan.
        cache_dir: the cache folder (default ``$CLASSWEIGHTS_CACHE`` or the user cache dir).
        use_cache: ``False`` scans without reading or writing the cache.
        verify: also hash every file's bytes into the key.
        refresh: rescan even on a hit and replace the entry.
        lock_timeout: seconds to wait for another process computing the same entry.
        listing: the dataset's entries as the caller already discovered them (a
            ``classweights.cache.Listing`` made with the same settings); listed here if None.
    """
    src = MaskSource.resolve(source, settings, **scan_kwargs)
    if listing is not None and src.paths is not None:
        src.__dict__["entries"] = list(listing.entries)
    cache = CacheOptions(
        folder=cache_dir,
        enabled=use_cache,
        verify=verify,
        refresh=refresh,
        lock_timeout=lock_timeout,
    )
    return statistics(src, cache, client=client, progress=progress)
