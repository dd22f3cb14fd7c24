"""The staged-loss config, parsed by :mod:`classweights.loss_config` (one reader for
``build_loss``, :class:`~classweights.losses.StagedLoss` and the scheduler); kept under its old
names here."""

from __future__ import annotations

from ..loss_config import Stage, load_stage_config, mixed_weights, parse_stages, same_components

_load_config = load_stage_config
_mixed_weights = mixed_weights
_parse = parse_stages
_same_components = same_components

__all__ = ["Stage"]
