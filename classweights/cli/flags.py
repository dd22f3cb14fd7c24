"""The dataset and weight flags, and their translation into the library's requests.

A command declares the flag groups it reads: :func:`scan_flags` (PATHS and every scan setting,
with the layout flags), :func:`sample_flags` (``--sample``/``--seed``), :func:`weight_flags`
(the method and its options). Each flag the user did not type is "not given": a layout fills
only those, and a weight method's own default applies. :func:`mask_source` and
:func:`weight_spec` build the requests once; a bad value fails there, before any file is read,
and the error boundary names the flag (``--workers 0 is not valid: ...``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..params import UNSET

F = Callable[..., Any]


class IgnoreIndex(click.ParamType):
    """An integer label value, or ``none`` (ignore nothing, even where a layout would)."""

    name = "INT|none"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None or isinstance(value, int):
            return value
        if str(value).strip().lower() == "none":
            return _NONE
        try:
            return int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a whole number (e.g. 255) nor none", param, ctx)


class _NoneGiven:
    """``--ignore-index none``: an explicit None (click's own None means "not given")."""

    def __repr__(self) -> str:
        return "none"


_NONE = _NoneGiven()


def _sample(value: str | None, auto: bool) -> Any:
    if value is None:
        return UNSET
    if value == "auto":
        if auto:
            return "auto"
        raise click.UsageError("--sample auto works with `compute` (it needs a weight method)")
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    raise click.BadParameter(f"{value!r} is neither a count (1000) nor a fraction (0.1)")


def _add(f: F, opts: list[Any]) -> F:
    for opt in reversed(opts):
        f = opt(f)
    return f


def scan_flags(f: F) -> F:
    """PATHS and the flags of every scan setting (defaults shown are the settings' own)."""
    from ..requests.settings import CONNECTIVITIES, ERROR_POLICIES, UNKNOWN_POLICIES, ScanSettings

    d = ScanSettings.defaults()
    opts = [
        click.argument("paths", nargs=-1, required=True, type=click.Path()),
        click.option("--num-classes", type=int, help="Number of classes (inferred if omitted)."),
        click.option(
            "--ignore-index",
            type=IgnoreIndex(),
            help="Label value to ignore, e.g. 255 ('none': ignore nothing, even where a "
            "--layout would).",
        ),
        click.option(
            "--remap",
            help="Remap table: preset (cityscapes), JSON/YAML file, or inline RAW:LABEL,... "
            "(e.g. 255:1 or 1:0,2:0,3:1).",
        ),
        click.option(
            "--reduce-zero-label/--no-reduce-zero-label",
            default=None,
            help="ADE20K/mmseg: 0 -> ignore (255 unless --ignore-index), k -> k-1 "
            "(--no-...: not even with --layout ade20k).",
        ),
        click.option(
            "--classes",
            help="Class names: preset (cityscapes, camvid, pascal-voc, ade20k, celebamask-hq) "
            "or file.",
        ),
        click.option("--palette", help="Colour table for RGB masks: preset or JSON/YAML file."),
        click.option(
            "--glob",
            "glob_",
            metavar="PATTERN",
            help="Files to take inside folders, e.g. '**/*_labelTrainIds.png'.",
        ),
        click.option(
            "--multilabel/--no-multilabel",
            default=None,
            help="C x H x W 0/1 masks or one binary PNG per class.",
        ),
        click.option(
            "--binary",
            is_flag=True,
            default=None,
            help="Binary masks: 0 and one other value (e.g. 255) per file -> background, "
            "foreground (2 classes; a third value is refused, naming its pixels).",
        ),
        click.option("--workers", type=int, help="Parallel workers (default: CPU count)."),
        click.option(
            "--unknown",
            type=click.Choice(UNKNOWN_POLICIES),
            help=f"Labels that are neither a class nor ignored.  [default: {d['unknown']}]",
        ),
        click.option(
            "--on-error",
            type=click.Choice(ERROR_POLICIES),
            help=f"Unreadable files.  [default: {d['on_error']}]",
        ),
        click.option(
            "--max-pixels",
            type=int,
            help=f"Refuse images larger than this.  [default: {d['max_pixels']}]",
        ),
        click.option(
            "--objects",
            is_flag=True,
            default=None,
            help="Also count connected components (objects) per class and their sizes.",
        ),
        click.option(
            "--mask-column",
            metavar="NAME",
            help="Hugging Face dataset (save_to_disk folder, .arrow/.parquet files): the column "
            "of masks (default: the one Image column named like annotation, mask, label...).",
        ),
        click.option(
            "--connectivity",
            type=click.Choice(CONNECTIVITIES),
            help="--objects neighbours: full (8 in 2-D, 26 in 3-D) or face (4 / 6).  "
            "[default: full]",
        ),
    ]
    return layout_flags(_add(f, opts))


def layout_flags(f: F) -> F:
    """--layout / --split and --split-file / --root / --suffix (classweights.layouts)."""
    from ..layouts import LAYOUTS

    opts = [
        click.option(
            "--layout",
            type=click.Choice(list(LAYOUTS)),
            help="Dataset layout: PATH is the dataset's folder; sets glob, split, remap, ignore "
            "index and class names (explicit flags win).",
        ),
        click.option(
            "--split",
            help="The layout's split: train, val (test, trainval where the dataset has them).",
        ),
        click.option(
            "--split-file",
            type=click.Path(dir_okay=False),
            help="Text file of ids (mmseg ann_file): masks are ROOT/ID+SUFFIX.",
        ),
        click.option(
            "--root",
            type=click.Path(file_okay=False),
            help="--split-file: folder of the masks (default: PATH).",
        ),
        click.option(
            "--suffix",
            help="--split-file: appended to each id (default .png; mmseg seg_map_suffix).",
        ),
    ]
    return _add(f, opts)


def sample_flags(auto: bool = False) -> Callable[[F], F]:
    """--sample (a count, a fraction, and with ``auto`` the adaptive sample) and --seed."""
    what = (
        "Scan a seeded sample: a count (1000), a fraction (0.1), or 'auto' (until --tolerance "
        "holds)."
        if auto
        else "Scan a seeded sample: a count (1000) or a fraction (0.1)."
    )

    def deco(f: F) -> F:
        f = click.option("--seed", type=int, help="Sampling seed.  [default: 0]")(f)
        f = click.option("--sample", help=what)(f)
        f.__dict__["sample_auto"] = auto
        return f

    return deco


#: CLI parameter names that differ from the `ScanSettings` field they set
_CLI_NAME = {"glob": "glob_"}
#: settings no flag sets directly (objects comes from two flags, sample is parsed)
_OWN_RULE = ("objects", "sample", "indices", "parallel")


def scan_settings_kw(kw: dict[str, Any], auto_sample: bool = False) -> dict[str, Any]:
    """The scan settings the user gave, as keywords of `ScanSettings` (one per field, never
    re-listed here; a flag left out is not given)."""
    from ..requests import ScanSettings

    out: dict[str, Any] = {}
    for name in ScanSettings.fields():
        flag = _CLI_NAME.get(name, name)
        if name in _OWN_RULE or flag not in kw or kw[flag] is None:
            continue
        out[name] = None if kw[flag] is _NONE else kw[flag]
    if kw.get("connectivity") is not None and not kw.get("objects"):
        raise click.UsageError("--connectivity chooses the neighbours of --objects; add --objects")
    if kw.get("objects"):
        out["objects"] = kw.get("connectivity") or "full"
    if "sample" in kw:
        sample = _sample(kw["sample"], auto=auto_sample)
        if sample not in (UNSET, "auto"):
            out["sample"] = sample
    return out


def mask_source(
    kw: dict[str, Any],
    *,
    paths: Any = None,
    split: Any = UNSET,
    auto_sample: bool = False,
    **extra: Any,
) -> Any:
    """The command's `MaskSource` (``paths``/``split``: another side of a comparison;
    ``auto_sample``: the command handles ``--sample auto`` itself, as ``compute`` does)."""
    from ..requests import MaskSource, ScanSettings

    given = scan_settings_kw(kw, auto_sample)
    if split is not UNSET:
        given["split"] = split
    settings = ScanSettings(**(given | extra))
    return MaskSource.resolve(list(kw["paths"] if paths is None else paths), settings)


def sample_mode(kw: dict[str, Any]) -> Any:
    """``"auto"``, a count or fraction, or UNSET (--sample)."""
    return _sample(kw.get("sample"), auto=True)


# ---- weight flags -----------------------------------------------------------------------------
def _clip(value: str | None) -> tuple[float | None, float | None] | None:
    if value is None:
        return None
    try:
        lo, hi = (None if p.strip() in ("", "none") else float(p) for p in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected LO,HI such as 0.1,10 (either may be empty)"
        ) from None
    return lo, hi


def _beta(value: Any) -> Any:
    if value is None or value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"--beta {value!r}: expected auto or a number in [0, 1)") from None


