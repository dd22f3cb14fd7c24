"""The learning rate of a stage: ``lr_multiplier`` applied to an optimizer exactly once.

Each param group records the product of the multipliers already applied to it under
:data:`LR_FACTOR_KEY`. The key travels in the optimizer's own ``state_dict``, so a restored
optimizer is never scaled twice and a fresh one is brought to the restored stage's lr.
"""

from __future__ import annotations

import math
from typing import Any

#: The param-group key holding the lr factor already applied to the group.
LR_FACTOR_KEY = "classweights_lr_factor"


def scale_groups(optimizer: Any, lr_scheduler: Any, factor: float, total: float) -> None:
    """Multiply every param group's ``lr`` (and ``initial_lr``) and the LR scheduler's
    ``base_lrs`` (also those of ``SequentialLR``/``ChainedScheduler`` members) by ``factor``,
    then mark the groups with ``total``, the factor applied so far.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> scale_groups(opt, None, 0.5, 0.5)
    >>> opt.param_groups[0]["lr"], opt.param_groups[0][LR_FACTOR_KEY]
    (0.05, 0.5)
    """
    if factor != 1.0:
        for group in optimizer.param_groups:
            for key in ("lr", "initial_lr"):
                if key in group:
                    if hasattr(group[key], "mul_"):
                        group[key].mul_(factor)
                    else:
                        group[key] = group[key] * factor
        todo = [lr_scheduler] if lr_scheduler is not None else []
        while todo:
            sched = todo.pop()
            todo.extend(getattr(sched, "_schedulers", []))  # SequentialLR, ChainedScheduler
            if hasattr(sched, "base_lrs"):
                sched.base_lrs = [b * factor for b in sched.base_lrs]
            if hasattr(sched, "_last_lr"):
                sched._last_lr = [g["lr"] for g in optimizer.param_groups]
    for group in optimizer.param_groups:
        group[LR_FACTOR_KEY] = total


def sync_groups(optimizer: Any, lr_scheduler: Any, total: float) -> float:
    """Bring ``optimizer`` to the lr factor ``total``; return the factor applied (1.0 for an
    optimizer already there, e.g. restored from a checkpoint).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> sync_groups(opt, None, 0.25), sync_groups(opt, None, 0.25), opt.param_groups[0]["lr"]
    (0.25, 1.0, 0.025)
    """
    if optimizer is None or not optimizer.param_groups:
        return 1.0
    have = float(optimizer.param_groups[0].get(LR_FACTOR_KEY, 1.0))
    factor = total / have
    if math.isclose(factor, 1.0, rel_tol=1e-12):
        factor = 1.0
    scale_groups(optimizer, lr_scheduler, factor, total)
    return factor
