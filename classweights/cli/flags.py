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


def add_options(f: F, opts: list[Any]) -> F:
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
            "--png-decoder",
            type=click.Choice(("auto", "library")),
            help="PNG masks: auto counts them with the fused decoder where it applies; library "
            "decodes every one with libpng/Pillow (for a bug report; -v says which counted "
            "what).  [default: auto]",
        ),
        click.option(
            "--objects",
            is_flag=True,
            default=None,
            help="Also count connected components (objects) per class and their sizes.",
        ),
        click.option(
            "--valid-mask",
            metavar="TEMPLATE",
            help="Each mask's valid-region mask ({stem}, {id} = stem up to its first _, {name}; "
            "relative to the mask's folder), e.g. '../mask/{id}_training_mask.gif': pixels where "
            "it is 0 are counted as ignored.",
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
    return layout_flags(add_options(f, opts))


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
    return add_options(f, opts)


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
