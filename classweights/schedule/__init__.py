"""Metric-driven loss stages: switch the BCE:Dice ratio of a Mixed loss as a model matures.

A config names a base loss (stage 1) and later stages under ``loss_switch.loss_stages``::

    loss_name: Mixed
    loss_parameter:
      losses: [{name: BCEWithLogitsLoss, weight: 0.3}, {name: DiceLoss, weight: 0.7}]
    loss_switch:
      loss_stages:
        stage2:
          enabled: true          # default true; disabled stages are skipped
          lr_multiplier: 1.0     # default 1.0; multiplies the current lr on entry
          conditions:
            global_dice_threshold: 0.955               # avg_dice >= this
            class_dice_thresholds: {Pisiform: 0.85}    # class_dice[name] >= this
            consecutive_epochs: 1                      # default 1
          loss: {loss_name: Mixed, loss_parameter: {losses: [...0.2..., ...0.8...]}}

After every validation, ``scheduler.step(metrics, epoch)`` with ``metrics`` as returned by
:meth:`classweights.metrics.DiceMetric.compute`. The state machine is modelled on
``torch.optim.lr_scheduler.ReduceLROnPlateau`` (a counter reset by a miss, a plain-dict
``state_dict``): the next enabled stage is entered when all of its thresholds hold on
``consecutive_epochs`` consecutive calls; a miss (or a non-finite metric) resets the count;
stages never go back and at most one stage is entered per call.

Every stage's loss is built at the start, with the same class weights, into one
:class:`~classweights.losses.StagedLoss` (``scheduler.staged_loss``; what
``build_loss(config, weight=w)`` returns): the module a model keeps, whose ``state_dict``
keys do not change with the stage. ``classweights.integrations.LossStageCallback`` drives it
from Lightning.
"""

from __future__ import annotations

from .config import Stage
from .scheduler import LR_FACTOR_KEY, STATE_VERSION, LossStageScheduler

__all__ = ["LR_FACTOR_KEY", "STATE_VERSION", "LossStageScheduler", "Stage"]
