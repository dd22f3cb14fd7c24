"""Palette masks counted by index: do the files agree on what each index is?

Pascal VOC and Mapillary Vistas store one palette shared by every file (index = class); a set
whose files each carry their own palette (hand-made and remote-sensing masks: the same colour is
index 0 in one file and index 3 in the next) would be counted as wrong classes without a word.
Each image's palette colours of the indices it *uses* are compared with the colour that index
had where it was first seen; entries a file does not use (optimisers drop them, or append
others) are not a difference. One warning per scan names ``--palette``.
"""

from __future__ import annotations

import numpy as np

from ..counting import ImageCount
from ..errors import PaletteWarning, warn_data

_UNSEEN = -2
_MAX_COLOURS = 4096


class PaletteCheck:
    """The colour of each index where it was first seen, and the first disagreement."""

    def __init__(self) -> None:
        self.colour = np.full(256, _UNSEEN, np.int64)
        self.first: dict[int, str] = {}
        self.files = 0
        self.differing = 0
        self.example: tuple[int, int, str, int, str] | None = None
        self.used: set[int] = set()  # colours the files use (named in the warning)

    def add(self, item: ImageCount) -> None:
        """One palette image's used indices and their colours (``item.palette``)."""
        values, colours = item.values, item.palette
        keep = (values >= 0) & (values < 256) & (colours >= 0)
        values, colours = values[keep], colours[keep]
        self.files += 1
        if len(self.used) < _MAX_COLOURS:
            self.used.update(colours.tolist())
        known = self.colour[values]
        new = known == _UNSEEN
        if new.any():
            self.colour[values[new]] = colours[new]
            self.first.update(dict.fromkeys(values[new].tolist(), item.source))
        clash = ~new & (known != colours)
        if clash.any():
            self.differing += 1
            if self.example is None:
                k = int(np.flatnonzero(clash)[0])
                v = int(values[k])
                self.example = (v, int(known[k]), self.first[v], int(colours[k]), item.source)

    def warn(self) -> None:
        """Warn once when the palettes of the files differ on the indices they use."""
        if self.example is None:
            return
        v, a, fa, b, fb = self.example
        used = sorted(self.used)
        shown = ", ".join(f"#{c:06x}" for c in used[:12]) + (", ..." if len(used) > 12 else "")
        warn_data(
            f"the palette masks carry different palettes: index {v} is #{a:06x} in {fa} but "
            f"#{b:06x} in {fb} ({self.differing:,} of {self.files:,} files disagree with earlier "
            "ones on the indices they use), so an index is not the same class across files and "
            "the counts by index mix classes; pass --palette FILE|PRESET (a colour table, "
            f'e.g. {{"#rrggbb": class}}) to read them by colour; the colours used: {shown}',
            PaletteWarning,
            stacklevel=4,
        )
