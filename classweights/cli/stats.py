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
    """
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
    """
    from ..report import stats_dict
    from ..weights import bootstrap_intervals, compute_weights, diagnose

    method, wkw = kw["method"], weight_kwargs(kw)
    export, _ = check_export(kw), check_plot(kw)
    stats, info, cache = scan_for_weights(kw, method, wkw)
    w = compute_weights(stats, method, **wkw)
    extra: dict[str, Any] = {}
    if kw["ci"] or info:
        population = (stats.sample or {}).get("population")
        lo, hi = (info["low"], info["high"]) if info else bootstrap_intervals(
            stats, method, ci=kw["ci"], population=population, seed=kw["seed"], **wkw)  # fmt: skip
        extra = {"weight_low": [float(v) for v in lo], "weight_high": [float(v) for v in hi],
                 "±": [f"{(h - low) / 2:.4f}" for low, h in zip(lo, hi, strict=True)]}  # fmt: skip
    key = cache["key"] if cache else None
    data = stats_dict(
        stats, weights=w, method=method, extra_columns=extra, cache=cache, fingerprint=key
    )
    data["weight_options"] = dict(wkw)
    if info:
        data["auto_sample"] = {k: v for k, v in info.items() if k not in ("low", "high")}
    draw(data, kw, title=f"class weights: {method}")
    if deliver(export, kw, stats, w, method, wkw, key):
        return  # the snippet (or json/yaml) is all of stdout
    emit(
        data,
        kw["fmt"],
        kw["quiet"],
        title=f"class weights: {method}",
        extra=("±",) if extra else (),
    )
    if kw["fmt"] == "table":
        print_diagnosis(
            diagnose(stats, w, method, clip=wkw["clip"], count=wkw["count"]), kw["quiet"]
        )
        if info:
            make = f"{info['images_read']} of {info['population']} images read in {info['rounds']} rounds"
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
    """
    from ..report import stats_dict
    from ..report.render import render
    from ..weights import compute_weights
    from ..weights.options import WEIGHT_METHODS

    wkw = weight_kwargs(kw)
    check_plot(kw)
    stats, cache = run_scan(kw)
    table = {m: compute_weights(stats, m, **wkw).tolist() for m in WEIGHT_METHODS if m != "manual"}
    data = stats_dict(stats, cache=cache, fingerprint=cache["key"])
    draw(data, kw, title=f"class weights by method (normalize={wkw['normalize']})", methods=table)
    data = {**data, "weight_options": wkw, "methods": table}
    render(data, kw["fmt"], kind="compare", stats=stats, normalize=wkw["normalize"])
