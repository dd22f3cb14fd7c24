"""Valid-region masks: each mask paired with a second mask that says which pixels are labelled.

Field-of-view masks (DRIVE), no-data masks of aerial tiles: the pixels where the valid mask is 0
are not labelled, so they are counted as ignored, whatever the label mask holds there. The pair
is named by a template (``--valid-mask``), relative to the label mask's folder unless absolute:

- ``{stem}``: the mask's file name without its extension (``21_manual1``);
- ``{id}``: the stem up to its first ``_`` (``21``), the id most datasets share across folders;
- ``{name}``: the whole file name.

``../mask/{id}_training_mask.gif`` pairs DRIVE's ``1st_manual/21_manual1.gif`` with
``mask/21_training_mask.gif``. A template without a placeholder is refused (every mask would
share one valid mask: give it as ``{name}`` of a folder instead). A mask without its pair is an
error naming the first such mask and the path tried. The valid masks join the dataset's listing,
so the cache key, ``--verify``, incremental rescans, samples and Dask units cover them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePath

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError, DatasetError, MaskReadError
from .entries import Entry, file_version, is_url
from .volumes import is_volume_path

#: the part name of a valid mask in `Entry.files`
VALID = "valid"
_PLACEHOLDERS = ("{stem}", "{id}", "{name}")


def check_template(template: str) -> None:
    """Refuse a template that names no placeholder (every mask would share one file).

    >>> check_template("../mask/{id}_training_mask.gif")
    >>> check_template("fov.png")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classweights.errors.ConfigError: valid_mask='fov.png' names no {stem}, {id} or {name}; ...
    """
    if not any(p in template for p in _PLACEHOLDERS):
        raise ConfigError(
            f"valid_mask={template!r} names no {{stem}}, {{id}} or {{name}}; the template gives "
            "each mask its own valid mask, e.g. '../mask/{id}_training_mask.gif'"
        )


def valid_path(mask: str, template: str) -> str:
    """The valid mask paired with ``mask`` by ``template``.

    >>> valid_path("/d/1st_manual/21_manual1.gif", "../mask/{id}_training_mask.gif")
    '/d/mask/21_training_mask.gif'
    >>> valid_path("/d/tiles/t7.png", "{stem}_nodata.png")
    '/d/tiles/t7_nodata.png'
    """
    p = PurePath(mask)
    stem = p.name.split(".", 1)[0]
    name = template.format(stem=stem, id=stem.split("_", 1)[0], name=p.name)
    return os.path.normpath(name if os.path.isabs(name) else os.path.join(p.parent, name))


def pair_valid_masks(entries: Sequence[Entry], template: str) -> list[Entry]:
    """``entries`` with each mask's valid mask added (``files``: ``("valid", path)``, and its
    listing row, so the fingerprint sees it without another stat).

    Raises:
        DatasetError: an entry that is not a 2-D mask file, or a mask without its pair.
    """
    check_template(template)
    out = []
    for e in entries:
        if e.kind != "image" or is_volume_path(e.path) or is_url(e.path):
            raise DatasetError(
                f"{e.path}: --valid-mask pairs local 2-D mask files (PNG, TIFF, GIF...); this is "
                f"{'a volume' if e.kind == 'image' else f'an {e.kind} stack'}; drop --valid-mask"
            )
        pair = valid_path(e.path, template)
        try:
            st = os.stat(pair)
        except OSError:
            raise DatasetError(
                f"{e.path}: its valid mask {pair} does not exist (--valid-mask {template}); "
                "every mask needs one: fix the template, or --glob the masks that have one"
            ) from None
        if not stat.S_ISREG(st.st_mode):
            raise DatasetError(f"{pair}: the valid mask of {e.path} is not a regular file")
        rows = (*e.listing, (pair, st.st_size, file_version(st))) if e.listing else ()
        out.append(replace(e, files=((VALID, pair),), listing=rows))
    return out


def read_region(path: str, max_pixels: int) -> NDArray[np.bool_]:
    """A valid mask as ``H x W`` booleans: True where it is not black (grey, palette or colour
    files alike; a palette's index 0 is not 0 unless its colour is), read with the strict
    checks of mask files (CRCs, truncation)."""
    from .readers import read_bytes
    from .strict import open_strict

    data = read_bytes(path)
    try:
        im = open_strict(data, path, max_pixels)
        grey = np.asarray(im.convert("L") if im.mode not in ("L", "1", "I", "I;16") else im)
    except MaskReadError:
        raise
    except Exception as e:
        raise MaskReadError(f"{path}: cannot decode the valid mask ({e})") from None
    return grey != 0


def valid_of(entry: Entry) -> str | None:
    """The valid mask paired with an entry, or None."""
    return next((f for part, f in entry.files if part == VALID), None)
