"""Drop-in pieces for the tools models are trained with; each imports its tool when first used.

==================== ============================================ ==========================
name                 what it is                                   needs
==================== ============================================ ==========================
``LossStageCallback`` a ``lightning.pytorch.Callback`` that drives   ``classweights[lightning]``
                     a staged loss from the logged validation Dice
``DiceScore``        a ``torchmetrics.Metric`` with the numbers of  ``classweights[torchmetrics]``
                     :class:`classweights.metrics.DiceMetric`
==================== ============================================ ==========================

``from classweights.integrations import LossStageCallback, DiceScore`` imports Lightning and
torchmetrics only then (``import classweights.integrations`` imports neither); a missing one is
a :class:`~classweights.errors.MissingDependencyError` naming the extra to install.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import require

#: name -> (submodule, the package it needs, the extra that installs it)
_LAZY = {
    "LossStageCallback": (".callback", "lightning.pytorch", "lightning"),
    "DiceScore": (".dice_score", "torchmetrics", "torchmetrics"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, package, extra = _LAZY[name]
    require(package, extra, f"classweights.integrations.{name}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
