"""`stats`, `compute` and `compare`: one request, the pipeline, a renderer."""

from __future__ import annotations

from typing import Any

import click

from .app import FORMATS, App, command, ignored_flags
from .flags import mask_source, sample_flags, sample_mode, scan_flags
from .outputs import check_export, check_plot, deliver, draw, export_options, plot_option
from .weight_flags import weight_flags, weight_spec


@click.command()
@scan_flags
@sample_flags()
@plot_option
@command(FORMATS)
def stats(app: App, **kw: Any) -> None:
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
    s, info = app.statistics(mask_source(kw))
    data = stats_dict(s, cache=info.as_dict(), fingerprint=info.key)
    draw(app, data, kw, title="class statistics")
    app.emit(data, title="class statistics")
    if app.fmt == "table":
        app.diagnosis(diagnose(s))


@click.command()
@scan_flags
@sample_flags(auto=True)
@weight_flags()
@click.option("--ci", type=float, help="Bootstrap confidence level of each weight, e.g. 0.95.")
@click.option(
    "--tolerance",
    type=float,
    default=0.05,
    show_default=True,
    help="--sample auto: target half-width relative to the weight.",
)
@export_options
@plot_option
@command(FORMATS)
def compute(app: App, **kw: Any) -> None:
    """Class weights with one method, shown with the class statistics.

    \b
    Examples:
      classweights compute examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes -o weights.pth
      classweights compute examples/masks --num-classes 19 --ignore-index 255 --method median_freq --export mmseg
      classweights compute examples/masks --num-classes 19 --ignore-index 255 --sample 20 --ci 0.95 --plot weights.svg
    """  # noqa: E501 (commands stay one line: they are copied)
    from ..pipeline import weigh
    from ..results import weights_result
    from ..weights import diagnose

    spec = weight_spec(kw)
    export, _ = check_export(app, kw), check_plot(kw)
    source = mask_source(kw, auto_sample=True)
    seed = kw["seed"] if kw["seed"] is not None else 0
    auto: dict[str, Any] = {}
    if sample_mode(kw) == "auto":
        stats, auto, info = _auto_sample(app, source, spec, kw, seed)
    else:
        stats, info = app.statistics(source)
    record = weigh(stats, spec, info)
    cache = info.as_dict() if info is not None else None
    w, data = weights_result(
        stats,
        spec.method,
        spec.options(),
        weights=record.weights,
        ci=kw["ci"],
        seed=seed,
        auto=auto or None,
        cache=cache,
    )
    draw(app, data, kw, title=f"class weights: {spec.method}")
    if deliver(app, export, kw, stats, record):
        return  # the snippet (or json/yaml) is all of stdout
    extra = ("±",) if kw["ci"] or auto else ()
    app.emit(data, title=f"class weights: {spec.method}", extra=extra)
    if app.fmt == "table":
        o = spec.options()
        app.diagnosis(diagnose(stats, w, spec.method, clip=o.get("clip"), count=o.get("count")))
        if auto:
            made = f"{auto['images_read']} of {auto['population']} images read in {auto['rounds']}"
            rel = 100 * auto["max_rel_halfwidth"]
            app.diagnosis(
                {
                    "hints": [
                        f"--sample auto: {made} rounds; widest half-width {rel:.1f}% of its weight"
                    ]
                }
            )


def _auto_sample(
    app: App, source: Any, spec: Any, kw: dict[str, Any], seed: int
) -> tuple[Any, dict[str, Any], Any]:
    """Sample until the weights are known to --tolerance (never cached: each round is a
    one-off subset). Returns the statistics, the sampling info and no cache info."""
    from ..pipeline import statistics
    from ..report import progress_bar, progress_enabled
    from ..requests import CacheOptions
    from ..weights import auto_sample

    if source.settings.space.num_classes is None:  # a sample cannot tell a rare class from none
        raise click.UsageError(
            "--sample auto needs the classes declared: pass --num-classes K (or --classes, "
            "or a --layout), so that a class the sample has not read is looked for"
        )
    population = source.image_count()
    with progress_bar(progress_enabled(app.quiet), "sampling") as progress:
        stats, info = auto_sample(
            lambda rows: statistics(
                source.with_settings(indices=rows), CacheOptions.off(), progress=progress
            )[0],
            population,
            tolerance=kw["tolerance"],
            ci=kw["ci"] or 0.95,
            seed=seed,
            method=spec.method,
            **spec.options(),
        )
    return stats, info, None


@click.command()
@scan_flags
@sample_flags()
@weight_flags(method=False)
@plot_option
@command(FORMATS)
@ignored_flags("method", "ci", "tolerance", why="compare shows every method, without intervals")
def compare(app: App, **kw: Any) -> None:
    """Every weight method side by side, from one scan.

    \b
    Examples:
      classweights compare examples/masks --num-classes 19 --ignore-index 255 --classes cityscapes
      classweights compare examples/masks --num-classes 19 --ignore-index 255 --format markdown
      classweights compare examples/masks --num-classes 19 --ignore-index 255 --normalize sum --plot methods.png
    """  # noqa: E501 (commands stay one line: they are copied)
    from ..report.render import render
    from ..results import compare_result
    from .weight_flags import weight_options_kw

    options = weight_options_kw(kw)
    check_plot(kw)
    stats, info = app.statistics(mask_source(kw))
    data = compare_result(stats, options, info.as_dict())
    normalize = data["weight_options"]["normalize"]
    title = f"class weights by method (normalize={normalize})"
    draw(app, data, kw, title=title, methods=data["methods"])
    render(data, app.fmt, kind="compare", stats=stats, normalize=normalize)
