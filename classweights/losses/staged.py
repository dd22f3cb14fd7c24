"""One loss module for a staged config: every stage's loss from construction, the stage a buffer.

A staged config (``loss_switch.loss_stages``, see :class:`classweights.schedule.
LossStageScheduler`) changes the loss while a model trains. Rebuilding the loss at a switch
loses whatever the caller gave the first one (class weights, ``pos_weight``) and changes the
keys of the model's ``state_dict``, so a checkpoint saved after the switch does not load into
a fresh model (Lightning loads the model strictly, before any callback state).
:class:`StagedLoss` holds the loss of every stage from the start, built with the same weights,
in an ``nn.ModuleList``; the current stage is a registered buffer. Its ``state_dict`` keys are
the same at every stage, and loading a checkpoint restores the stage with the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..errors import ClassWeightsError, ConfigError
from ..loss_config import Stage, mixed_weights, parse_stages, same_components


class StagedLoss(nn.Module):
    """The loss of the current stage, out of every stage's loss held from construction.

    Args:
        stage_losses: ``{stage number: loss module}`` for every stage that can be entered
            (a plain callable is held as is). One module may serve several stages (a stage
            that keeps the loss, or changes only the factors of a Mixed loss, whose
            ``set_weights`` is then called on entry).
        factors: ``{stage number: factors}`` given to the module's ``set_weights`` when the
            stage is entered (Mixed losses shared between stages).
        stage: the stage to start in (default: the lowest number).
        stages: the parsed stages of the config it was built from (read by the scheduler).

    Attributes:
        stage: 0-d ``int64`` buffer, the current stage number (saved in ``state_dict``).
        losses: the distinct modules, an ``nn.ModuleList`` (keys ``losses.0.*``, ...).

    Calling it calls the current stage's module; switching (:meth:`set_stage`) is a host-side
    choice, so a training step never asks the GPU which stage it is in.

    >>> from classweights.losses import CrossEntropyLoss, FocalLoss
    >>> loss = StagedLoss({1: CrossEntropyLoss(weight=[1.0, 3.0]), 2: FocalLoss(weight=[1.0, 3.0])})
    >>> sorted(loss.state_dict())
    ['losses.0.weight', 'losses.1.weight', 'stage']
    >>> loss.set_stage(2)
    >>> type(loss.current).__name__, int(loss.stage)
    ('FocalLoss', 2)
    """

    def __init__(
        self,
        stage_losses: Mapping[int, Any],
        factors: Mapping[int, Sequence[float]] | None = None,
        *,
        stage: int | None = None,
        stages: Sequence[Stage] | None = None,
    ) -> None:
        super().__init__()
        if not stage_losses:
            raise ConfigError("StagedLoss needs at least one stage: {1: loss_module, ...}")
        modules: list[nn.Module] = []
        self._slot: dict[int, int] = {}
        for number in sorted(stage_losses):
            module = stage_losses[number]
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise ConfigError(f"stage numbers are ints >= 1; got {number!r}")
            at = next((i for i, m in enumerate(modules) if _held(m) is module), None)
            if at is None:
                modules.append(module if isinstance(module, nn.Module) else _Held(module))
                at = len(modules) - 1
            self._slot[number] = at
        self.losses = nn.ModuleList(modules)
        self._factors = {int(k): [float(w) for w in v] for k, v in (factors or {}).items()}
        self.stages = list(stages) if stages is not None else None
        first = min(self._slot) if stage is None else stage
        self.register_buffer("stage", torch.tensor(first, dtype=torch.long))
        self._stage = first
        self.set_stage(first)

    @property
    def numbers(self) -> list[int]:
        """The stage numbers this loss can be in, ascending."""
        return sorted(self._slot)

    @property
    def current_stage(self) -> int:
        """The current stage number (a Python int: reading it never syncs a GPU)."""
        return self._stage

    @property
    def current(self) -> Any:
        """The loss module of the current stage."""
        return _held(self.losses[self._slot[self._stage]])

    def module_of(self, number: int) -> Any:
        """The loss module of stage ``number``."""
        self._check(number)
        return _held(self.losses[self._slot[number]])

    def _check(self, number: int) -> None:
        if number not in self._slot:
            raise ConfigError(
                f"stage {number} is not a stage of this loss (stages: "
                f"{', '.join(map(str, self.numbers))})"
            )

    def set_stage(self, number: int) -> None:
        """Enter stage ``number``: its module answers the next calls, its factors are set.

        A module first used at this switch is moved to the device of the previous stage's
        module and takes its train/eval mode (it lives in the same ``ModuleList``, so it
        follows ``.to()`` anyway; this covers a caller that moved only the current module).
        """
        number = int(number)
        self._check(number)
        old = self.losses[self._slot[self._stage]]
        self._stage = number
        self.stage.fill_(number)
        new = self.losses[self._slot[number]]
        if new is not old:
            tensors = [*old.parameters(), *old.buffers()]
            if tensors:
                new.to(tensors[0].device)
            new.train(old.training)
        factors = self._factors.get(number)
        if factors is not None and hasattr(_held(new), "set_weights"):
            _held(new).set_weights(factors)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.losses[self._slot[self._stage]](*args, **kwargs)

    def _load_from_state_dict(  # type: ignore[no-untyped-def]
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        key = prefix + "stage"
        if key in state_dict:
            number = int(state_dict[key])
            if number in self._slot:
                self.set_stage(number)
            else:
                error_msgs.append(
                    f"{key}: the checkpoint is at stage {number}, which this staged loss does "
                    f"not have (stages: {', '.join(map(str, self.numbers))}); load it with the "
                    "config it was trained with"
                )

    def extra_repr(self) -> str:
        return f"stage={self._stage}, stages={self.numbers}"


class _Held(nn.Module):
    """A stage loss that is not an ``nn.Module`` (a plain callable from a ``loss_factory``)."""

    def __init__(self, loss: Any) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.loss(*args, **kwargs)


def _held(module: nn.Module) -> Any:
    return module.loss if isinstance(module, _Held) else module


Factory = Callable[[Mapping[str, Any]], Any]


def build_staged(config: Mapping[str, Any], factory: Factory, first: Any = None) -> StagedLoss:
    """The :class:`StagedLoss` of a (plain) staged config, every enabled stage built now.

    Args:
        config: the staged config (``loss_name``/``loss_parameter`` + ``loss_switch``).
        factory: builds one stage's loss from ``{"loss_name", "loss_parameter"}``; it carries
            the class weights, so every stage gets the same ones.
        first: an already built stage-1 module (used instead of building stage 1).

    A stage without a ``loss`` keeps the loss it is entered from; a stage whose Mixed loss
    differs from that one only in its factors shares the module (``set_weights`` on entry,
    its buffers and running statistics kept); any other stage gets its own module.
    """
    stages = parse_stages(config, None)
    losses: dict[int, Any] = {}
    factors: dict[int, list[float]] = {}
    current: tuple[Any, dict[str, Any]] | None = None
    for stage in stages:
        if not stage.enabled:
            continue
        cfg = stage.loss_config
        if current is None:  # stage 1
            module = first if first is not None else _build(factory, stage)
            current = (module, cfg or {})
        elif cfg is not None and cfg != current[1]:
            built = _build(factory, stage)  # every stage is built now: a bad one fails now
            if hasattr(current[0], "set_weights") and same_components(current[1], cfg):
                current = (current[0], cfg)  # same parts, new factors: share the module
            else:
                current = (built, cfg)
        losses[stage.number] = current[0]
        weights = mixed_weights(current[1], "")
        if weights is not None:
            factors[stage.number] = weights
    return StagedLoss(losses, factors, stages=stages)


def _build(factory: Factory, stage: Stage) -> Any:
    where = f"{stage.path}.loss" if stage.number > 1 else "loss_name/loss_parameter"
    try:
        return factory(dict(stage.loss_config or {}))
    except (ClassWeightsError, TypeError, KeyError) as exc:
        raise ConfigError(f"{where}: cannot build this loss: {exc}") from None
