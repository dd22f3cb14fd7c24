"""Counting masks (runs inside scan workers): `count_unit` reads and counts a unit of work and
turns a failing file into a `Failure` that names it.

One decoded mask is counted by `count_mask` (`core.py`); a PNG the fused path can count is
never decoded (`png.py`: inflate once, unfilter and count). Raw values become classes later, in
the engine (`scan/collect.py`), so workers need no label space and a result is independent of
which worker produced it.
"""

from __future__ import annotations

from typing import Any

from ..errors import ClassWeightsError
from ..sources import PngStream, Scratch, decode_image, inflate_rows, read_entry, read_stacks
from ..sources.valid import valid_of
from .core import (
    MAX_UNKNOWN_COLORS,
    OTHER_COLORS,
    CountOptions,
    Failure,
    ImageCount,
    MaskWarning,
    Unit,
    count_mask,
    count_stack,
    stackable,
    unexpected_failure,
)
from .png import count_png, count_rows, count_streams, fused_batches, uses_fused_png
from .region import count_in_region


def count_unit(
    unit: Unit, opts: CountOptions, scratch: Scratch | None = None
) -> list[ImageCount | Failure]:
    """Read and count every image of a unit of work; a failing entry becomes a `Failure`.

    ``scratch``: this thread's decode buffer (`classweights.sources.Scratch`), reused per mask.
    PNG masks go through the fused path where it applies (`uses_fused_png`): grey and palette
    ones of 8 bits or fewer are inflated and counted together in one kernel call at the end of
    the unit (`count_streams`), the others one by one (`count_rows`).
    """
    out: list[Any] = []
    fused = uses_fused_png(opts)
    together = fused and fused_batches()
    streams: list[tuple[int, str, PngStream]] = []  # (place in out, source, stream)
    for entry, indices in unit:
        try:
            if stackable(opts) and (stacks := read_stacks(entry, indices, opts.read)):
                for ids, block in stacks:
                    out.extend(count_stack(ids, block, opts))
                continue
            if (region := valid_of(entry)) is not None:  # a valid-region mask beside it
                out.append(count_in_region(entry.path, region, opts))
                continue
            for sid, m in read_entry(entry, indices, opts.read, scratch, fused):
                if type(m) is PngStream:
                    if together and m.depth <= 8 and m.ctype in (0, 3):
                        streams.append((len(out), sid, m))
                        out.append(None)
                        continue
                    rows = inflate_rows(m, scratch)
                    got = None if rows is None else count_rows(rows, sid, opts)
                    if got is not None:
                        out.append(got)
                        continue
                    m = decode_image(m.data, sid, opts.read, scratch)  # names the damage
                out.append(count_mask(m, sid, opts))
        except ClassWeightsError as e:
            out.append(Failure(entry.path, str(e)))
        except Exception as e:  # a reader's own exception: name the file, keep the reason
            out.append(unexpected_failure(entry.path, e))
    if streams:
        for place, got in count_streams(streams, opts, scratch):
            out[place] = got
    return out


__all__ = [
    "MAX_UNKNOWN_COLORS",
    "OTHER_COLORS",
    "CountOptions",
    "Failure",
    "ImageCount",
    "MaskWarning",
    "Unit",
    "count_mask",
    "count_png",
    "count_rows",
    "count_stack",
    "count_streams",
    "count_unit",
    "uses_fused_png",
]
