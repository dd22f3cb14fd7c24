"""`compare-splits`: per-class drift between two splits (table, JSON, CSV, Markdown)."""

from __future__ import annotations

from typing import Any

import click

from .app import FORMATS, App, command
from .flags import mask_source, sample_flags, scan_flags


@click.command("compare-splits")
@scan_flags
@sample_flags()
@command(FORMATS)
def compare_splits_command(app: App, **kw: Any) -> None:
    """Class shares of two splits side by side (train vs val drift).

    Per class: share in TRAIN and VAL, their ratio, images, classes missing from one side;
    and the Jensen-Shannon divergence (bits) of the class shares.

    Both splits are scanned with the same options (each through the cache). With --layout,
    one dataset folder is enough: its train and val splits (--split A,B for others).

    \b
    Examples:
      classweights compare-splits train/ val/ --num-classes 19 --ignore-index 255
      classweights compare-splits train/ val/ --num-classes 19 --ignore-index 255 --format markdown
      classweights compare-splits cityscapes/ --layout cityscapes
      classweights compare-splits VOC2012/ --layout voc --split train,val
    """
    from ..report.render import render
    from ..splits import compare_splits, split_sides

    a_side, b_side = split_sides(kw["paths"], layout=kw["layout"], split=kw["split"])
    a, _ = app.statistics(mask_source(kw, paths=a_side.paths, split=a_side.split))
    b, _ = app.statistics(mask_source(kw, paths=b_side.paths, split=b_side.split))
    data = compare_splits(a, b, labels=(a_side.label, b_side.label))
    render(data, app.fmt, kind="splits")
