"""Counting a mask inside its valid region (``valid_mask``): the pixels where the paired valid
mask is 0 are not labelled; they are counted as ignored (`ImageCount.outside`), whatever the
label mask holds there."""

from __future__ import annotations

import numpy as np

from ..errors import MaskReadError
from ..sources import Indexed, read_image
from ..sources.valid import read_region
from .core import CountOptions, ImageCount, count_mask


def count_in_region(path: str, region: str, opts: CountOptions) -> ImageCount:
    """Count ``path`` where the valid mask ``region`` is not black (`read_region`).

    >>> import os, tempfile, numpy as np
    >>> from PIL import Image
    >>> from classweights.sources import ReadOptions
    >>> d = tempfile.mkdtemp()
    >>> Image.fromarray(np.array([[1, 2], [2, 2]], np.uint8)).save(os.path.join(d, "m.png"))
    >>> Image.fromarray(np.array([[255, 0], [255, 255]], np.uint8)).save(os.path.join(d, "v.png"))
    >>> c = count_in_region(os.path.join(d, "m.png"), os.path.join(d, "v.png"),
    ...                     CountOptions(ReadOptions(), None, 256))
    >>> c.values.tolist(), c.counts.tolist(), c.outside, c.total
    ([1, 2], [1, 2], 1, 4)
    """
    mask = read_image(path, opts.read, None, True)
    indices = mask.array if isinstance(mask, Indexed) else np.asarray(mask)
    inside = read_region(region, opts.read.max_pixels)
    if inside.shape != indices.shape[:2]:
        raise MaskReadError(
            f"{path}: is {indices.shape[1]} x {indices.shape[0]} but its valid mask {region} is "
            f"{inside.shape[1]} x {inside.shape[0]}; they must cover the same pixels"
        )
    kept = indices[inside][None]  # 1 x N (x 3): the labelled pixels, in order
    got = count_mask(Indexed(kept, mask.palette) if isinstance(mask, Indexed) else kept, path, opts)
    got.outside = int(inside.size - np.count_nonzero(inside))
    got.total += got.outside
    return got
