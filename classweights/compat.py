"""Compatibility with the seed script this package grew from.

``calculate_class_weights`` keeps the seed script's signature and its default
``ignore_index=255`` (an exception to the package's rule, documented in
:mod:`classweights.scan.settings`: everywhere else ``None`` means nothing is ignored).
"""

from __future__ import annotations

from typing import Any


def calculate_class_weights(
    dataset: Any,
    num_classes: int,
    device: Any = None,
    method: str = "sqrt_inv_freq",
    ignore_index: int | None = 255,
    **kwargs: Any,
):
    """Seed-script compatible: scan a dataset and return class weights as a torch tensor.

    ``calculate_class_weights(dataset=train_dst, num_classes=19, device=device,
    method="sqrt_inv_freq", ignore_index=255)`` keeps working: ``dataset`` may be a torch
    Dataset returning ``(image, mask)`` or a dict, an iterable of masks, or a path.
    Extra keyword arguments go to :func:`classweights.compute_weights`.

    Unlike :func:`classweights.scan` (where ``ignore_index=None`` ignores nothing), the
    default here is the seed script's 255; pass ``ignore_index=None`` to ignore nothing.
    """
    from .errors import require
    from .pipeline import record_for

    require("torch", "torch", "calculate_class_weights")
    record = record_for(
        dataset,
        method,
        use_cache=False,
        num_classes=num_classes,
        ignore_index=ignore_index,
        **kwargs,
    )
    return record.tensor(device=device)
