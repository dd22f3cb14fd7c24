"""The losses' constants, one home each (segmentation_models_pytorch's ``losses/constants.py``
is the model): the modes, the reductions and the default ignore index.

>>> MODES, IGNORE_INDEX
(('multiclass', 'binary', 'multilabel'), -100)
"""

from __future__ import annotations

from typing import Literal

Mode = Literal["multiclass", "binary", "multilabel"]
#: The allowed values of every ``mode`` argument, in the order error messages print them.
MODES: tuple[str, ...] = ("multiclass", "binary", "multilabel")
MULTICLASS, BINARY, MULTILABEL = MODES
#: The allowed values of every ``reduction`` argument.
REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")
#: A raw loss constructor's default ignore index: PyTorch's (``nn.CrossEntropyLoss``). A loss
#: built from a weight record or a dataset takes the record's instead; metrics follow
#: torchmetrics (``None``).
IGNORE_INDEX = -100
#: The loss argument a weight record's method feeds (the class ``weight`` unless named here):
#: ``from_record``, ``from_cache`` and ``build_loss(dataset=...)`` all read this one table.
ARGUMENT_OF_METHOD: dict[str, str] = {"pos_weight": "pos_weight", "focal_alpha": "alpha"}
