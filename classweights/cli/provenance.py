"""`explain` and `match`: where a weight vector comes from."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from ..text import csv_cell, visible, visible_lines
from .errors import handle_errors
from .options import run_scan, scan_options


def _records(target: str, cache_dir: str | None) -> list[tuple[str, dict[str, Any]]]:
    from ..cache.record import load_record

    if Path(target).is_file():
        return [(target, load_record(target))]
    try:
        from ..cache import find_records
    except ImportError:
        raise click.UsageError(f"{target}: no such weight file") from None
    return find_records(target, cache_dir)


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
        click.echo(json.dumps(plain(out[0] if len(out) == 1 else out), indent=2))
        return
    for i, (path, record) in enumerate(found):
        text = explain_record(_visible_strings(record), class_index)
        click.echo(("\n" if i else "") + f"{visible(path)}\n{visible_lines(text)}")


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
@scan_options
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
@handle_errors
def match(**kw: Any) -> None:
    """Which method and convention produced published class weights, on this dataset.

    \b
    Examples:
      classweights match DATA --num-classes 11 --ignore-index 11 --weights "0.2595,0.1826,4.5640,..."
      classweights match gtFine/train --glob '**/*_labelTrainIds.png' --num-classes 19 --ignore-index 255 --weights-file mmseg.json
    """
    from ..provenance import dataset_args, parse_published
    from ..provenance import match as match_weights

    published = parse_published(kw["weights"], kw["weights_file"])
    flags = ("num_classes", "ignore_index", "remap", "classes", "palette", "reduce_zero_label",
             "multilabel", "sample", "seed")  # fmt: skip
    args = dataset_args(kw["paths"], glob=kw["glob_"], **{f: kw[f] for f in flags})
    stats, _ = run_scan(kw)  # cached statistics: no rescan on a warm cache
    found = match_weights(stats, published, decimals=kw["decimals"], top=kw["top"],
                          include_void_variants=not kw["no_void"], dataset_args=args)  # fmt: skip
    if kw["fmt"] == "json":
        click.echo(json.dumps({"published": published, "fits": bool(found and found[0].fits),
                               "candidates": [c.as_dict() for c in found]}, indent=2))  # fmt: skip
    elif kw["fmt"] == "csv":
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow("rank method options scale max_rel_error rmse fits command".split())
        for i, c in enumerate(found, 1):
            opts = ";".join(f"{k}={v}" for k, v in c.options.items())
            out.writerow([i, c.method, csv_cell(opts), f"{c.scale:.6g}", f"{c.max_rel_error:.3g}",
                          f"{c.rmse:.3g}", c.fits, csv_cell(c.command)])  # fmt: skip
        click.echo(buf.getvalue(), nl=False)
    else:
        click.echo(visible_lines(_render(found, [visible(n) for n in stats.names])))


def _render(found: list[Any], names: list[str]) -> str:
    lines = []
    for i, c in enumerate(found, 1):
        worst = max(range(len(c.residuals)), key=c.residuals.__getitem__)
        name = names[worst] if worst < len(names) else "the ignore label"
        name = "" if name == str(worst) else f" {name}"
        lines.append(f"{i}. {'FITS' if c.fits else 'no fit'}  {c.label}")
        where = f" (class {worst}{name})" if c.max_rel_error > 0 else ""
        lines.append(
            f"   max relative error {100 * c.max_rel_error:.3g}%{where} after rounding, rmse {100 * c.rmse:.3g}% before"
        )
        if c.equivalent:
            lines.append(
                f"   same vector: {'; '.join(c.equivalent[:4])}"
                + (" ..." if len(c.equivalent) > 4 else "")
            )
        lines.append(f"   {c.command}")
    best = found[0] if found else None
    if best is not None and best.fits:
        lines.insert(0, "reproduced: the published weights are " + best.label + "\n")
    elif best is not None:
        lines.insert(0, f"nothing fits: the closest candidate is off by up to {100 * best.max_rel_error:.3g}% "
                        "(the published numbers may come from another version or split of the labels, "
                        "other ignore/void handling, crops or resizing, clipping, or a hand edit)\n")  # fmt: skip
    return "\n".join(lines)
