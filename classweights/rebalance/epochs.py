"""Epoch-based repeat lists (detectron2): each image ``floor(r)`` or ``ceil(r)`` times per
epoch, seeded by ``(seed, epoch)`` so every process of a distributed job agrees."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ConfigError


def _rng(seed: int, epoch: int) -> np.random.Generator:
    for name, v in (("seed", seed), ("epoch", epoch)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ConfigError(f"{name}={v!r} is not valid; expected an integer >= 0")
    return np.random.default_rng([int(seed), int(epoch)])


def _factors(factors: ArrayLike) -> NDArray[np.float64]:
    r = np.asarray(factors, dtype=np.float64)
    if r.ndim != 1:
        raise ConfigError(f"factors has shape {r.shape}; expected one value per image (1-D)")
    ok = np.isfinite(r) & (r >= 0)
    if not ok.all():
        raise ConfigError(
            f"factors must be finite and >= 0; images {np.flatnonzero(~ok)[:5].tolist()} are not"
        )
    return r


def stochastic_repeats(factors: ArrayLike, seed: int = 0, epoch: int = 0) -> NDArray[np.int64]:
    """How many times each image appears in one epoch: ``floor(r) + Bernoulli(frac(r))``.

    Stochastic rounding, as detectron2's ``RepeatFactorTrainingSampler._get_epoch_indices``:
    the expected count is exactly ``r``, and an image is repeated ``floor(r)`` or
    ``ceil(r)`` times. The draw depends only on ``(seed, epoch)``
    (``numpy.random.default_rng([seed, epoch])``), so every process of a distributed job
    builds the same list; pass the epoch number to get a fresh rounding each epoch.

    Args:
        factors: ``(N,)`` repeat factors ``>= 0`` (e.g. :func:`repeat_factors`).
        seed: integer ``>= 0``.
        epoch: integer ``>= 0``.

    Returns:
        ``(N,)`` int64 repeat counts.

    >>> stochastic_repeats([1.0, 2.0, 0.0, 3.0]).tolist()
    [1, 2, 0, 3]
    >>> r = stochastic_repeats([1.5] * 1000, seed=0, epoch=1)
    >>> sorted(set(r.tolist())), bool(abs(r.mean() - 1.5) < 0.05)
    ([1, 2], True)
    """
    return _round(_factors(factors), _rng(seed, epoch))


def _round(r: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.int64]:
    whole = np.floor(r)
    return (whole + (rng.random(r.shape[0]) < r - whole)).astype(np.int64)


def epoch_indices(
    factors: ArrayLike, seed: int = 0, epoch: int = 0, shuffle: bool = True
) -> NDArray[np.int64]:
    """Dataset indices of one epoch: image ``i`` repeated :func:`stochastic_repeats` times.

    The list a detectron2 ``RepeatFactorTrainingSampler`` yields for one epoch (shuffled
    with the same ``(seed, epoch)`` generator unless ``shuffle=False``). Use it as a
    ``torch.utils.data.Sampler``'s ``__iter__`` or slice it per rank.

    Args:
        factors: ``(N,)`` repeat factors ``>= 0``.
        seed: integer ``>= 0``.
        epoch: integer ``>= 0``.
        shuffle: permute the list.

    Returns:
        ``(sum of repeats,)`` int64 indices into the dataset.

    >>> epoch_indices([1.0, 2.0, 0.0, 1.0], shuffle=False).tolist()
    [0, 1, 1, 3]
    """
    r = _factors(factors)
    rng = _rng(seed, epoch)
    idx = np.repeat(np.arange(r.shape[0], dtype=np.int64), _round(r, rng))
    return rng.permutation(idx) if shuffle else idx
