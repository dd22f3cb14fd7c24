"""`compare-splits`: per-class drift between two splits (table, JSON, CSV, Markdown)."""

from __future__ import annotations

from typing import Any

import click

from .errors import handle_errors
from .options import FORMATS, run_scan, scan_options


@click.command("compare-splits")
@scan_options(formats=FORMATS)
@handle_errors
def compare_splits_command(**kw: Any) -> None:
    """Class shares of two splits side by side (train vs val drift).

    Per class: share in TRAIN and VAL, their ratio, images, classes missing from one side;
    and the Jensen-Shannon divergence (bits) of the class shares.

    Both splits are scanned with the same options (each through the cache).

    \b
    Examples:
      classweights compare-splits train/ val/ --num-classes 19 --ignore-index 255
      classweights compare-splits train/ val/ --num-classes 19 --ignore-index 255 --format markdown
    """
    from ..report.render import render
    from ..splits import compare_splits

    if len(kw["paths"]) != 2:
        raise click.UsageError(f"expected two splits (TRAIN VAL), got {len(kw['paths'])} paths")
    train, val = kw["paths"]
    a, _ = run_scan({**kw, "paths": (train,)})
    b, _ = run_scan({**kw, "paths": (val,)})
    data = compare_splits(a, b, labels=(train, val))
    render(data, kw["fmt"], kind="splits")
