"""Warnings about a finished scan's numbers, issued wherever statistics are returned (a scan,
a cache hit), so they do not depend on where the numbers came from."""

from __future__ import annotations

import numpy as np

from ..errors import DataWarning, warn_data
from ..stats import ClassStats
from .settings import ScanSettings


class VoidLabelWarning(DataWarning):
    """``num_classes`` was inferred as 256 only because label 255 (usually void) is present."""


def warn_void_label(stats: ClassStats, settings: ScanSettings) -> None:
    """Warn when 255 made the inferred ``num_classes`` 256 while no label lies just below it.

    Called on every path that returns statistics (a scan, a cache hit), so the warning does not
    depend on where the numbers came from.
    """
    if settings.space.num_classes is not None or stats.ignore_index is not None:
        return
    if stats.multilabel or stats.num_classes != 256 or not stats.pixels[255]:
        return
    below = np.flatnonzero(stats.pixels[:255])
    top = int(below[-1]) if below.size else -1
    if top >= 254:  # labels run right up to 255: plausibly 256 real classes
        return
    warn_data(
        f"num_classes was inferred as 256 because label 255 is present, but no label lies "
        f"between {top + 1} and 254: 255 looks like the void label; pass --ignore-index 255 "
        f"(and --num-classes {top + 1}) to ignore it, or --num-classes 256 if it is a class",
        VoidLabelWarning,
        stacklevel=3,
    )
