"""`explain` and `match`: where a weight vector comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..text import visible
from .app import TEXT_FORMATS, App, command
from .errors import handle_errors
from .flags import mask_source, sample_flags, scan_flags


def _records(target: str, cache_dir: str | None) -> list[tuple[str, dict[str, Any]]]:
    """The records of a weight file or of a cache key, as plain data (checksums verified)."""
    from ..cache import find_records
    from ..records import WeightRecord

    if Path(target).is_file():
        return [(target, WeightRecord.load(target).as_dict())]
    return [(p, r.as_dict()) for p, r in find_records(target, cache_dir)]


@click.command()
@click.argument("target")
@click.option(
    "--cache-dir", type=click.Path(), help="Cache folder holding KEY (default: the user cache)."
)
@click.option(
    "--class", "class_index", type=int, help="Work this class through (default: the rarest)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@handle_errors
def explain(target: str, cache_dir: str | None, class_index: int | None, fmt: str) -> None:
    """How a weight file (or every weight file of a cache KEY) was made.

    \b
    Examples:
      classweights explain weights.pth
      classweights explain 3f2a9c0d41b7e2aa55c1d0e9 --class 12
    """
    from ..cache.record import plain
    from ..provenance import explain as explain_record
    from ..report.render import render

    found = _records(target, cache_dir)
    if fmt == "json":
        out = [
            {
                "path": p,
                "record": _tensors_to_lists(r),
                "explanation": explain_record(r, class_index),
            }
            for p, r in found
        ]
        data: Any = plain(out[0] if len(out) == 1 else out)
    else:  # the text explains the record with its stored strings made visible
        data = [
            {"path": p, "explanation": explain_record(_visible_strings(r), class_index)}
            for p, r in found
        ]
    render(data, fmt, kind="explain")


def _visible_strings(obj: Any) -> Any:
    """The record with every stored string made visible (its text is data, never layout)."""
    if isinstance(obj, str):
        return visible(obj)
    if isinstance(obj, dict):
        return {_visible_strings(k): _visible_strings(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_visible_strings(v) for v in obj)
    return obj


def _tensors_to_lists(obj: Any) -> Any:
    if hasattr(obj, "tolist") and hasattr(obj, "numpy"):
        return obj.tolist()
    if isinstance(obj, dict):
        return {k: _tensors_to_lists(v) for k, v in obj.items()}
    return obj


@click.command()
@scan_flags
@sample_flags()
@click.option(
    "--weights",
    help='The published vector: "0.2595,0.1826,4.5640,..." (digits give its precision).',
)
@click.option(
    "--weights-file",
    type=click.Path(exists=True, dir_okay=False),
    help="The published vector in a .txt, .json or .npy file.",
)
@click.option(
    "--decimals", type=int, help="Published precision (default: each value's own digits)."
)
@click.option("--top", type=int, default=5, show_default=True, help="How many candidates to show.")
@click.option("--no-void", is_flag=True, help="Do not try the ignore label as a class.")
@command(TEXT_FORMATS)
def match(app: App, **kw: Any) -> None:
    """Which method and convention produced published class weights, on this dataset.

    \b
    Examples:
      classweights match DATA --num-classes 11 --ignore-index 11 --weights "0.2595,0.1826,4.5640,..."
      classweights match gtFine/train --glob '**/*_labelTrainIds.png' --num-classes 19 --ignore-index 255 --weights-file mmseg.json
    """  # noqa: E501 (commands stay one line: they are copied)
    from ..provenance import dataset_args, match_notes, parse_published
    from ..provenance import match as match_weights
    from ..report.render import render

    published = parse_published(kw["weights"], kw["weights_file"])
    flags = (
        "num_classes",
        "ignore_index",
        "remap",
        "classes",
        "palette",
        "reduce_zero_label",
        "multilabel",
        "sample",
        "seed",
    )
    given = {f: kw[f] for f in flags if kw[f] is not None} | {"seed": kw["seed"] or 0}
    args = dataset_args(kw["paths"], glob=kw["glob_"], **given)
    stats, _ = app.statistics(mask_source(kw))  # cached statistics: no rescan on a warm cache
    found = match_weights(
        stats,
        published,
        decimals=kw["decimals"],
        top=kw["top"],
        include_void_variants=not kw["no_void"],
        dataset_args=args,
    )
    data = {
        "published": published,
        "fits": bool(found and found[0].fits),
        "candidates": [c.as_dict() for c in found],
        "notes": match_notes(found),
    }
    render(data, app.fmt, kind="match", found=found, names=stats.names)
