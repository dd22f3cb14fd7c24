"""A ``lightning.pytorch.Callback`` that moves a staged loss from the logged validation Dice.

``LossStageCallback(config, monitor="val_dice")`` reads the Dice the module logs, as
``EarlyStopping`` and ``ModelCheckpoint`` read theirs (``trainer.callback_metrics`` after each
validation run): the mean under ``monitor``, each class under ``"{monitor}/{class name}"``. It
drives a :class:`~classweights.schedule.LossStageScheduler` on the module's loss, found by
attribute (``criterion``, ``loss_fn`` or ``loss``, unless ``attribute=`` names it):

- a :class:`~classweights.losses.StagedLoss` there (``self.loss_fn = build_loss(config,
  weight=w)``) is driven as it is; any other loss is replaced, before a checkpoint is
  restored, by the staged loss of ``config`` built with the callback's ``weight=`` /
  ``pos_weight=`` / ``stats=``. The stage is a buffer of that loss, so it is saved and
  restored with the model (Lightning loads the model strictly, before callback state);
- it acts once per validation run of ``fit`` and never on the sanity check;
- every rank decides from rank 0's values (broadcast), so under DDP all switch together;
- the lr of a stage is applied once: each param group records the factor applied
  (``"classweights_lr_factor"``, in the optimizer's checkpoint), so a restored optimizer keeps
  its lr and only a fresh one is brought to the stage's;
- the stage goes to every logger (``loss_stage``, ``loss_stage_consecutive``,
  ``loss_stage_switch_epoch``) and the switch line to the ``classweights.schedule`` logger.

The scheduler counts validation runs (0, 1, 2, ...: the epoch when validating once per epoch).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.trainer.states import TrainerFn

from ..errors import ConfigError
from ..loss_config import load_stage_config, parse_stages
from ..losses import StagedLoss
from ..schedule import LossStageScheduler
from ..schedule.lr import sync_groups

log = logging.getLogger("classweights.schedule")

#: Attributes of the LightningModule searched for its loss, in this order.
LOSS_ATTRIBUTES = ("criterion", "loss_fn", "loss")


class LossStageCallback(pl.Callback):
    """Switch a staged loss (and the lr) when the logged validation Dice meets a stage's bar.

    Args:
        config: the staged config (a mapping such as a ``DictConfig``, a YAML string or a
            YAML file), as for :class:`~classweights.schedule.LossStageScheduler`.
        monitor: the logged mean Dice; class ``c`` is read from ``"{monitor}/{c}"``.
        attribute: the module attribute holding the loss (default: the first of
            ``criterion``, ``loss_fn``, ``loss`` that is set).
        class_names: the class names, to check the config's class thresholds at once.
        weight, pos_weight, stats: the class weights of every stage when the callback builds
            the staged loss (as ``build_loss``); not used when the module already holds a
            ``StagedLoss``, which was built with its own.
        log_prefix: prefix of the logged stage values.
    """

    def __init__(
        self,
        config: Any,
        monitor: str = "val_dice",
        *,
        attribute: str | None = None,
        class_names: Sequence[str] | None = None,
        weight: Any = None,
        pos_weight: Any = None,
        stats: Any = None,
        log_prefix: str = "",
    ) -> None:
        super().__init__()
        self.config = load_stage_config(config)
        self.stages = parse_stages(self.config, class_names)  # a bad config fails now
        self.monitor = monitor
        self.attribute = attribute
        self.class_names = list(class_names) if class_names is not None else None
        self.weights = {"weight": weight, "pos_weight": pos_weight, "stats": stats}
        self.log_prefix = log_prefix
        self.scheduler: LossStageScheduler | None = None
        self._pending: Mapping[str, Any] | None = None

    @property
    def state_key(self) -> str:
        return self._generate_state_key(monitor=self.monitor)

    # ------------------------------------------------------------------ the loss
    def _find(self, pl_module: pl.LightningModule) -> tuple[str, Any]:
        names = (self.attribute,) if self.attribute else LOSS_ATTRIBUTES
        for name in names:
            value = getattr(pl_module, name, None)
            if value is not None and not isinstance(value, (int, float, str)):
                return name, value
        where = f"{self.attribute!r}" if self.attribute else ", ".join(LOSS_ATTRIBUTES)
        raise ConfigError(
            f"LossStageCallback found no loss on {type(pl_module).__name__} (looked for "
            f"{where}); set self.loss_fn = build_loss(config, weight=w) in __init__, or pass "
            "attribute='<the attribute holding your loss>'"
        )

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Find the loss (replacing a plain one by the staged loss) before any restore."""
        if self.scheduler is not None:
            return
        name, loss = self._find(pl_module)
        kwargs: dict[str, Any] = {"class_names": self.class_names}
        if isinstance(loss, StagedLoss):
            kwargs["loss"] = loss
            if any(v is not None for v in self.weights.values()):
                warnings.warn(
                    f"LossStageCallback: pl_module.{name} is already a StagedLoss, built with "
                    "its own class weights; the callback's weight=/pos_weight=/stats= are not "
                    "used",
                    UserWarning,
                    stacklevel=2,
                )
        else:
            kwargs.update(self.weights)
        with warnings.catch_warnings():  # the optimizers come later (on_fit_start)
            warnings.filterwarnings("ignore", message="a stage has lr_multiplier")
            self.scheduler = LossStageScheduler(self.config, **kwargs)
        if not isinstance(loss, StagedLoss):
            setattr(pl_module, name, self.scheduler.staged_loss)
            log.info(
                "LossStageCallback: pl_module.%s (%s) replaced by the StagedLoss of the config "
                "(stages %s)",
                name,
                type(loss).__name__,
                self.scheduler.staged_loss.numbers,
            )
        if self._pending is not None:
            self.scheduler.load_state_dict(self._pending)
            self._pending = None

    # ------------------------------------------------------------------ lr
    def _sync_lr(self, trainer: pl.Trainer) -> None:
        assert self.scheduler is not None
        configs = list(getattr(trainer, "lr_scheduler_configs", []) or [])
        for optimizer in trainer.optimizers:
            schedulers = [c.scheduler for c in configs if c.scheduler.optimizer is optimizer]
            sync_groups(
                optimizer, schedulers[0] if len(schedulers) == 1 else None, self.scheduler.lr_factor
            )

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A fresh optimizer of a resumed run gets the lr of the restored stage (a restored
        optimizer state, loaded after this hook, replaces it with its own)."""
        if self.scheduler is not None:
            self._sync_lr(trainer)

    # ------------------------------------------------------------------ validation
    def _metrics(self, trainer: pl.Trainer) -> dict[str, Any]:
        assert self.scheduler is not None
        logged = trainer.callback_metrics
        target = self.scheduler.next_stage
        out: dict[str, Any] = {"class_dice": {}}
        if target is None:
            return out
        need = [self.monitor] if target.global_dice_threshold is not None else []
        need += [f"{self.monitor}/{c}" for c in target.class_dice_thresholds]
        missing = [k for k in need if k not in logged]
        if missing:
            raise ConfigError(
                f"LossStageCallback(monitor={self.monitor!r}): stage {target.number}'s "
                f"conditions need {', '.join(map(repr, missing))} in the logged metrics, which "
                f"hold {', '.join(map(repr, sorted(logged))) or 'nothing'}; log the mean Dice as "
                f"self.log({self.monitor!r}, ...) and each class as "
                f"self.log('{self.monitor}/<class>', ...) in validation"
            )
        if self.monitor in logged:
            out["avg_dice"] = float(logged[self.monitor])
        for c in target.class_dice_thresholds:
            out["class_dice"][c] = float(logged[f"{self.monitor}/{c}"])
        return out

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """One scheduler step per validation run of ``fit`` (never the sanity check)."""
        if (
            self.scheduler is None
            or trainer.sanity_checking
            or trainer.state.fn != TrainerFn.FITTING
        ):
            return
        metrics = trainer.strategy.broadcast(self._metrics(trainer), src=0)
        self.scheduler.step(metrics)
        self._sync_lr(trainer)
        values = self.scheduler.log_dict(prefix=self.log_prefix)
        for logger in trainer.loggers:
            logger.log_metrics(values, step=trainer.global_step)

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        if self.scheduler is not None:
            return {"scheduler": self.scheduler.state_dict()}
        return {"scheduler": dict(self._pending)} if self._pending is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = state_dict.get("scheduler")
        if state is None:
            return
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state)
        else:
            self._pending = state
