"""The state machine of :class:`LossStageScheduler`: thresholds, stage entry, lr, state."""

from __future__ import annotations

import copy
import logging
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..loss_config import DATASET_KEY, Stage, load_stage_config, mixed_weights, parse_stages
from .checks import describe, read_checks
from .lr import LR_FACTOR_KEY, scale_groups, sync_groups

if TYPE_CHECKING:
    import torch

    from ..losses import StagedLoss

STATE_VERSION = 1

__all__ = ["LR_FACTOR_KEY", "STATE_VERSION", "LossStageScheduler"]


class LossStageScheduler:
    """Advance a staged loss when validation Dice thresholds hold for consecutive epochs.

    Args:
        config: the full config (a mapping such as a dict or an OmegaConf ``DictConfig``, a
            YAML string or a YAML file path) with ``loss_name``, ``loss_parameter`` (stage 1)
            and ``loss_switch.loss_stages``.
        loss: a :class:`~classweights.losses.StagedLoss` built from this config (e.g. the one
            your model holds, from ``build_loss(config, weight=w)``) to drive; ``None`` builds
            it. A plain stage-1 module is deprecated: pass ``weight=``/``pos_weight=`` so
            every stage gets them.
        optimizer: its param groups' ``lr`` are multiplied by a stage's ``lr_multiplier``.
            Defaults to ``lr_scheduler.optimizer``.
        lr_scheduler: an LR scheduler (``CosineAnnealingLR``...) whose ``base_lrs`` are
            multiplied too, so its curve continues from the scaled value.
        class_names: the known class names; class thresholds naming others are rejected at
            construction. ``None`` defers the check to :meth:`step`.
        logger: where switch and progress lines go (``logging.getLogger(
            "classweights.schedule")``, level INFO): ``stage 2 condition met (2/3): ...``
            each epoch the next stage's conditions hold short of a switch, ``stage 2
            condition run broken at epoch 8 after 2/3: ...`` when a miss ends a run, and
            ``Stage 1 -> Stage 2 at epoch ...`` on the switch.
        loss_factory: builds a loss module from ``{"loss_name", "loss_parameter"}``;
            default :func:`classweights.losses.build_loss` with the weights below.
        weight: class weights (tensor, array, list, weight record or weight-file path) given
            to every stage's loss that takes ``weight``, read once.
        pos_weight: BCE ``pos_weight`` given likewise to every stage's loss.
        stats: multi-label statistics, for ``pos_weight: auto`` (as ``build_loss``).

    Raises:
        ConfigError: a bad key, threshold, weight, stage number or loss, named by its path.

    Every enabled stage's loss is built at construction, with the same weights, into one
    :class:`~classweights.losses.StagedLoss` (:attr:`staged_loss`); entering a stage switches
    it. A stage whose Mixed loss differs from the current one only in component weights
    shares its module (``set_weights`` in place, buffers such as ``pos_weight`` kept).
    :attr:`loss` is the current stage's module.

    >>> cfg = '''
    ... loss_name: Mixed
    ... loss_parameter: {losses: [{name: BCE, weight: 0.3}, {name: Dice, weight: 0.7}]}
    ... loss_switch:
    ...   loss_stages:
    ...     stage2:
    ...       conditions: {global_dice_threshold: 0.9, consecutive_epochs: 2}
    ...       loss: {loss_name: Mixed, loss_parameter:
    ...              {losses: [{name: BCE, weight: 0.2}, {name: Dice, weight: 0.8}]}}
    ... '''
    >>> s = LossStageScheduler(cfg, pos_weight=[2.0, 3.0])
    >>> [s.step({"avg_dice": d}, epoch) for epoch, d in enumerate([0.91, 0.85, 0.92, 0.93])]
    [False, False, False, True]
    >>> s.log_dict()
    {'val/loss_stage': 2, 'val/loss_stage_consecutive': 0, 'val/loss_stage_switch_epoch': 3}
    >>> s.loss.components, s.loss.losses[0].pos_weight.tolist()
    ([('BCE', 0.2), ('Dice', 0.8)], [2.0, 3.0])
    """

    def __init__(
        self,
        config: Mapping[str, Any] | str | os.PathLike[str],
        loss: Any = None,
        optimizer: torch.optim.Optimizer | None = None,
        lr_scheduler: Any = None,
        class_names: Sequence[str] | None = None,
        logger: logging.Logger | None = None,
        *,
        loss_factory: Callable[[Mapping[str, Any]], Any] | None = None,
        weight: Any = None,
        pos_weight: Any = None,
        stats: Any = None,
    ) -> None:
        from ..losses.build import stage_factory  # torch: imported when a scheduler is built
        from ..losses.staged import StagedLoss, build_staged

        self.config = load_stage_config(config)
        self.class_names = list(class_names) if class_names is not None else None
        self.logger = logger or logging.getLogger("classweights.schedule")
        if optimizer is None and lr_scheduler is not None:
            optimizer = getattr(lr_scheduler, "optimizer", None)
        elif (
            lr_scheduler is not None
            and getattr(lr_scheduler, "optimizer", optimizer) is not optimizer
        ):
            raise ConfigError("lr_scheduler.optimizer is not the optimizer passed to the scheduler")
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.stages = parse_stages(self.config, self.class_names)
        if optimizer is None and any(s.enabled and s.lr_multiplier != 1.0 for s in self.stages):
            warnings.warn(
                "a stage has lr_multiplier != 1 but no optimizer was given; lr stays unchanged",
                UserWarning,
                stacklevel=2,
            )
        given = [n for n, v in (("weight", weight), ("pos_weight", pos_weight)) if v is not None]
        given += [DATASET_KEY] if DATASET_KEY in self.config else []
        self.loss_factory = loss_factory
        if isinstance(loss, StagedLoss):
            enabled = [s.number for s in self.stages if s.enabled]
            if loss.numbers != enabled:
                raise ConfigError(
                    f"the StagedLoss has stages {loss.numbers} but this config enables "
                    f"{enabled}; build the loss from the same config"
                )
            if given:
                warnings.warn(
                    f"{' and '.join(given)} not used: the StagedLoss passed as loss= was built "
                    "with its own class weights",
                    UserWarning,
                    stacklevel=2,
                )
            staged = loss
        else:
            if loss is not None:
                warnings.warn(
                    "LossStageScheduler(loss=<stage-1 module>) is deprecated: a stage built "
                    "later does not get what you gave that module; pass weight=/pos_weight= "
                    "(or a StagedLoss from build_loss(config, weight=...))",
                    DeprecationWarning,
                    stacklevel=2,
                )
            if loss_factory is None:
                factory = stage_factory(
                    self.config, weight=weight, pos_weight=pos_weight, stats=stats
                )
            elif given:
                raise ConfigError(
                    f"{' and '.join(given)} cannot reach a custom loss_factory; give them to "
                    "your factory, or drop loss_factory (build_loss passes them to every stage)"
                )
            else:
                factory = loss_factory
            staged = build_staged(self.config, factory, first=loss)
        self.staged_loss: StagedLoss = staged
        self.stage = staged.current_stage
        self._loss_config: dict[str, Any] = self._config_of(self.stage)
        self.consecutive = 0
        self.last_epoch: int | None = None
        self.history: list[dict[str, Any]] = []

    @classmethod
    def from_yaml(cls, path_or_str: str | os.PathLike[str], **kwargs: Any) -> LossStageScheduler:
        """Build from a YAML file path or a YAML string (same keyword arguments as the class).

        Weight files named in a YAML file are relative to that file.
        """
        return cls(path_or_str, **kwargs)

    # ------------------------------------------------------------------ state machine
    @property
    def loss(self) -> Any:
        """The loss module of the current stage (``staged_loss.current``)."""
        return self.staged_loss.current

    def _config_of(self, number: int) -> dict[str, Any]:
        """The loss config in force at stage ``number`` (a stage without one keeps the last)."""
        target = max(
            (s for s in self.stages if s.enabled and s.number <= number and s.loss_config),
            key=lambda s: s.number,
        )
        return target.loss_config or {}

    @property
    def lr_factor(self) -> float:
        """The product of the ``lr_multiplier`` of every stage entered so far."""
        return math.prod(h["lr_multiplier"] for h in self.history)

    @property
    def next_stage(self) -> Stage | None:
        """The next enabled stage, or ``None`` at the last one."""
        return next((s for s in self.stages if s.number > self.stage and s.enabled), None)

    def step(self, metrics: Mapping[str, Any], epoch: int | None = None) -> bool:
        """Feed one validation result; return whether a new stage was entered.

        Args:
            metrics: ``{"avg_dice": float, "class_dice": {name: float}}`` (floats or 0-d
                tensors), as returned by ``DiceMetric.compute()``; a flat
                ``{name: float}`` for the classes also works.
            epoch: the epoch just validated (default: last epoch + 1, starting at 0). A
                call for an epoch not after the last one is ignored with a warning.
        """
        if epoch is None:
            epoch = 0 if self.last_epoch is None else self.last_epoch + 1
        if self.last_epoch is not None and epoch <= self.last_epoch:
            warnings.warn(
                f"LossStageScheduler.step() already called for epoch {self.last_epoch}; the "
                f"call for epoch {epoch} is ignored",
                RuntimeWarning,
                stacklevel=2,
            )
            return False
        self.last_epoch = epoch
        target = self.next_stage
        if target is None:
            return False
        checks = read_checks(metrics, target)
        bad = [f"{name}={value}" for name, value, _ in checks if not math.isfinite(value)]
        if bad:
            warnings.warn(
                f"non-finite Dice at epoch {epoch} ({', '.join(bad)}); counted as a miss, "
                f"stage {self.stage} kept",
                RuntimeWarning,
                stacklevel=2,
            )
            self._miss(target, epoch, checks)
            return False
        if not all(value >= thr for _, value, thr in checks):
            self._miss(target, epoch, checks)
            return False
        self.consecutive += 1
        if self.consecutive < target.consecutive_epochs:
            self.logger.info(
                "stage %d condition met (%d/%d): %s (epoch %d)",
                target.number,
                self.consecutive,
                target.consecutive_epochs,
                describe(checks, self.class_names),
                epoch,
            )
            return False
        self._enter(target, epoch, checks)
        return True

    def _miss(self, target: Stage, epoch: int, checks: list[tuple[str, float, float]]) -> None:
        """Reset the count; log the break of a run of good epochs."""
        if self.consecutive > 0:
            failed = ", ".join(
                f"{n} {v:.4g} < {t:.4g}" if math.isfinite(v) else f"{n} {v} is not finite"
                for n, v, t in checks
                if not (math.isfinite(v) and v >= t)
            )
            self.logger.info(
                "stage %d condition run broken at epoch %d after %d/%d: %s",
                target.number,
                epoch,
                self.consecutive,
                target.consecutive_epochs,
                failed,
            )
        self.consecutive = 0

    def _enter(self, target: Stage, epoch: int, checks: list[tuple[str, float, float]]) -> None:
        old, old_w = self.stage, mixed_weights(self._loss_config, "")
        how = self._apply_loss(target)
        self.stage, self.consecutive = target.number, 0
        self.history.append(
            {
                "epoch": epoch,
                "from_stage": old,
                "to_stage": target.number,
                "metrics": {name: value for name, value, _ in checks},
                "lr_multiplier": target.lr_multiplier,
            }
        )
        self._scale_lr(target.lr_multiplier)
        why = ", ".join(f"{n} {v:.4g} >= {t:.4g}" for n, v, t in checks)
        new_w = mixed_weights(self._loss_config, "")
        change = (
            f"weights {'/'.join(f'{w:g}' for w in old_w)} -> {'/'.join(f'{w:g}' for w in new_w)}"
            if old_w and new_w
            else f"loss {self._loss_config.get('loss_name')}"
        )
        self.logger.info(
            "Stage %d -> Stage %d at epoch %d (%s): %s (%s), lr x%g",
            old,
            target.number,
            epoch,
            why,
            change,
            how,
            target.lr_multiplier,
        )

    def _apply_loss(self, target: Stage) -> str:
        """Put ``target``'s loss in place (the staged loss switches); how, for the log."""
        staged = self.staged_loss
        before, before_factors = staged.current, getattr(staged.current, "weights", None)
        staged.set_stage(target.number)
        if target.loss_config is not None:
            self._loss_config = target.loss_config
        if staged.current is not before:
            return "its own module, built with the others"
        if getattr(staged.current, "weights", None) != before_factors:
            return "in place"
        return "loss unchanged"

    def _scale_lr(self, factor: float) -> None:
        """Multiply the lr by ``factor`` and mark the groups with :attr:`lr_factor`."""
        if self.optimizer is not None:
            scale_groups(self.optimizer, self.lr_scheduler, factor, self.lr_factor)

    def sync_lr(self, optimizer: Any = None, lr_scheduler: Any = None) -> float:
        """Bring an optimizer to the lr of the stages entered so far; return the factor applied.

        Each param group records the lr factor already applied to it (the key
        ``"classweights_lr_factor"``, saved in the optimizer's ``state_dict``): a restored
        optimizer is left as it is, a fresh one is multiplied by :attr:`lr_factor` (its LR
        scheduler's ``base_lrs`` too). Called by :meth:`load_state_dict` and by the Lightning
        callback when training (re)starts.
        """
        optimizer = optimizer if optimizer is not None else self.optimizer
        lr_scheduler = lr_scheduler if lr_scheduler is not None else self.lr_scheduler
        return sync_groups(optimizer, lr_scheduler, self.lr_factor)

    # ------------------------------------------------------------------ logging, state
    def log_dict(self, prefix: str = "val/") -> dict[str, int]:
        """Scalars for any logger; the switch epoch appears after the first switch.

        ``loss_stage_consecutive`` is the number of consecutive epochs the next stage's
        conditions have held so far (the ``2`` of ``condition met (2/3)``; 0 after a miss).

        >>> s = LossStageScheduler({"loss_name": "Dice"}, loss_factory=lambda c: None)
        >>> s.log_dict()
        {'val/loss_stage': 1, 'val/loss_stage_consecutive': 0}
        """
        out = {
            f"{prefix}loss_stage": self.stage,
            f"{prefix}loss_stage_consecutive": self.consecutive,
        }
        if self.history:
            out[f"{prefix}loss_stage_switch_epoch"] = self.history[-1]["epoch"]
        return out

    def state_dict(self) -> dict[str, Any]:
        """Plain Python state (stage, count, last epoch, switch history) for a checkpoint.

        The optimizer's lr and the LR scheduler's ``base_lrs`` are saved by their own
        ``state_dict``; the loss weights follow from the stage.
        """
        return {
            "version": STATE_VERSION,
            "stage": self.stage,
            "consecutive": self.consecutive,
            "last_epoch": self.last_epoch,
            "history": copy.deepcopy(self.history),
            "stages": [s.number for s in self.stages if s.enabled],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output and put the loss of the restored stage in place.

        The lr of a restored optimizer is left alone (restore the optimizer and LR scheduler
        from their own state dicts, in either order); a fresh optimizer is brought to the
        restored stage's lr (:meth:`sync_lr`).
        """
        if state.get("version") != STATE_VERSION:
            raise ConfigError(
                f"state_dict version {state.get('version')!r} is not {STATE_VERSION}; "
                f"it was not written by this LossStageScheduler"
            )
        stage = int(state["stage"])
        enabled = {s.number: s for s in self.stages if s.enabled}
        if stage not in enabled:
            raise ConfigError(
                f"the checkpoint is at stage {stage}, which this config does not have enabled "
                f"(enabled stages: {', '.join(map(str, enabled))})"
            )
        self.staged_loss.set_stage(stage)
        self._loss_config = self._config_of(stage)
        self.stage = stage
        self.consecutive = int(state["consecutive"])
        self.last_epoch = state["last_epoch"]
        self.history = copy.deepcopy(list(state["history"]))
        self.sync_lr()

    def __repr__(self) -> str:
        return (
            f"LossStageScheduler(stage={self.stage}, consecutive={self.consecutive}, "
            f"last_epoch={self.last_epoch}, stages={[s.number for s in self.stages if s.enabled]})"
        )
