"""`stats`, `compute` and `compare`: scan, compute, render."""

from __future__ import annotations

from typing import Any

import click

from .errors import handle_errors
from .options import (
    FORMATS,
    check_export,
    check_plot,
    deliver,
    draw,
    emit,
    export_options,
    plot_option,
    print_diagnosis,
    run_scan,
    scan_for_weights,
    scan_options,
    weight_kwargs,
    weight_options,
)


@click.command()
@scan_options(formats=FORMATS)
@plot_option
@handle_errors
def stats(**kw: Any) -> None:
    """Per-class pixels, share, and images containing each class.

    \b
    Examples:
      classweights stats examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes
      classweights stats examples/masks --num-classes 19 --ignore-index 255 --format markdown
      classweights stats examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes --plot classes.png
    """  # noqa: E501 (commands stay one line: they are copied)
    from ..report import stats_dict
    from ..weights import diagnose

    check_plot(kw)
    s, cache = run_scan(kw)
    data = stats_dict(s, cache=cache, fingerprint=cache["key"])
    draw(data, kw, title="class statistics")
    emit(data, kw["fmt"], kw["quiet"], title="class statistics")
    if kw["fmt"] == "table":
        print_diagnosis(diagnose(s), kw["quiet"])


@click.command()
@scan_options(formats=FORMATS)
@weight_options
@export_options
@plot_option
@handle_errors
def compute(**kw: Any) -> None:
    """Class weights with one method, shown with the class statistics.

    \b
    Examples:
      classweights compute examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes -o weights.pth
      classweights compute examples/masks --num-classes 19 --ignore-index 255 --method median_freq --export mmseg
      classweights compute examples/masks --num-classes 19 --ignore-index 255 --sample 20 --ci 0.95 --plot weights.svg
    """  # noqa: E501 (commands stay one line: they are copied)
    from ..results import weights_result
    from ..weights import diagnose

    method, wkw = kw["method"], weight_kwargs(kw)
    export, _ = check_export(kw), check_plot(kw)
    stats, info, cache = scan_for_weights(kw, method, wkw)
    w, data = weights_result(
        stats, method, wkw, ci=kw["ci"], seed=kw["seed"], auto=info or None, cache=cache
    )
    key = cache["key"] if cache else None
    draw(data, kw, title=f"class weights: {method}")
    if deliver(export, kw, stats, w, method, wkw, key):
        return  # the snippet (or json/yaml) is all of stdout
    extra = ("±",) if kw["ci"] or info else ()
    emit(data, kw["fmt"], kw["quiet"], title=f"class weights: {method}", extra=extra)
    if kw["fmt"] == "table":
        print_diagnosis(
            diagnose(stats, w, method, clip=wkw["clip"], count=wkw["count"]), kw["quiet"]
        )
        if info:
            make = (
                f"{info['images_read']} of {info['population']} images read in "
                f"{info['rounds']} rounds"
            )
            rel = 100 * info["max_rel_halfwidth"]
            print_diagnosis(
                {"hints": [f"--sample auto: {make}; widest half-width {rel:.1f}% of its weight"]},
                kw["quiet"],
            )


@click.command()
@scan_options(formats=FORMATS)
@weight_options
@plot_option
@handle_errors
def compare(**kw: Any) -> None:
    """Every weight method side by side, from one scan.

    \b
    Examples:
      classweights compare examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes
      classweights compare examples/masks --num-classes 19 --ignore-index 255 --format markdown
      classweights compare examples/masks --num-classes 19 --ignore-index 255 --normalize sum --plot methods.png
    """  # noqa: E501 (commands stay one line: they are copied)
    from ..report.render import render
    from ..results import compare_result

    wkw = weight_kwargs(kw)
    check_plot(kw)
    stats, cache = run_scan(kw)
    data = compare_result(stats, wkw, cache)
    title = f"class weights by method (normalize={wkw['normalize']})"
    draw(data, kw, title=title, methods=data["methods"])
    render(data, kw["fmt"], kind="compare", stats=stats, normalize=wkw["normalize"])
