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
"""

from __future__ import annotations

import copy
import difflib
import logging
import math
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import ClassWeightsError, ConfigError

if TYPE_CHECKING:
    import torch

STATE_VERSION = 1
_STAGE_KEYS = ("enabled", "lr_multiplier", "conditions", "loss")
_CONDITION_KEYS = ("global_dice_threshold", "class_dice_thresholds", "consecutive_epochs")
_STAGES_PATH = "loss_switch.loss_stages"


@dataclass(frozen=True)
class Stage:
    """One parsed stage. Stage 1 is the base loss and has no conditions."""

    number: int
    path: str
    loss_config: dict[str, Any] | None
    enabled: bool = True
    lr_multiplier: float = 1.0
    global_dice_threshold: float | None = None
    class_dice_thresholds: dict[str, float] = field(default_factory=dict)
    consecutive_epochs: int = 1


def _default_factory(config: Mapping[str, Any]) -> Any:
    from .losses import build_loss  # torch-heavy; imported on first use

    return build_loss(dict(config))


def _load_config(config: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    if isinstance(config, Mapping):
        return copy.deepcopy(dict(config))
    if isinstance(config, os.PathLike) or (
        isinstance(config, str) and "\n" not in config and config.endswith((".yaml", ".yml"))
    ):
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"loss config file {str(path)!r} not found")
        text, where = path.read_text(encoding="utf-8"), str(path)
    elif isinstance(config, str):
        text, where = config, "the YAML string"
    else:
        raise ConfigError(
            f"config must be a dict, a YAML string or a YAML file path; got {type(config).__name__}"
        )
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {exc}") from None
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"{where} must hold a mapping with loss_name; got {loaded!r}")
    return dict(loaded)


def _number(value: Any, path: str, what: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ConfigError(f"{path}: {what} must be a number in [{lo}, {hi}]; got {value!r}")
    return float(value)


def _check_keys(section: Any, allowed: Sequence[str], path: str) -> Mapping[str, Any]:
    if not isinstance(section, Mapping):
        raise ConfigError(f"{path}: expected a mapping; got {section!r}")
    for key in section:
        if key not in allowed:
            near = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"{path}.{key}: unknown key{hint}; allowed: {', '.join(allowed)}")
    return section


def _mixed_weights(loss_config: Mapping[str, Any], path: str) -> list[float] | None:
    """Validate the component weights of a Mixed loss config; ``None`` for other losses."""
    if str(loss_config.get("loss_name", "")).lower() not in ("mixed", "mixedloss"):
        return None
    params = loss_config.get("loss_parameter") or {}
    comps = params.get("losses") if isinstance(params, Mapping) else None
    where = f"{path}loss_parameter.losses"
    if not isinstance(comps, list) or not comps:
        raise ConfigError(f"{where}: a Mixed loss needs a non-empty list of {{name, weight}}")
    weights = []
    for i, comp in enumerate(comps):
        if not isinstance(comp, Mapping) or not isinstance(
            comp.get("name", comp.get("loss_name")), str
        ):
            raise ConfigError(f"{where}[{i}]: expected {{name: LossName, weight: w}}; got {comp!r}")
        weights.append(_number(comp.get("weight"), f"{where}[{i}].weight", "weight", 0.0, 1.0))
    if not math.isclose(sum(weights), 1.0, abs_tol=1e-6):
        raise ConfigError(
            f"{where}: weights {weights} sum to {sum(weights):.6g}; the weights of a staged "
            f"Mixed loss are a ratio and must sum to 1 (e.g. 0.2 and 0.8)"
        )
    return weights


def _same_components(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two loss configs differ at most in their component weights."""

    def strip(cfg: Mapping[str, Any]) -> Any:
        cfg = copy.deepcopy(dict(cfg))
        for comp in (cfg.get("loss_parameter") or {}).get("losses", []):
            comp.pop("weight", None)
        return cfg

    return _mixed_weights(a, "") is not None and strip(a) == strip(b)


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
        logger: where switch lines go (``logging.getLogger("classweights.schedule")``).
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
    {'val/loss_stage': 2, 'val/loss_stage_switch_epoch': 3}
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
        self.logger = logger or logging.getLogger(__name__)
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
        self.stages = self._parse(self.config)
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
    def _parse(self, cfg: dict[str, Any]) -> list[Stage]:
        if "loss_name" not in cfg:
            raise ConfigError(
                "loss_name: missing; stage 1 is the base loss (e.g. loss_name: Mixed)"
            )
        base = {"loss_name": cfg["loss_name"], "loss_parameter": cfg.get("loss_parameter") or {}}
        _mixed_weights(base, "")
        stages = [Stage(1, "", base)]
        switch = _check_keys(cfg.get("loss_switch") or {}, ("loss_stages",), "loss_switch")
        raw = switch.get("loss_stages") or {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{_STAGES_PATH}: expected a mapping stage2: ..., stage3: ...")
        numbered = {}
        for key in raw:
            m = re.fullmatch(r"stage([1-9]\d*)", str(key))
            if m is None or m.group(1) == "1":
                raise ConfigError(
                    f"{_STAGES_PATH}.{key}: stage keys are stage2, stage3, ...; stage 1 is the "
                    f"base loss given by loss_name/loss_parameter"
                )
            numbered[int(m.group(1))] = key
        for expected, number in enumerate(sorted(numbered), start=2):
            if number != expected:
                raise ConfigError(
                    f"{_STAGES_PATH}.stage{number}: stage numbering has a gap "
                    f"(no stage{expected}); number stages stage2, stage3, ... without gaps"
                )
        stages.extend(self._parse_stage(n, raw[numbered[n]]) for n in sorted(numbered))
        return stages

    def _parse_stage(self, number: int, raw: Any) -> Stage:
        path = f"{_STAGES_PATH}.stage{number}"
        raw = _check_keys(raw, _STAGE_KEYS, path)
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{path}.enabled: must be true or false; got {enabled!r}")
        lr_mult = raw.get("lr_multiplier", 1.0)
        _number(lr_mult, f"{path}.lr_multiplier", "lr_multiplier", 0.0, math.inf)
        if lr_mult <= 0 or math.isinf(lr_mult):
            raise ConfigError(f"{path}.lr_multiplier: must be finite and > 0; got {lr_mult!r}")
        cpath = f"{path}.conditions"
        cond = _check_keys(raw.get("conditions") or {}, _CONDITION_KEYS, cpath)
        glob = cond.get("global_dice_threshold")
        if glob is not None:
            glob = _number(glob, f"{cpath}.global_dice_threshold", "a Dice threshold", 0.0, 1.0)
        classes = cond.get("class_dice_thresholds") or {}
        if not isinstance(classes, Mapping):
            raise ConfigError(f"{cpath}.class_dice_thresholds: expected {{ClassName: threshold}}")
        thresholds = {}
        for name, value in classes.items():
            where = f"{cpath}.class_dice_thresholds.{name}"
            if self.class_names is not None and str(name) not in self.class_names:
                near = difflib.get_close_matches(str(name), self.class_names, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ConfigError(
                    f"{where}: unknown class{hint}; known: {', '.join(self.class_names)}"
                )
            thresholds[str(name)] = _number(value, where, "a Dice threshold", 0.0, 1.0)
        n = cond.get("consecutive_epochs", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"{cpath}.consecutive_epochs: must be an int >= 1; got {n!r}")
        if glob is None and not thresholds:
            raise ConfigError(
                f"{cpath}: no condition; give global_dice_threshold and/or class_dice_thresholds"
            )
        loss_cfg = raw.get("loss")
        if loss_cfg is not None:
            lpath = f"{path}.loss"
            loss_cfg = dict(_check_keys(loss_cfg, ("loss_name", "loss_parameter"), lpath))
            if "loss_name" not in loss_cfg:
                raise ConfigError(f"{lpath}.loss_name: missing")
            loss_cfg.setdefault("loss_parameter", {})
            _mixed_weights(loss_cfg, f"{lpath}.")
        return Stage(number, path, loss_cfg, enabled, float(lr_mult), glob, thresholds, n)

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
            self.consecutive = 0
            return False
        if not all(value >= thr for _, value, thr in checks):
            self.consecutive = 0
            return False
        self.consecutive += 1
        if self.consecutive < target.consecutive_epochs:
            return False
        self._enter(target, epoch, checks)
        return True

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

        >>> s = LossStageScheduler({"loss_name": "Dice"}, loss_factory=lambda c: None)
        >>> s.log_dict()
        {'val/loss_stage': 1}
        """
        out = {f"{prefix}loss_stage": self.stage}
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
