"""Class weights in the shapes other tools read: files and ready-to-paste snippets.

Pure functions: a weight vector plus its metadata in, a string or a written file out. Torch
is imported only for ``pth`` (the loader's record, :mod:`classweights.cache.record`).

==========  ====================================================================
``pth``     the weight record ``torch.load(path, weights_only=True)`` reads (file)
``npy``     ``float64`` array of shape ``(C,)`` (file)
``json``    ``{"weights": [...], "method", "options", "class_names", ...}``
``yaml``    the same mapping as YAML
``pytorch`` ``nn.CrossEntropyLoss(weight=torch.tensor([...]), ignore_index=...)``;
            ``nn.BCEWithLogitsLoss(pos_weight=...)`` shaped ``(C, 1, 1)`` for ``pos_weight``
``mmseg``   ``loss_decode=dict(type='CrossEntropyLoss', ..., class_weight=[...])``, the
            weights rescaled to a pixel-weighted mean of 1 (see :func:`mmseg_weights`)
``monai``   ``DiceCELoss(to_onehot_y=True, softmax=True, weight=torch.tensor([...]))``
``keras``   ``sample_weight(labels)``: a per-pixel weight map for ``model.fit`` (Keras 3's
            ``class_weight`` refuses ``N x H x W`` targets)
==========  ====================================================================

>>> print(snippet("keras", [0.5, 2.0], class_names=["road", "car"], ignore_index=255))
# per-pixel sample weights: model.fit(x, y, sample_weight=sample_weight(y)); Keras 3's
# class_weight= does not take N x H x W targets. Void (255) and unknown labels weigh 0.
import numpy as np
<BLANKLINE>
CLASS_WEIGHTS = np.array([
    0.5,  # road
    2.0,  # car
], dtype="float32")
<BLANKLINE>
<BLANKLINE>
def sample_weight(labels):
    # label batch (N, H, W) of class ids -> weight map (N, H, W), float32
    labels = np.asarray(labels).astype("int64")
    valid = (labels >= 0) & (labels < len(CLASS_WEIGHTS))
    return np.where(valid, CLASS_WEIGHTS[np.where(valid, labels, 0)], 0).astype("float32")
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..cache.record import plain
from ..errors import ConfigError
from .mmseg import MMSEG_CHECKED
from .snippets import MULTILABEL, SNIPPETS, mmseg_weights, number, snippet

__all__ = [
    "EXPORT_FORMATS",
    "FILE_ONLY",
    "MMSEG_CHECKED",
    "MULTILABEL",
    "SNIPPETS",
    "SUFFIXES",
    "export_text",
    "format_for",
    "mmseg_weights",
    "number",
    "snippet",
    "to_text",
    "weights_mapping",
    "write_export",
]
FILE_ONLY = ("pth", "npy")
"""Binary formats: they need an output file."""
EXPORT_FORMATS = ("pth", "npy", "json", "yaml", *SNIPPETS)
SUFFIXES = {
    ".pth": "pth",
    ".pt": "pth",
    ".npy": "npy",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
}


def format_for(output: str | os.PathLike[str] | None, export: str | None) -> str | None:
    """The export format: ``export`` if given, else read from the output's suffix, else
    ``None``; no suffix means a ``.pth`` record, a suffix that names no format is refused
    (``-o w.txt`` wrote a ``.pth`` record).

    >>> format_for("w.npy", None), format_for("weights", None), format_for("w.bin", "pth")
    ('npy', 'pth', 'pth')
    >>> format_for(None, "mmseg"), format_for(None, None)
    ('mmseg', None)
    >>> format_for("w.txt", None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classweights.errors.ConfigError: -o w.txt: the suffix .txt names no weight format; ...
    """
    if export is not None:
        if export not in EXPORT_FORMATS:
            raise ConfigError(
                f"unknown export format {export!r}; choose one of {', '.join(EXPORT_FORMATS)}"
            )
        return export
    if output is None:
        return None
    if os.fspath(output) == "-":
        raise ConfigError(
            "-o - writes the weights to stdout: pass --export FORMAT too (json, yaml, a snippet; "
            "pth or npy when stdout is redirected to a file)"
        )
    suffix = Path(output).suffix.lower()
    if not suffix:  # `-o weights` (a device, a FIFO...): a .pth record, as it always meant
        return "pth"
    if suffix not in SUFFIXES:
        raise ConfigError(
            f"-o {os.fspath(output)}: the suffix {suffix or '(none)'} names no weight format; "
            f"end the name with {', '.join(SUFFIXES)}, or pass --export FORMAT"
        )
    return SUFFIXES[suffix]


def weights_mapping(
    weights: Sequence[float],
    *,
    method: str | None = None,
    options: dict[str, Any] | None = None,
    num_classes: int | None = None,
    ignore_index: int | None = None,
    class_names: Sequence[str] | None = None,
    dataset: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The plain mapping written by the ``json`` and ``yaml`` exports.

    >>> weights_mapping([0.5, 2.0], method="inverse_freq")["weights"]
    [0.5, 2.0]
    """
    w = [float(v) for v in np.asarray(weights, dtype=np.float64).ravel()]
    return {
        "method": method,
        "options": plain(options or {}),
        "num_classes": num_classes if num_classes is not None else len(w),
        "ignore_index": ignore_index,
        "class_names": list(class_names) if class_names else None,
        "weights": w,
        "dataset": plain(dataset or {}),
    }


def to_text(fmt: str, mapping: dict[str, Any]) -> str:
    """The ``json``/``yaml`` text of :func:`weights_mapping`, or a snippet, ending in a newline.

    >>> print(to_text("yaml", weights_mapping([0.5, 2.0])), end="")
    method: null
    options: {}
    num_classes: 2
    ignore_index: null
    class_names: null
    weights: [0.5, 2.0]
    dataset: {}
    """
    if fmt == "json":
        return json.dumps(mapping, indent=2) + "\n"
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(mapping, sort_keys=False, default_flow_style=None)
    if fmt in SNIPPETS:
        return (
            snippet(
                fmt,
                mapping["weights"],
                ignore_index=mapping.get("ignore_index"),
                class_names=mapping.get("class_names"),
                method=mapping.get("method"),
            )
            + "\n"
        )
    raise ConfigError(
        f"{fmt!r} is not a text export; choose one of json, yaml, {', '.join(SNIPPETS)}"
    )


def write_export(
    fmt: str,
    path: str | os.PathLike[str],
    weights: Sequence[float],
    *,
    stats: Any = None,
    method: str | None = None,
    options: dict[str, Any] | None = None,
    fingerprint: str | None = None,
) -> Path:
    """Write ``weights`` to ``path`` in ``fmt`` atomically (temporary name, then rename).

    ``pth`` builds the record of :func:`classweights.cache.record.weight_record` and needs
    the ``stats`` the weights came from; the text formats take their metadata from ``stats``
    when given.

    >>> import numpy as np, tempfile, os
    >>> p = write_export("npy", os.path.join(tempfile.mkdtemp(), "w.npy"), [0.5, 2.0])
    >>> np.load(p).tolist()
    [0.5, 2.0]
    """
    path = Path(path)
    arr = np.asarray(weights, dtype=np.float64).ravel()
    if fmt == "pth":
        if stats is None:
            raise ConfigError("the pth export needs the statistics the weights came from")
        from ..cache.record import save_record, weight_record

        return save_record(
            weight_record(stats, arr, method or "manual", options or {}, fingerprint=fingerprint),
            path,
        )
    if fmt == "npy":
        return atomic_write(path, lambda fh: np.save(fh, arr), "wb")
    mapping = weights_mapping(arr, method=method, options=options, **_meta(stats, fingerprint))
    text = _text(fmt, mapping, stats)
    return atomic_write(path, lambda fh: fh.write(text), "w")


def _text(fmt: str, mapping: dict[str, Any], stats: Any) -> str:
    """:func:`to_text`, with the pixel counts a snippet needs (mmseg's rescaling)."""
    if fmt in SNIPPETS and stats is not None:
        return (
            snippet(
                fmt,
                mapping["weights"],
                ignore_index=mapping.get("ignore_index"),
                class_names=mapping.get("class_names"),
                method=mapping.get("method"),
                pixels=np.asarray(stats.pixels),
            )
            + "\n"
        )
    return to_text(fmt, mapping)


def _meta(stats: Any, fingerprint: str | None) -> dict[str, Any]:
    if stats is None:
        return {"dataset": {"fingerprint": fingerprint}} if fingerprint else {}
    return {
        "num_classes": stats.num_classes,
        "ignore_index": stats.ignore_index,
        "class_names": stats.class_names,
        "dataset": {
            "paths": list(stats.settings.get("paths", [])),
            "images": stats.num_images,
            "sampled": stats.sampled,
            "fingerprint": fingerprint,
        },
    }


def export_text(
    fmt: str,
    weights: Sequence[float],
    *,
    stats: Any = None,
    method: str | None = None,
    options: dict[str, Any] | None = None,
    fingerprint: str | None = None,
) -> str:
    """The text of a ``json``/``yaml``/snippet export, metadata taken from ``stats``."""
    if fmt in FILE_ONLY:
        raise ConfigError(f"--export {fmt} writes a binary file; pass --output FILE.{fmt}")
    return _text(
        fmt,
        weights_mapping(weights, method=method, options=options, **_meta(stats, fingerprint)),
        stats,
    )
