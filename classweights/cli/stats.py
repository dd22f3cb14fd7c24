"""`stats`, `compute` and `compare`: scan, compute, render."""

from __future__ import annotations

from typing import Any

import click

from .options import (
    emit,
    handle_errors,
    print_diagnosis,
    run_scan,
    scan_for_weights,
    scan_options,
    weight_kwargs,
    weight_options,
)


@click.command()
@scan_options
@handle_errors
def stats(**kw: Any) -> None:
    """Per-class pixels, share, and images containing each class.

    \b
    Examples:
      classweights stats examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes
      classweights stats gtFine/train --glob '**/*_labelIds.png' --remap cityscapes --ignore-index 255
      classweights stats masks.zarr --sample 0.1 --format json
    """
    from ..report import stats_dict

    s, cache = run_scan(kw)
    emit(stats_dict(s, cache=cache, fingerprint=cache["key"]), kw["fmt"], kw["quiet"], title="class statistics")


@click.command()
@scan_options
@weight_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Save the weights as a .pth record (torch.load(weights_only=True) reads it).")
@handle_errors
def compute(**kw: Any) -> None:
    """Class weights with one method, shown with the class statistics.

    \b
    Examples:
      classweights compute examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes --method sqrt_inv_freq
      classweights compute DATA --num-classes 11 --ignore-index 11 --method median_freq --median-over all --normalize none
      classweights compute DATA --num-classes 19 --ignore-index 255 --sample 500 --ci 0.95
    """
    from ..report import stats_dict
    from ..weights import bootstrap_intervals, compute_weights, diagnose

    method, wkw = kw["method"], weight_kwargs(kw)
    stats, info, cache = scan_for_weights(kw, method, wkw)
    w = compute_weights(stats, method, **wkw)
    extra: dict[str, Any] = {}
    if kw["ci"] or info:
        population = (stats.sample or {}).get("population")
        lo, hi = (info["low"], info["high"]) if info else bootstrap_intervals(
            stats, method, ci=kw["ci"], population=population, seed=kw["seed"], **wkw)  # fmt: skip
        extra = {"weight_low": [float(v) for v in lo], "weight_high": [float(v) for v in hi],
                 "±": [f"{(h - l) / 2:.4f}" for l, h in zip(lo, hi)]}  # fmt: skip
    key = cache["key"] if cache else None
    data = stats_dict(stats, weights=w, method=method, extra_columns=extra, cache=cache, fingerprint=key)
    if kw["output"]:
        from ..cache.record import save_record, weight_record

        save_record(weight_record(stats, w, method, wkw, fingerprint=key), kw["output"])
    data["weight_options"] = {k: v for k, v in wkw.items()}
    if info:
        data["auto_sample"] = {k: v for k, v in info.items() if k not in ("low", "high")}
    emit(data, kw["fmt"], kw["quiet"], title=f"class weights: {method}", extra=("±",) if extra else ())
    if kw["fmt"] == "table":
        print_diagnosis(diagnose(stats, w, method, clip=wkw["clip"], count=wkw["count"]), kw["quiet"])
        if info:
            make = f"{info['images_read']} of {info['population']} images read in {info['rounds']} rounds"
            rel = 100 * info["max_rel_halfwidth"]
            print_diagnosis({"hints": [f"--sample auto: {make}; widest half-width {rel:.1f}% of its weight"]}, kw["quiet"])


@click.command()
@scan_options
@weight_options
@handle_errors
def compare(**kw: Any) -> None:
    """Every weight method side by side, from one scan.

    \b
    Examples:
      classweights compare examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes
      classweights compare DATA --num-classes 19 --ignore-index 255 --normalize sum --format json
    """
    from ..report import compare_table, make_console
    from ..weights import compute_weights
    from ..weights.options import WEIGHT_METHODS

    wkw = weight_kwargs(kw)
    stats, _ = run_scan(kw)
    methods = [m for m in WEIGHT_METHODS if m != "manual"]
    table = {m: compute_weights(stats, m, **wkw).tolist() for m in methods}
    if kw["fmt"] == "json":
        from ..report import stats_dict, to_json

        data = stats_dict(stats)
        data["weight_options"] = wkw
        data["methods"] = table
        click.echo(to_json(data))
    elif kw["fmt"] == "csv":
        click.echo("id,name," + ",".join(methods))
        for c, name in enumerate(stats.names):
            click.echo(f"{c},{name}," + ",".join(f"{table[m][c]:.6g}" for m in methods))
    else:
        make_console().print(compare_table(stats, table, wkw["normalize"]))


