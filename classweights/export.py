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

from .atomic import atomic_write
from .cache.record import plain
from .errors import ConfigError
from .text import visible

SNIPPETS = ("pytorch", "mmseg", "monai", "keras")
"""Formats printed as code to paste into a training script or config."""
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


def number(value: float, digits: int = 6) -> str:
    """A weight as a short Python/YAML literal with ``digits`` significant digits.

    >>> number(0.123456789), number(2.0), number(3.2e-07), number(0)
    ('0.123457', '2.0', '3.2e-07', '0.0')
    """
    return repr(float(f"{float(value):.{digits}g}"))


def format_for(output: str | os.PathLike[str] | None, export: str | None) -> str | None:
    """The export format: ``export`` if given, else read from the output's suffix, else
    ``None``; a suffix that names no format is refused (``-o w.txt`` wrote a ``.pth`` record).

    >>> format_for("w.npy", None), format_for("w.pth", None), format_for("w.bin", "pth")
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
    suffix = Path(output).suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(
            f"-o {os.fspath(output)}: the suffix {suffix or '(none)'} names no weight format; "
            f"end the name with {', '.join(SUFFIXES)}, or pass --export FORMAT"
        )
    return SUFFIXES[suffix]


def _items(
    weights: Sequence[float], class_names: Sequence[str] | None, indent: str, key: bool
) -> str:
    lines = []
    for c, w in enumerate(weights):
        name = class_names[c] if class_names else str(c)
        head = f"{c}: " if key else ""
        # a name is data: a line break or control character in it must not end the comment
        lines.append(f"{indent}{head}{number(w)},  # {visible(name)}")
    return "\n".join(lines)


def mmseg_weights(weights: Sequence[float], pixels: Sequence[int]) -> tuple[np.ndarray, float]:
    """Weights rescaled so that their pixel-weighted mean is 1, and the factor applied.

    mmsegmentation's ``cross_entropy`` with ``avg_non_ignore=True`` sums ``w[y_i] * ce_i`` over
    the valid pixels and divides by their *number*, not by ``sum_i w[y_i]`` (as
    ``F.cross_entropy(reduction="mean")`` does). Weights with a pixel-weighted mean ``m``
    therefore scale the loss by about ``m``; dividing them by ``m`` keeps the loss scale of the
    unweighted loss while keeping every ratio between classes.

    >>> w, f = mmseg_weights([1.0, 3.0], [300, 100])   # mean = (300 + 300) / 400 = 1.5
    >>> w.tolist(), round(f, 4)
    ([0.6667, 2.0], 0.6667)
    """
    w = np.asarray(weights, dtype=np.float64).ravel()
    n = np.asarray(pixels, dtype=np.float64).ravel()
    if n.size != w.size or n.sum() <= 0:
        return w, 1.0
    mean = float((w * n).sum() / n.sum())
    if not np.isfinite(mean) or mean <= 0:
        return w, 1.0
    return w / mean, 1.0 / mean


MULTILABEL = ("pos_weight", "focal_alpha")


def snippet(
    fmt: str,
    weights: Sequence[float],
    *,
    ignore_index: int | None = None,
    class_names: Sequence[str] | None = None,
    method: str | None = None,
    pixels: Sequence[int] | None = None,
) -> str:
    """Code that builds a loss (or ``class_weight``) with ``weights``, one class a line.

    Args:
        fmt: one of :data:`SNIPPETS`.
        weights: ``(C,)`` class weights.
        ignore_index: label left out of the loss (PyTorch's ``ignore_index``); ``None`` keeps
            PyTorch's default.
        class_names: ``C`` names, written as a comment beside each weight.
        method: the weight method, named in the first comment line; ``pos_weight`` and
            ``focal_alpha`` give sigmoid-loss snippets (``pytorch`` only).
        pixels: ``(C,)`` pixel counts; ``mmseg`` then rescales the weights to a
            pixel-weighted mean of 1 (:func:`mmseg_weights`) and says so.

    >>> print(snippet("pytorch", [1.0, 3.0], ignore_index=255))
    import torch
    from torch import nn
    <BLANKLINE>
    loss = nn.CrossEntropyLoss(
        weight=torch.tensor([
            1.0,  # 0
            3.0,  # 1
        ]),
        ignore_index=255,
    )
    """
    w = [float(v) for v in np.asarray(weights, dtype=np.float64).ravel()]
    if class_names is not None and len(class_names) != len(w):
        raise ConfigError(f"{len(class_names)} class names for {len(w)} weights")
    about = f"# class weights ({method}, {len(w)} classes)" if method else ""
    if method in MULTILABEL:
        if fmt != "pytorch":
            raise ConfigError(
                f"--export {fmt} takes cross-entropy class weights; {method} (a sigmoid-loss "
                "vector) exports as pytorch, json, yaml, npy or pth"
            )
        code = _sigmoid_snippet(w, class_names, method)
    elif fmt == "pytorch":
        ignore = f"    ignore_index={ignore_index},\n" if ignore_index is not None else ""
        code = (
            "import torch\nfrom torch import nn\n\n"
            "loss = nn.CrossEntropyLoss(\n    weight=torch.tensor([\n"
            f"{_items(w, class_names, ' ' * 8, False)}\n    ]),\n{ignore})"
        )
    elif fmt == "mmseg":
        where = "# in model.decode_head"
        if ignore_index is not None:
            where += f" (num_classes={len(w)}, ignore_index={ignore_index})"
        if pixels is not None:
            w, factor = mmseg_weights(w, pixels)
            w = [float(v) for v in w]
            where = (
                f"# weights x {number(factor, 4)}: their pixel-weighted mean is 1, because "
                "cross_entropy with avg_non_ignore=True\n# divides the weighted sum by the "
                "number of valid pixels (not by the sum of weights): the loss keeps its "
                f"scale\n{where}"
            )
        code = (
            f"{where}:\nloss_decode=dict(\n    type='CrossEntropyLoss',\n    use_sigmoid=False,\n"
            f"    loss_weight=1.0,\n    class_weight=[\n{_items(w, class_names, ' ' * 8, False)}\n"
            "    ],\n    avg_non_ignore=True,\n)"
        )
    elif fmt == "monai":
        note = ""
        if ignore_index is not None:
            note = (
                f"# MONAI losses have no ignore_index: map label {ignore_index} to a class or "
                "mask those pixels first\n"
            )
        code = (
            f"import torch\nfrom monai.losses import DiceCELoss\n\n{note}"
            "loss = DiceCELoss(\n    to_onehot_y=True,\n    softmax=True,\n"
            f"    weight=torch.tensor([\n{_items(w, class_names, ' ' * 8, False)}\n    ]),\n)"
        )
    elif fmt == "keras":
        void = f"Void ({ignore_index}) and unknown" if ignore_index is not None else "Unknown"
        code = (
            "# per-pixel sample weights: model.fit(x, y, sample_weight=sample_weight(y)); "
            "Keras 3's\n# class_weight= does not take N x H x W targets. "
            f"{void} labels weigh 0.\nimport numpy as np\n\nCLASS_WEIGHTS = np.array([\n"
            f'{_items(w, class_names, " " * 4, False)}\n], dtype="float32")\n\n\n'
            "def sample_weight(labels):\n"
            "    # label batch (N, H, W) of class ids -> weight map (N, H, W), float32\n"
            '    labels = np.asarray(labels).astype("int64")\n'
            "    valid = (labels >= 0) & (labels < len(CLASS_WEIGHTS))\n"
            "    return np.where(valid, CLASS_WEIGHTS[np.where(valid, labels, 0)], 0)"
            '.astype("float32")'
        )
    else:
        raise ConfigError(f"unknown snippet format {fmt!r}; choose one of {', '.join(SNIPPETS)}")
    return f"{about}\n{code}" if about else code


def _sigmoid_snippet(w: list[float], class_names: Sequence[str] | None, method: str) -> str:
    items = _items(w, class_names, " " * 8, False)
    if method == "pos_weight":
        return (
            "import torch\nfrom torch import nn\n\n"
            "# pos_weight shaped (C, 1, 1): broadcasts over N x C x H x W logits\n"
            f"loss = nn.BCEWithLogitsLoss(\n    pos_weight=torch.tensor([\n{items}\n"
            "    ]).reshape(-1, 1, 1),\n)"
        )
    return (
        "import torch\n\n# per-class alpha (C, 1, 1) of a sigmoid focal loss on N x C x H x W "
        "logits:\n# alpha * t + (1 - alpha) * (1 - t) weighs each term (Lin et al. 2017)\n"
        f"alpha = torch.tensor([\n{items}\n]).reshape(-1, 1, 1)"
    )


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
        from .cache.record import save_record, weight_record

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
