"""Warnings about a finished scan's numbers, issued wherever statistics are returned (a scan,
a cache hit), so they do not depend on where the numbers came from."""

from __future__ import annotations

import numpy as np

from ..errors import DataWarning, warn_data
from ..hints import binary_fix
from ..stats import ClassStats
from .settings import ScanSettings


class VoidLabelWarning(DataWarning):
    """``num_classes`` was inferred as 256 only because label 255 (usually void) is present."""


class BinaryMaskWarning(DataWarning):
    """``num_classes`` was inferred from binary masks stored as 0 and ``v`` (e.g. 0/255)."""


def warn_binary(stats: ClassStats, settings: ScanSettings) -> bool:
    """Warn when inferred classes come from binary masks stored as 0/``v`` (``v + 1`` classes,
    all but two empty), or when their foreground ``v`` was made the ignore index (its weight
    would be 0). True when it warned."""
    space = settings.space
    if space.num_classes is not None or stats.multilabel or space.remap or space.reduce_zero_label:
        return False
    present = np.flatnonzero(stats.pixels).tolist()
    ig = stats.ignore_index
    if len(present) == 2 and present[0] == 0 and (fix := binary_fix(present)):
        v = present[1]
        message = (
            f"num_classes was inferred as {v + 1} ({v - 1} of them empty), but {fix}; not "
            f"--ignore-index {v}, which would drop the foreground and give it weight 0"
        )
    elif present == [0] and stats.ignored_pixels and ig is not None and ig >= 2:
        message = (
            f"the masks hold only 0 and the ignore index {ig}: if these are binary masks whose "
            f"foreground is {ig}, the foreground is ignored and gets weight 0; pass --binary "
            f"({ig} -> class 1) instead of --ignore-index {ig}"
        )
    else:
        return False
    warn_data(message, BinaryMaskWarning, stacklevel=4)
    return True


def warn_void_label(stats: ClassStats, settings: ScanSettings) -> None:
    """Warn when 255 made the inferred ``num_classes`` 256 while no label lies just below it.

    Called on every path that returns statistics (a scan, a cache hit), so the warning does not
    depend on where the numbers came from. Binary masks (only 0 and 255) get `warn_binary`'s
    warning instead: there 255 is the foreground, not void.
    """
    if warn_binary(stats, settings):
        return
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
