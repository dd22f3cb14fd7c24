"""The state machine of :class:`LossStageScheduler`: thresholds, stage entry, lr, state."""

from __future__ import annotations

import copy
import logging
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ClassWeightsError, ConfigError
from .config import Stage, _load_config, _mixed_weights, _parse, _same_components

if TYPE_CHECKING:
    import torch

STATE_VERSION = 1


def _default_factory(config: Mapping[str, Any]) -> Any:
    from ..losses import build_loss  # torch-heavy; imported on first use

    return build_loss(dict(config))


class LossStageScheduler:
    """Advance a staged loss when validation Dice thresholds hold for consecutive epochs.

    Args:
        config: the full config (dict, YAML string or YAML file path) with ``loss_name``,
            ``loss_parameter`` (stage 1) and ``loss_switch.loss_stages``.
        loss: the stage-1 loss module, if you built it yourself (e.g. with a ``pos_weight``);
            it must correspond to the base config. ``None`` builds it from the config.
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
            default :func:`classweights.losses.build_loss` (imported lazily).

    Raises:
        ConfigError: a bad key, threshold, weight, stage number or loss, named by its path.

    Entering a stage whose loss differs from the current one only in component weights
    calls ``loss.set_weights`` in place (buffers such as ``pos_weight`` are kept); any
    other change rebuilds the loss with ``loss_factory`` on the old loss's device, so read
    :attr:`loss` after each :meth:`step` rather than holding on to the module.

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
    >>> s = LossStageScheduler(cfg, loss_factory=lambda c: dict(c))  # stand-in loss
    >>> [s.step({"avg_dice": d}, epoch) for epoch, d in enumerate([0.91, 0.85, 0.92, 0.93])]
    [False, False, False, True]
    >>> s.log_dict()
    {'val/loss_stage': 2, 'val/loss_stage_consecutive': 0, 'val/loss_stage_switch_epoch': 3}
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
    ) -> None:
        self.config = _load_config(config)
        self.class_names = list(class_names) if class_names is not None else None
        self.logger = logger or logging.getLogger("classweights.schedule")
        self.loss_factory = loss_factory or _default_factory
        if optimizer is None and lr_scheduler is not None:
            optimizer = getattr(lr_scheduler, "optimizer", None)
        elif (
            lr_scheduler is not None
            and getattr(lr_scheduler, "optimizer", optimizer) is not optimizer
        ):
            raise ConfigError("lr_scheduler.optimizer is not the optimizer passed to the scheduler")
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.stages = _parse(self.config, self.class_names)
        if optimizer is None and any(s.enabled and s.lr_multiplier != 1.0 for s in self.stages):
            warnings.warn(
                "a stage has lr_multiplier != 1 but no optimizer was given; lr stays unchanged",
                UserWarning,
                stacklevel=2,
            )
        for s in self.stages:  # build every enabled loss once so bad configs fail now
            if s.enabled and s.loss_config is not None and not (s.number == 1 and loss is not None):
                built = self._build(s)
                if s.number == 1:
                    loss = built
        self._loss = loss
        self._loss_config: dict[str, Any] = self.stages[0].loss_config or {}
        self.stage = 1
        self.consecutive = 0
        self.last_epoch: int | None = None
        self.history: list[dict[str, Any]] = []

    @classmethod
    def from_yaml(cls, path_or_str: str | os.PathLike[str], **kwargs: Any) -> LossStageScheduler:
        """Build from a YAML file path or a YAML string (same keyword arguments as the class)."""
        return cls(_load_config(path_or_str), **kwargs)

    # ------------------------------------------------------------------ config
    def _build(self, stage: Stage) -> Any:
        where = f"{stage.path}.loss" if stage.number > 1 else "loss_name/loss_parameter"
        try:
            return self.loss_factory(copy.deepcopy(stage.loss_config))
        except (ClassWeightsError, TypeError, KeyError) as exc:
            raise ConfigError(f"{where}: cannot build this loss: {exc}") from None

    # ------------------------------------------------------------------ state machine
    @property
    def loss(self) -> Any:
        """The loss module of the current stage."""
        return self._loss

    @property
    def next_stage(self) -> Stage | None:
        """The next enabled stage, or ``None`` at the last one."""
        return next((s for s in self.stages if s.number > self.stage and s.enabled), None)

    def _read(self, metrics: Mapping[str, Any], stage: Stage) -> list[tuple[str, float, float]]:
        per_class = metrics.get("class_dice", metrics)
        checks = []
        if stage.global_dice_threshold is not None:
            if "avg_dice" not in metrics:
                raise ConfigError(
                    f"{stage.path}.conditions.global_dice_threshold needs metrics['avg_dice']; "
                    f"metrics keys: {', '.join(map(str, metrics))}"
                )
            checks.append(("avg_dice", float(metrics["avg_dice"]), stage.global_dice_threshold))
        for name, thr in stage.class_dice_thresholds.items():
            if name not in per_class:
                raise ConfigError(
                    f"{stage.path}.conditions.class_dice_thresholds.{name}: the metrics have "
                    f"no Dice for class {name!r}; they have: {', '.join(map(str, per_class))}"
                    f" (pass class_names to DiceMetric)"
                )
            checks.append((name, float(per_class[name]), thr))
        return checks

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
        checks = self._read(metrics, target)
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
                self._describe(checks),
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

    def _describe(self, checks: list[tuple[str, float, float]]) -> str:
        """``avg_dice 0.861 >= 0.85, Pisiform 0.86 >= 0.85``; many classes with one
        threshold are summarised as ``every class >= 0.75 (lowest Ulna 0.78)``."""
        glob = [c for c in checks if c[0] == "avg_dice"]
        classes = [c for c in checks if c[0] != "avg_dice"]
        parts = [f"{n} {v:.4g} >= {t:.4g}" for n, v, t in glob]
        if len(classes) >= 4 and len({t for _, _, t in classes}) == 1:
            name, value, thr = min(classes, key=lambda c: c[1])
            every = self.class_names is not None and len(classes) == len(self.class_names)
            who = "every class" if every else f"{len(classes)} classes"
            parts.append(f"{who} >= {thr:.4g} (lowest {name} {value:.4g})")
        else:
            parts.extend(f"{n} {v:.4g} >= {t:.4g}" for n, v, t in classes)
        return ", ".join(parts)

    def _enter(self, target: Stage, epoch: int, checks: list[tuple[str, float, float]]) -> None:
        old, old_w = self.stage, _mixed_weights(self._loss_config, "")
        how = self._apply_loss(target)
        self._scale_lr(target.lr_multiplier)
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
        why = ", ".join(f"{n} {v:.4g} >= {t:.4g}" for n, v, t in checks)
        new_w = _mixed_weights(self._loss_config, "")
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
        cfg = target.loss_config
        if cfg is None or cfg == self._loss_config:
            return "loss unchanged"
        if hasattr(self._loss, "set_weights") and _same_components(self._loss_config, cfg):
            self._loss.set_weights(_mixed_weights(cfg, ""))
            self._loss_config = cfg
            return "in place"
        new = self._build(target)
        old = self._loss
        if hasattr(old, "parameters") and hasattr(new, "to"):
            tensors = [*old.parameters(), *old.buffers()]
            if tensors:
                new = new.to(tensors[0].device)
            new.train(old.training)
        self._loss, self._loss_config = new, cfg
        return "rebuilt"

    def _scale_lr(self, factor: float) -> None:
        if factor == 1.0 or self.optimizer is None:
            return
        for group in self.optimizer.param_groups:
            for key in ("lr", "initial_lr"):
                if key in group:
                    if hasattr(group[key], "mul_"):
                        group[key].mul_(factor)
                    else:
                        group[key] = group[key] * factor
        todo = [self.lr_scheduler] if self.lr_scheduler is not None else []
        while todo:
            sched = todo.pop()
            todo.extend(getattr(sched, "_schedulers", []))  # SequentialLR, ChainedScheduler
            if hasattr(sched, "base_lrs"):
                sched.base_lrs = [b * factor for b in sched.base_lrs]
            if hasattr(sched, "_last_lr"):
                sched._last_lr = [g["lr"] for g in self.optimizer.param_groups]

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

        The lr is not rescaled: restore the optimizer and LR scheduler from their own
        state dicts.
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
        target = max(
            (s for s in self.stages if s.enabled and s.number <= stage and s.loss_config),
            key=lambda s: s.number,
        )
        self._apply_loss(target)
        self.stage = stage
        self.consecutive = int(state["consecutive"])
        self.last_epoch = state["last_epoch"]
        self.history = copy.deepcopy(list(state["history"]))

    def __repr__(self) -> str:
        return (
            f"LossStageScheduler(stage={self.stage}, consecutive={self.consecutive}, "
            f"last_epoch={self.last_epoch}, stages={[s.number for s in self.stages if s.enabled]})"
        )
