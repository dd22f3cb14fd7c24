"""The snippet exports: code that builds a loss with the weights, one class a line."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError
from ..text import visible
from .mmseg import mmseg_snippet

SNIPPETS = ("pytorch", "mmseg", "monai", "keras")
"""Formats printed as code to paste into a training script or config."""


def number(value: float, digits: int = 6) -> str:
    """A weight as a short Python/YAML literal with ``digits`` significant digits.

    >>> number(0.123456789), number(2.0), number(3.2e-07), number(0)
    ('0.123457', '2.0', '3.2e-07', '0.0')
    """
    return repr(float(f"{float(value):.{digits}g}"))


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
        factor = None
        if pixels is not None:
            scaled, factor = mmseg_weights(w, pixels)
            w = [float(v) for v in scaled]
        code = mmseg_snippet(_items(w, class_names, " " * 8, False), len(w), ignore_index, factor)
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
