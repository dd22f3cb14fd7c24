"""Masks decoded by Pillow, palette images above all (PNG mode ``P``, GIF).

A palette image stores an index per pixel and a table of colours. Two conventions meet here:

- **index = class** (Pascal VOC, Mapillary Vistas): every file carries the same palette, and the
  index is the label. Read without ``--palette``, the indices are counted; each mask comes with
  its palette (:class:`Indexed`) so the scan can tell when the palettes *differ* across files on
  the indices actually used (hand-made and remote-sensing sets: the same colour is index 0 in one
  file and index 3 in the next), and warn naming ``--palette``;
- **colour = class**: with a colour table (``--palette``) a palette image is read by its colours
  (index -> palette colour -> class), exactly as an RGB mask of the same colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MaskReadError
from .entries import ReadOptions
from .strict import open_strict, tiff_stored_values


@dataclass(frozen=True)
class Indexed:
    """A palette mask read as indices: ``array`` (H x W indices) and ``palette``, the packed
    ``0xRRGGBB`` colour of each palette entry (as many as the file declares)."""

    array: NDArray[Any]
    palette: NDArray[np.int64]


def pillow_decode(data: bytes, path: str, opts: ReadOptions) -> NDArray[Any] | Indexed:
    """Decode with Pillow: H x W labels, H x W x 3 colours, or :class:`Indexed` for a palette
    image read without a colour table."""
    try:
        im = open_strict(data, path, opts.max_pixels)
    except MaskReadError:
        raise
    except Exception as e:
        raise MaskReadError(f"{path}: cannot decode the image ({e})") from None
    mode = im.mode
    if mode == "1":
        return tiff_stored_values(im, np.asarray(im, dtype=np.uint8))
    if mode not in ("L", "P", "I;16", "I;16B", "I;16L", "I", "RGB", "RGBA", "LA", "PA"):
        raise MaskReadError(
            f"{path}: image mode {mode!r} is not a label mask (expected L, P, I;16, I, 1 or RGB)"
        )
    arr = tiff_stored_values(im, np.asarray(im))
    if mode in ("LA", "PA"):
        arr = arr[..., 0]
    if mode in ("P", "PA"):
        palette = packed_palette(im.getpalette())
        if opts.rgb:  # a colour table: read the palette image by its colours
            return indices_to_rgb(arr, palette)
        if palette is not None and not opts.multilabel:
            return Indexed(arr, palette)
    return arr


def packed_palette(values: list[int] | None) -> NDArray[np.int64] | None:
    """Pillow's flat ``[r, g, b, r, g, b, ...]`` palette as packed ``0xRRGGBB`` colours.

    >>> packed_palette([255, 0, 0, 0, 0, 128]).tolist()
    [16711680, 128]
    """
    if not values:
        return None
    rgb = np.asarray(values[: len(values) // 3 * 3], np.int64).reshape(-1, 3)
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


def indices_to_rgb(indices: NDArray[Any], palette: NDArray[np.int64] | None) -> NDArray[np.uint8]:
    """The H x W x 3 colours of a palette image (indices past its palette read as black, as
    Pillow's ``convert("RGB")`` does).

    >>> indices_to_rgb(np.array([[0, 1]]), np.array([0xFF0000, 0x0000FF])).tolist()
    [[[255, 0, 0], [0, 0, 255]]]
    """
    lut = np.zeros((256, 3), np.uint8)
    if palette is not None:
        p = palette[:256]
        lut[: len(p)] = np.stack([(p >> 16) & 255, (p >> 8) & 255, p & 255], axis=1)
    return lut[np.asarray(indices, np.uint8)]


def finish(arr: NDArray[Any], path: str, opts: ReadOptions) -> NDArray[Any]:
    """Drop an RGBA mask's alpha; refuse colours without a colour table, and a grey mask with
    one (its values are labels: a colour table cannot map them)."""
    if arr.ndim == 3:
        kind = "RGB"
        if arr.shape[-1] == 4:  # RGBA: with a colour table the alpha channel is dropped
            arr, kind = arr[..., :3], "RGBA"
        if arr.shape[-1] == 3 and not opts.rgb and not opts.multilabel:
            no_colour_table(path, kind)
    elif opts.rgb:
        raise MaskReadError(
            f"{path}: is a grey mask (one value per pixel, no colours and no palette) but a "
            "colour table (--palette) was given; a colour table reads RGB and palette masks: "
            "pass only those, or count grey label masks in a run of their own"
        )
    return arr


def no_colour_table(path: str, kind: str) -> None:
    raise MaskReadError(
        f"{path}: is an {kind} colour mask but no colour table was given; pass "
        "--palette PRESET|FILE (e.g. --palette cityscapes) to map colours to labels"
    )
