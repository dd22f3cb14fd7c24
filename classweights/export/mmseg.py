"""The mmsegmentation export: a class-weighted loss that works in mmseg 1.2.x, and the 0.x form.

mmsegmentation 1.2.x (the current release; checked against the 1.2.2 source, since mmcv's
compiled builds cannot be installed here) cannot use ``class_weight`` once a label holds the
ignore value: with a ``class_weight`` its ``cross_entropy`` computes the mean's denominator as
``torch.stack([class_weight[cls] for cls in label])``, which indexes the weight vector with the
whole label map, ignore value (255, also ``seg_pad_val`` of padded crops) included, and raises
``IndexError: index 255 is out of bounds`` (open-mmlab/mmsegmentation#3734, #3492). The
export therefore gives a small registered loss, ``ClassWeightedCELoss``: PyTorch's weighted
mean ``sum w[y] ce / sum w[y]`` over the labelled pixels, which is what 1.x means to compute.

mmseg 0.x (0.23 to 0.30, ``avg_non_ignore=True``) has no such bug but divides the weighted sum
by the *number* of labelled pixels; the weights are rescaled to a pixel-weighted mean of 1 so
that its loss keeps its scale (:func:`~classweights.export.snippets.mmseg_weights`). The
registered loss divides by the sum of weights, so the same rescaled list serves both.

``class_weight=`` in an mmseg config is a list or the path of an ``.npy`` file (mmseg reads
other paths with ``mmengine.load``, which gives our ``.json``/``.yaml`` record's whole mapping,
not a vector): write ``classweights compute ... -o weights.npy`` to pass a file.
"""

from __future__ import annotations

#: The mmsegmentation versions the export was checked against (by reading their source).
MMSEG_CHECKED = {"1.x": "1.2.2", "0.x": "0.30.0"}

#: The registered loss of the 1.2.x recipe (``ClassWeightedCELoss``), saved by the user as a
#: module next to the config and imported with ``custom_imports``.
MMSEG_LOSS_MODULE = '''\
import numpy as np
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import nn


@MODELS.register_module()
class ClassWeightedCELoss(nn.Module):
    """Cross entropy with class weights and ignore_index: sum w[y] ce / sum w[y]."""

    def __init__(self, class_weight, loss_weight=1.0, loss_name="loss_ce"):
        super().__init__()
        if isinstance(class_weight, str):  # an .npy file: classweights compute -o w.npy
            class_weight = np.load(class_weight)
        weight = torch.as_tensor(np.asarray(class_weight, dtype=np.float32))
        self.register_buffer("class_weight", weight)
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, cls_score, label, weight=None, ignore_index=255, **kwargs):
        w = self.class_weight.to(cls_score.dtype)
        loss = F.cross_entropy(
            cls_score, label, weight=w, ignore_index=ignore_index, reduction="none"
        )
        valid = label != ignore_index
        den = (w[torch.where(valid, label, 0)] * valid).sum()  # labelled pixels only
        if weight is not None:
            loss = loss * weight
        return self.loss_weight * loss.sum() / den.clamp_min(torch.finfo(w.dtype).eps)

    @property
    def loss_name(self):
        return self._loss_name
'''


def mmseg_snippet(
    items: str, num_classes: int, ignore_index: int | None, factor: float | None
) -> str:
    """The ``--export mmseg`` text: the 1.2.x loss module, its ``loss_decode`` and the 0.x form.

    Args:
        items: the ``class_weight`` lines (one class a line, with its name).
        num_classes: ``C``.
        ignore_index: the dataset's ignore label (``None``: mmseg's default 255).
        factor: the rescaling applied to the weights (pixel-weighted mean 1), if any.
    """
    ignore = 255 if ignore_index is None else ignore_index
    scaled = (
        f"# weights x {float(f'{factor:.4g}')!r}: their pixel-weighted mean is 1, so mmseg 0.x "
        "(avg_non_ignore=True divides\n# by the number of valid pixels) keeps its loss scale; "
        "ClassWeightedCELoss divides by the sum of\n# weights, so only their ratios matter.\n"
        if factor is not None
        else ""
    )
    return (
        f"# mmsegmentation 1.2.x (checked against the {MMSEG_CHECKED['1.x']} source): its "
        "CrossEntropyLoss raises\n"
        '# "IndexError: index 255 is out of bounds" with any class_weight once a label holds '
        "the ignore\n# value (ignore_index, or seg_pad_val of padded crops; "
        "open-mmlab/mmsegmentation#3734, #3492).\n"
        "# Save the lines up to loss_decode as classweights_loss.py next to your config, "
        "and add to the config:\n"
        "# custom_imports = dict(imports=['classweights_loss'], allow_failed_imports=False)\n"
        f"{MMSEG_LOSS_MODULE}\n\n"
        f"{scaled}"
        f"# in model.decode_head (num_classes={num_classes}, ignore_index={ignore}):\n"
        "loss_decode=dict(\n    type='ClassWeightedCELoss',\n    loss_weight=1.0,\n"
        f"    class_weight=[\n{items}\n    ],\n)\n"
        f"# mmsegmentation 0.x (0.23 to {MMSEG_CHECKED['0.x']}, checked against the source): "
        "loss_decode=dict(type='CrossEntropyLoss',\n"
        "# use_sigmoid=False, loss_weight=1.0, class_weight=[the list above], "
        "avg_non_ignore=True).\n"
        "# class_weight= also takes the path of an .npy file (classweights compute ... -o "
        "weights.npy),\n# not of the .json/.yaml record."
    )