def weight_flags(*, method: bool = True, method_flag: str = "--method") -> Callable[[F], F]:
    """The weight method (``--method``, or another name) and the flags of its options.

    Defaults are the method's own: a flag left out is not given (``--absent``: zero for
    cross-entropy weights, one for ``pos_weight``)."""
    from ..weights import MULTILABEL_METHODS
    from ..weights import options as o

    d = o.WeightOptions.defaults()
    methods = o.WEIGHT_METHODS + o.OBJECT_METHODS + MULTILABEL_METHODS

    def deco(f: F) -> F:
        opts = [
            click.option(
                "--values",
                metavar="W1,W2,...|FILE",
                help="manual: the weights, comma-separated (one per class) or a JSON/YAML file "
                "(a list, or {class id or name: weight}).",
            ),
            click.option(
                "--normalize",
                type=click.Choice(o.NORMALIZE_MODES),
                help=f"Normalise the present classes' weights.  [default: {d['normalize']}]",
            ),
            click.option(
                "--clip", metavar="LO,HI", help="Clip weights after normalising, e.g. 0.1,10."
            ),
            click.option(
                "--renormalize", is_flag=True, default=None, help="Normalise again after clipping."
            ),
            click.option(
                "--absent",
                type=click.Choice(o.ABSENT_POLICIES),
                help="Weight of classes with no pixels.  [default: zero; one for pos_weight]",
            ),
            click.option(
                "--beta",
                help="effective_num: beta in [0, 1), or auto = 1 - 1/(largest class count).  "
                "[default: auto]",
            ),
            click.option(
                "--count",
                type=click.Choice(o.COUNT_MODES),
                help=f"effective_num: count pixels or images.  [default: {d['count']}]",
            ),
            click.option(
                "--median-over",
                type=click.Choice(o.MEDIAN_OVER),
                help="median_freq: 'all' counts the ignore label as a class (SegNet).  "
                f"[default: {d['median_over']}]",
            ),
            click.option(
                "--median-denominator",
                type=click.Choice(o.MEDIAN_DENOMINATORS),
                help="median_freq: pixels of images containing c.  "
                f"[default: {d['median_denominator']}]",
            ),
            click.option(
                "--enet-c",
                type=float,
                help=f"enet: c > 1 in 1 / ln(c + p_c).  [default: {d['enet_c']}]",
            ),
            click.option(
                "--enet-share",
                type=click.Choice(o.ENET_SHARES),
                help="enet: p_c as a share of labelled or all pixels.  "
                f"[default: {d['enet_share']}]",
            ),
            click.option(
                "--power", type=float, help=f"power: exponent p.  [default: {d['power']}]"
            ),
        ]
        if method:
            opts.insert(
                0,
                click.option(
                    method_flag,
                    "method",
                    type=click.Choice(methods),
                    default="sqrt_inv_freq",
                    show_default=True,
                    help="pos_weight / focal_alpha: per-class vectors of sigmoid losses "
                    "(multi-label), exported as BCEWithLogitsLoss(pos_weight=...) shaped "
                    "(C, 1, 1); inv_object_size needs --objects.",
                ),
            )
        return _add(f, opts)

    return deco


#: weight option -> the flag's parameter name (where they differ)
_WEIGHT_FLAG = {"manual": "values"}


def weight_options_kw(kw: dict[str, Any]) -> dict[str, Any]:
    """The weight options the user gave, as keywords of `WeightSpec`."""
    from ..weights.spec import spec_fields

    out: dict[str, Any] = {}
    for name in spec_fields():
        flag = _WEIGHT_FLAG.get(name, name)
        if kw.get(flag) is not None:
            out[name] = kw[flag]
    if "clip" in out:
        out["clip"] = _clip(out["clip"])
    if "beta" in out:
        out["beta"] = _beta(out["beta"])
    if "manual" in out:
        from ..weights.options import parse_values

        out["manual"] = parse_values(out["manual"])
    return out


def weight_spec(kw: dict[str, Any], method: str | None = None) -> Any:
    """The command's `WeightSpec` (a bad value or an option of another method fails here)."""
    from ..weights.spec import WeightSpec

    method = method or kw["method"]
    if method == "manual" and kw.get("values") is None:
        raise click.UsageError("--method manual needs --values W1,W2,... or --values FILE")
    return WeightSpec(method, **weight_options_kw(kw))
