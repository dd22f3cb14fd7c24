"""Build any loss of this package from a config: a dict, a YAML string or a YAML file.

Accepted forms (YAML or the equivalent dict)::

    name: DiceLoss            # or loss_name:
    mode: multilabel          # arguments at the top level ...
    loss_parameter: {smooth: 0.5}   # ... or under loss_parameter / params

    loss_name: Mixed
    loss_parameter:
      mode: multilabel        # optional; passed to every component that takes a mode
      losses:
        - {name: BCEWithLogitsLoss, weight: 0.3}
        - {name: DiceLoss, weight: 0.7, params: {smooth: 1.0}}

A staged config (``loss_switch: {loss_stages: ...}`` beside ``loss_name``) builds one
:class:`~classweights.losses.StagedLoss` holding every enabled stage's loss, each built with the
same class weights; :class:`classweights.schedule.LossStageScheduler` (or the Lightning
callback) moves it from stage to stage.

Class weights: ``build_loss(config, weight=w, pos_weight=pw)`` gives them to every loss (and
every stage) that takes the argument and has none in the config; a weight file (``.pth``,
``.npy``, ``.json``, ``.yaml``) is read once. A config may name the dataset its weights come
from under the top-level key ``class_weights`` (the arguments of
:func:`classweights.load_weights`, read through the cache)::

    class_weights: {dataset: masks/train, method: sqrt_inv_freq, num_classes: 19}
    loss_name: CombinedLoss
    loss_parameter: {ignore_index: 255}

A weight file or dataset named in a YAML file is relative to that file; in a dict, a YAML
string or a composed Hydra config, to the working directory (as Hydra's
``to_absolute_path``). Any ``Mapping``/``Sequence`` is accepted (OmegaConf's
``DictConfig``/``ListConfig`` included).

The focal + Dice keys of training scripts (no ``name``) map to a loss of this package::

    loss:
      use_focal: true         # true -> FocalDiceLoss; false -> CombinedLoss (CE + Dice)
      focal_alpha: 0.25       # -> alpha
      focal_gamma: 2.0        # -> gamma
      dice_weight: 1.0        # -> dice_weight (focal_weight / ce_weight: the other term)
      use_class_weights: true # -> weight = load_weights(dataset) (build_loss(dataset=...))

In a ``Mixed`` component, ``weight`` is the mixing factor; the component's own class
weights go under its ``params``/``loss_parameter``. When a Mixed config has no ``mode``
and one component is BCE, the other components default to ``mode: multilabel`` (BCE
implies sigmoid outputs). ``ignore_index`` at the Mixed level reaches every component.

The names a config may use, and :func:`register_loss` that adds one, are
:mod:`classweights.losses.registry`'s; this module turns a config into the module.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from ..errors import ConfigError
from ..loss_config import is_staged
from ._config import (
    LEGACY_KEYS,
    class_weight_arguments,
    legacy,
    legacy_dataset_record,
    load_loss_config,
)
from ._weights import pos_weight_from_stats
from .ce import BCEWithLogitsLoss
from .combined import BCEDiceLoss, MixedLoss
from .registry import Factory, _resolve, available_losses, register_loss

# available_losses and register_loss are importable from here as before; they live in registry
__all__ = ["CONFIG_ALIASES", "available_losses", "build_loss", "register_loss", "stage_factory"]


def build_loss(
    config: Mapping[str, Any] | str | os.PathLike[str],
    *,
    weight: Any = None,
    pos_weight: Any = None,
    stats: Any = None,
    dataset: Any = None,
    dataset_options: Mapping[str, Any] | None = None,
) -> nn.Module:
    """Build a loss module from a mapping, a YAML string or a path to a YAML file.

    Args:
        config: see the module docstring for the forms; any ``Mapping`` (an OmegaConf
            ``DictConfig`` too).
        weight: class weights (a tensor, array, list, weight record or weight-file path, e.g.
            from ``load_weights``) given to every loss that takes ``weight`` and has none in
            the config; read once, so every stage of a staged config gets the same vector.
        pos_weight: BCE ``pos_weight`` (``(C,)`` or ``(C, 1, 1)``, a file, or multi-label
            statistics), given likewise to every loss that takes ``pos_weight``.
        stats: multi-label :class:`~classweights.ClassStats`; BCE losses without an explicit
            ``pos_weight`` (or with ``pos_weight: auto``) get negatives / positives from it.
        dataset: the masks (folder, glob, list) whose cached class weights a
            ``use_class_weights: true`` config uses, read with
            :func:`classweights.load_weights`.
        dataset_options: keyword arguments of that ``load_weights`` call (``method``,
            ``num_classes``, ``ignore_index``, ``cache_dir``...); ``ignore_index`` defaults
            to the loss config's.

    Returns:
        The ``nn.Module``; a :class:`~classweights.losses.StagedLoss` for a staged config.

    Raises:
        ConfigError: unknown loss name or argument (the message lists the valid ones).

    >>> cfg = '''
    ... loss_name: Mixed
    ... loss_parameter:
    ...   losses: [{name: BCEWithLogitsLoss, weight: 0.3}, {name: DiceLoss, weight: 0.7}]
    ... '''
    >>> build_loss(cfg).components
    [('BCEWithLogitsLoss', 0.3), ('DiceLoss', 0.7)]
    >>> build_loss({"name": "DiceLos"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classweights.errors.ConfigError: unknown loss 'DiceLos' (did you mean 'DiceLoss'?); ...
    """
    config = load_loss_config(config)
    factory = stage_factory(
        config,
        weight=weight,
        pos_weight=pos_weight,
        stats=stats,
        dataset=dataset,
        dataset_options=dataset_options,
    )
    if is_staged(config):
        from .staged import build_staged

        return build_staged(config, factory)
    return factory(config)


def stage_factory(
    config: dict[str, Any],
    *,
    weight: Any = None,
    pos_weight: Any = None,
    stats: Any = None,
    dataset: Any = None,
    dataset_options: Mapping[str, Any] | None = None,
) -> Callable[[Mapping[str, Any]], nn.Module]:
    """``build(one_loss_config) -> nn.Module`` carrying the class weights of ``config``.

    Reads the weights once (``weight``/``pos_weight`` files, the config's top-level
    ``class_weights: {dataset: ...}``, which it pops from ``config``) and returns the builder
    every stage of a staged config is built with, so each stage gets the same weights.
    """
    given = class_weight_arguments(config, weight=weight, pos_weight=pos_weight)

    def build(stage_config: Mapping[str, Any]) -> nn.Module:
        cfg = dict(stage_config)
        cfg.pop("loss_switch", None)
        w = given.get("weight")
        if not {"name", "loss_name"} & set(cfg) and LEGACY_KEYS & set(cfg):
            name, params, use_weights = legacy(cfg)
            if use_weights and w is None:
                record = legacy_dataset_record(dataset, dataset_options, params)
                w = record.tensor()
                if record.ignore_index is not None:  # the loss ignores what the weights ignored
                    params.setdefault("ignore_index", record.ignore_index)
        else:
            name, params = _split(cfg, "config")
        extra = {k: v for k, v in given.items() if k != "weight"}
        return _build(name, params, weight=w, stats=stats, extra=extra)

    return build


def _split(config: Mapping[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    """``(name, params)`` from either the ``name`` or the ``loss_name`` form."""
    cfg = dict(config)
    names = [cfg.pop(k) for k in ("name", "loss_name") if k in cfg]
    if len(names) != 1:
        raise ConfigError(
            f"{where} needs exactly one of 'name' or 'loss_name', got keys {sorted(cfg)}"
        )
    params: dict[str, Any] = {}
    for key in ("loss_parameter", "params"):
        nested = cfg.pop(key, None)
        if nested is None:
            continue
        if not isinstance(nested, Mapping):
            raise ConfigError(f"{where}: {key} must be a mapping, got {nested!r}")
        params.update(nested)
    clash = sorted(set(params) & set(cfg))
    if clash:
        raise ConfigError(f"{where}: {clash} given both at the top level and in loss_parameter")
    params.update(cfg)
    return str(names[0]), params


def _accepted(factory: Factory) -> set[str] | None:
    """Keyword names the factory takes, or ``None`` if it takes ``**kwargs``."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    params = sig.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


#: Arguments that already set a loss's class weights (``weight=`` is then not filled in).
_CLASS_WEIGHT_ARGS = ("weight", "class_weights", "base_weight")


#: argument names training configs use for a loss's own (config keys only: the loss
#: constructors take the PyTorch names)
CONFIG_ALIASES = {"class_weights": "weight"}


def _config_aliases(key: str, params: dict[str, Any], accepted: set[str] | None) -> dict[str, Any]:
    """``params`` with the configs' alias names (``class_weights``) turned into the loss's
    own (``weight``); both given is an error."""
    out = dict(params)
    for alias, name in CONFIG_ALIASES.items():
        if alias not in out or (accepted is not None and name not in accepted):
            continue
        if out.get(name) is not None and out[alias] is not None:
            raise ConfigError(
                f"{key} got both {name}= and {alias}=; {alias} is an alias of {name}, give one"
            )
        value = out.pop(alias)
        if out.get(name) is None:
            out[name] = value
    return out


def _build(
    name: str,
    params: dict[str, Any],
    *,
    weight: Any,
    stats: Any,
    extra: Mapping[str, Any] | None = None,
) -> nn.Module:
    key, factory = _resolve(name)
    if factory is MixedLoss:
        return _build_mixed(params, weight=weight, stats=stats, extra=extra)
    accepted = _accepted(factory)
    params = _config_aliases(key, params, accepted)
    if accepted is not None:
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise ConfigError(
                f"{key} got unknown argument(s) {unknown}; valid arguments: "
                f"{', '.join(sorted(accepted))}"
            )
        if (
            weight is not None
            and "weight" in accepted
            and all(params.get(k) is None for k in _CLASS_WEIGHT_ARGS)
        ):
            params["weight"] = weight
        for arg, value in (extra or {}).items():  # pos_weight / alpha given to the call
            if arg in accepted and params.get(arg) is None:
                params[arg] = value
        if "pos_weight" in accepted:
            _fill_pos_weight(key, params, stats)
    try:
        return factory(**params)
    except TypeError as err:  # factories with **kwargs report bad arguments this way
        raise ConfigError(f"cannot build {key} from {params}: {err}") from None


def _fill_pos_weight(key: str, params: dict[str, Any], stats: Any) -> None:
    pw = params.get("pos_weight")
    if isinstance(pw, str) and pw in ("auto", "from_stats"):
        if stats is None:
            raise ConfigError(f"{key}: pos_weight={pw!r} needs build_loss(..., stats=...)")
        params["pos_weight"] = pos_weight_from_stats(stats)
    elif pw is None and stats is not None:
        params["pos_weight"] = pos_weight_from_stats(stats)


def _build_mixed(
    params: dict[str, Any], *, weight: Any, stats: Any, extra: Mapping[str, Any] | None
) -> MixedLoss:
    params = dict(params)
    items = params.pop("losses", None)
    factors = params.pop("weights", None)
    shared = {k: params.pop(k) for k in ("mode", "ignore_index") if k in params}
    if params:
        raise ConfigError(
            f"Mixed got unknown argument(s) {sorted(params)}; valid arguments: "
            "losses, weights, mode, ignore_index"
        )
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise ConfigError(
            "Mixed needs 'losses': a non-empty list like [{name: DiceLoss, weight: 0.7}]"
        )
    parsed = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping):
            raise ConfigError(f"Mixed losses[{i}] must be a mapping, got {item!r}")
        item = dict(item)
        factor = item.pop("weight", None)
        if factor is not None and not isinstance(factor, (int, float)):
            raise ConfigError(
                f"Mixed losses[{i}].weight is the mixing factor (a number), got {factor!r}; "
                "put class weights under params: {weight: [...]}"
            )
        name, sub = _split(item, f"Mixed losses[{i}]")
        parsed.append((name, sub, factor))
    bce = (BCEWithLogitsLoss, BCEDiceLoss)
    if "mode" not in shared and any(_resolve(n)[1] in bce for n, _, _ in parsed):
        shared["mode"] = "multilabel"
    modules, names = [], []
    for name, sub, _ in parsed:
        key, factory = _resolve(name)
        accepted = _accepted(factory) or set()
        for k, v in shared.items():
            if k in accepted:
                sub.setdefault(k, v)
        modules.append(_build(name, sub, weight=weight, stats=stats, extra=extra))
        names.append(key)
    if factors is None:
        given = [f for _, _, f in parsed]
        factors = [1.0 / len(parsed) if f is None else f for f in given]
    return MixedLoss(modules, factors, names=names)
