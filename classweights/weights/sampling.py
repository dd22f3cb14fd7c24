"""Weights from a growing sample of images: :func:`auto_sample` reads until every weight is
known to a tolerance (its intervals come from :mod:`.bootstrap`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..stats import ClassStats
from .bootstrap import _check_ci, _intervals
from .stages import parse_options

log = logging.getLogger(__name__)


def _next_size(n: int, pop: int, rel: float, tol: float, growth: float, unresolved: bool) -> int:
    """Next sample size: predicted from ``rel ~ k sqrt(1/n - 1/pop)``, grown by 1.25..growth."""
    most = max(n + 1, math.ceil(n * growth))
    if unresolved or rel <= 0:
        return most
    k2 = rel**2 / max(1.0 / n - 1.0 / pop, 1e-300)
    predicted = 1.0 / ((tol**2) / k2 + 1.0 / pop)
    return min(most, max(n + 1, math.ceil(n * 1.25), math.ceil(1.1 * predicted)))


def _classes(stats: ClassStats, ids: list[int], one: str, many: str) -> str:
    """``"class 3 (bicycle) has"`` / ``"classes 3, 7 have"``: ids with their names, if any."""
    names = stats.names
    listed = ", ".join(f"{i} ({names[i]})" if stats.class_names else str(i) for i in ids)
    return f"class {listed} {one}" if len(ids) == 1 else f"classes {listed} {many}"


def _merge(stats: ClassStats | None, new: ClassStats) -> ClassStats:
    """``stats + new``; a class count that changes between rounds is a :class:`ConfigError`."""
    if stats is None:
        return new
    if new.num_classes != stats.num_classes:
        raise ConfigError(
            f"auto_sample: draw returned statistics of {new.num_classes} classes after "
            f"{stats.num_classes}; declare num_classes (or the class names) for the scan: a "
            "sample cannot see the classes it has not read"
        )
    return stats + new


def auto_sample(
    draw: Callable[[NDArray[np.int64]], ClassStats],
    population: int,
    *,
    tolerance: float = 0.05,
    ci: float = 0.95,
    initial: int = 100,
    growth: float = 2.0,
    seed: int | None = 0,
    method: str = "sqrt_inv_freq",
    n_boot: int = 1000,
    interval: str = "hull",
    **weight_kwargs: Any,
) -> tuple[ClassStats, dict[str, Any]]:
    """Scan a growing random sample of images until every weight is known to ``tolerance``.

    Draws a seeded random permutation of ``range(population)`` and scans growing prefixes
    of it; each image is read once (only the new indices are passed to ``draw``, and the
    counts are merged). The next size is predicted from the widest interval, assuming the
    half-width shrinks as ``sqrt(1/n - 1/population)``, plus 10 %, and kept between
    ``1.25 x`` and ``growth x`` the current size. After each round it computes
    :func:`~classweights.weights.bootstrap_intervals` with the finite-population
    correction, and stops when, for every class present in the sample, the interval
    half-width ``(high - low) / 2`` is at most ``tolerance x weight``, no class is missing
    from too many replicates and every class has pixels in the sample, or when the
    population is exhausted.

    Every one of the ``num_classes`` classes of the statistics is declared: while one has no
    pixel in the sample, sampling goes on (growing by ``growth``) and a warning naming it
    is logged, since a sample cannot tell a rare class from an absent one. A class still
    without pixels once every image is read is absent from the dataset: ``absent=`` gives
    its weight exactly as for a full scan (the statistics then hold every image, and their
    weights equal the full scan's). ``draw`` must therefore return statistics of one fixed
    class count (a scan with ``num_classes`` or class names given); a count that changes
    between rounds is a :class:`~classweights.errors.ConfigError`.

    Args:
        draw: ``draw(rows) -> ClassStats`` scans the images with the given indices.
        population: number of images in the dataset.
        tolerance: target relative half-width (0.05: within 5 % of the weight).
        ci: confidence level of the intervals.
        initial: images in the first round.
        growth: largest factor by which the sample grows in one round (> 1).
        seed: seed of the permutation and of the bootstrap.
        method: weight method judged; ``weight_kwargs`` are its options.
        n_boot: bootstrap replicates per round.
        interval: ``"hull"``, ``"studentized"``, ``"bca"`` or ``"percentile"`` (see
            :func:`~classweights.weights.bootstrap_intervals`).

    Returns:
        ``(stats, info)``: the merged statistics of the images read (``sampled`` set when not
        all were read) and a dict with ``images_read``, ``rounds``, ``max_rel_halfwidth``
        (over resolved present classes), ``converged``, ``exhausted``, ``unresolved``
        (class ids missing from too many replicates), ``unseen`` (class ids with no pixel in
        the images read; only when every image was read, so absent from the dataset),
        ``population``, and the last round's ``low`` / ``high`` arrays.

    >>> full = ClassStats.from_counts(np.random.default_rng(0).integers(50, 150, (1000, 3)))
    >>> stats, info = auto_sample(full.subset, full.num_images, initial=20, n_boot=200)
    >>> info["images_read"], info["rounds"], info["converged"], round(info["max_rel_halfwidth"], 3)
    (35, 2, True, 0.042)
    """
    _check_ci(ci, n_boot, interval)
    o = parse_options(method, **weight_kwargs)
    if not float(tolerance) > 0.0:
        raise ConfigError(f"tolerance={tolerance!r} is not valid; expected > 0 (e.g. 0.05)")
    if not float(growth) > 1.0:
        raise ConfigError(f"growth={growth!r} is not valid; expected a factor > 1 (e.g. 2.0)")
    if not isinstance(population, (int, np.integer)) or population < 1:
        raise ConfigError(f"population={population!r} is not valid; expected at least 1 image")
    if not isinstance(initial, (int, np.integer)) or initial < 1:
        raise ConfigError(f"initial={initial!r} is not valid; expected at least 1 image")
    ss = np.random.SeedSequence(seed)
    perm_seed, boot_seed = ss.spawn(2)
    order = np.random.default_rng(perm_seed).permutation(int(population)).astype(np.int64)
    boot_rng = np.random.default_rng(boot_seed)
    stats: ClassStats | None = None
    read, rounds, target = 0, 0, min(int(initial), int(population))
    while True:
        stats = _merge(stats, draw(order[read:target]))
        read, rounds = target, rounds + 1
        w, low, high, present, unresolved = _intervals(
            stats, o, ci, int(n_boot), boot_rng, int(population), interval
        )
        ok = present & ~unresolved & (w > 0)
        rel = np.where(ok, (high - low) / 2.0 / np.where(ok, w, 1.0), 0.0)
        max_rel = float(rel.max(initial=0.0))
        unseen = np.flatnonzero(stats.pixels == 0).tolist()
        converged = max_rel <= tolerance and not np.any(unresolved) and not unseen
        exhausted = read >= population
        if converged or exhausted:
            break
        if unseen:
            log.warning(
                "auto_sample: %s no pixel in the %d of %d images read; reading more images "
                "(a sample cannot tell a rare class from an absent one)",
                _classes(stats, unseen, "has", "have"),
                read,
                population,
            )
        target = min(
            int(population),
            _next_size(
                read,
                int(population),
                max_rel,
                tolerance,
                float(growth),
                bool(np.any(unresolved)) or bool(unseen),
            ),
        )
    if unseen:  # every image read: the class is absent from the dataset, as a full scan says
        log.warning(
            "auto_sample: %s no pixel in any of the %d images, so every image was read; "
            "absent=%r sets %s weight, as in a full scan",
            _classes(stats, unseen, "has", "have"),
            read,
            o.absent,
            "its" if len(unseen) == 1 else "their",
        )
    stats.sampled = read < population
    if stats.sampled:
        stats.sample = {
            "mode": "auto",
            "images": read,
            "population": int(population),
            "tolerance": float(tolerance),
            "ci": float(ci),
            "seed": seed,
            "method": method,
        }
    info = {
        "images_read": read,
        "rounds": rounds,
        "max_rel_halfwidth": max_rel,
        "converged": bool(converged),
        "exhausted": bool(exhausted),
        "unresolved": np.flatnonzero(unresolved).tolist(),
        "unseen": unseen,
        "population": int(population),
        "low": low.astype(np.float64),
        "high": high.astype(np.float64),
    }
    return stats, info
