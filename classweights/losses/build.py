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

A staged config (``loss_switch: {loss_stages: ...}`` beside ``loss_name``) builds its stage-1
loss, the top-level ``loss_name``/``loss_parameter``; the stages themselves are
:class:`classweights.schedule.LossStageScheduler`'s job.

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
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from ..errors import ConfigError
from ._weights import pos_weight_from_stats
from .ce import BCEWithLogitsLoss, CrossEntropyLoss
from .combined import BCEDiceLoss, CombinedLoss, FocalDiceLoss, MixedLoss
from .dice import DiceLoss
from .focal import FocalLoss

Factory = Callable[..., nn.Module]


_REGISTRY: dict[str, Factory | str] = {
    "CrossEntropyLoss": CrossEntropyLoss,
    "BCEWithLogitsLoss": BCEWithLogitsLoss,
    "DiceLoss": DiceLoss,
    "FocalLoss": FocalLoss,
    "CombinedLoss": CombinedLoss,
    "CEDiceLoss": CombinedLoss,
    "DiceCELoss": CombinedLoss,
    "BCEDiceLoss": BCEDiceLoss,
    "FocalDiceLoss": FocalDiceLoss,
    "DiceFocalLoss": FocalDiceLoss,
    "Mixed": MixedLoss,
    "MixedLoss": MixedLoss,
    # short aliases used in training configs
    "CE": CrossEntropyLoss,
    "BCE": BCEWithLogitsLoss,
    "Dice": DiceLoss,
    "Focal": FocalLoss,
    # written by another room; imported on first use
    "SubclassifiedLoss": "classweights.losses.subclassified:SubclassifiedLoss",
}


def register_loss(name: str, factory: Factory | str, *, overwrite: bool = False) -> None:
    """Make ``name`` buildable by :func:`build_loss`.

    Args:
        name: the config name, e.g. ``"LovaszLoss"``.
        factory: a callable returning an ``nn.Module``, or ``"package.module:Attribute"``
            imported on first use.
        overwrite: replace an existing entry instead of raising.

    >>> register_loss("SoftDice", DiceLoss)
    >>> type(build_loss({"name": "SoftDice", "smooth": 0.5})).__name__
    'DiceLoss'
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a loss name must be a non-empty string, got {name!r}")
    if isinstance(factory, str) and ":" not in factory:
        raise ConfigError(f"lazy factory {factory!r} must look like 'package.module:Attribute'")
    if not isinstance(factory, str) and not callable(factory):
        raise ConfigError(f"factory for {name!r} must be callable, got {factory!r}")
    if name in _REGISTRY and not overwrite and _REGISTRY[name] is not factory:
        raise ConfigError(f"loss {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = factory


def available_losses() -> list[str]:
    """The names :func:`build_loss` accepts, sorted.

    >>> "DiceLoss" in available_losses()
    True
    """
    return sorted(_REGISTRY)


def build_loss(
    config: Mapping[str, Any] | str | Path,
    *,
    weight: Any = None,
    stats: Any = None,
    dataset: Any = None,
    dataset_options: Mapping[str, Any] | None = None,
) -> nn.Module:
    """Build a loss module from a dict, a YAML string or a path to a YAML file.

    Args:
        config: see the module docstring for the forms.
        weight: class weights (e.g. from ``load_weights``) given to every loss that takes
            ``weight`` and has none in the config.
        dataset: the masks (folder, glob, list) whose cached class weights a
            ``use_class_weights: true`` config uses, read with
            :func:`classweights.load_weights`.
        dataset_options: keyword arguments of that ``load_weights`` call (``method``,
            ``num_classes``, ``ignore_index``, ``cache_dir``...); ``ignore_index`` defaults
            to the loss config's.
        stats: multi-label :class:`~classweights.ClassStats`; BCE losses without an explicit
            ``pos_weight`` (or with ``pos_weight: auto``) get negatives / positives from it.

    Returns:
        The ``nn.Module``.

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
    config = _load_config(config)
    if not {"name", "loss_name"} & set(config) and _LEGACY_KEYS & set(config):
        name, params, use_weights = _legacy(config)
        if use_weights and weight is None:
            record = _dataset_record(dataset, dataset_options, params)
            weight = record.tensor()
            if record.ignore_index is not None:  # the loss ignores what the weights ignored
                params.setdefault("ignore_index", record.ignore_index)
        return _build(name, params, weight=weight, stats=stats)
    name, params = _split(config, "config")
    return _build(name, params, weight=weight, stats=stats)


#: Keys of the focal + Dice training-script config and what each becomes.
_LEGACY_KEYS = frozenset(
    {"use_focal", "focal_alpha", "focal_gamma", "focal_weight", "use_class_weights"}
)


def _legacy(config: Mapping[str, Any]) -> tuple[str, dict[str, Any], bool]:
    """``(name, params, use_class_weights)`` of a ``use_focal: ...`` config.

    ``use_focal: true`` -> FocalDiceLoss (``focal_alpha`` -> ``alpha``, ``focal_gamma`` ->
    ``gamma``, ``focal_weight``, ``dice_weight``); ``false`` -> CombinedLoss (CE + Dice,
    ``ce_weight``, ``dice_weight``; the ``focal_*`` keys are then unused). Other keys are
    the loss's own arguments.
    """
    params = dict(config)
    use_focal = params.pop("use_focal", True)
    use_weights = params.pop("use_class_weights", False)
    for key, value in (("use_focal", use_focal), ("use_class_weights", use_weights)):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
    renames = {"focal_alpha": "alpha", "focal_gamma": "gamma"}
    if use_focal:
        for old, new in renames.items():
            if old in params:
                if new in params:
                    raise ConfigError(f"{old} and {new} are the same argument; give one")
                params[new] = params.pop(old)
        return "FocalDiceLoss", params, use_weights
    for key in (*renames, "focal_weight"):
        params.pop(key, None)
    return "CombinedLoss", params, use_weights


def _dataset_record(dataset: Any, options: Mapping[str, Any] | None, params: Mapping) -> Any:
    """The weight record of ``dataset`` (from the cache), for ``use_class_weights: true``."""
    if dataset is None:
        raise ConfigError(
            "use_class_weights: true needs the dataset whose class weights to use, and no "
            "dataset was given; call build_loss(config, dataset='path/to/masks', "
            "dataset_options={'num_classes': C}) or pass weight=..."
        )
    from ..pipeline import record_for  # training code reaches datasets through the pipeline

    kwargs = dict(options or {})
    ignore = params.get("ignore_index")
    if isinstance(ignore, int) and not isinstance(ignore, bool) and ignore >= 0:
        kwargs.setdefault("ignore_index", ignore)
    return record_for(dataset, **kwargs)


def _load_config(config: Any) -> dict[str, Any]:
    if isinstance(config, Path) or (
        isinstance(config, str) and "\n" not in config and config.endswith((".yaml", ".yml"))
    ):
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"loss config file {path} does not exist")
        from ..config_text import read_config_text

        config = read_config_text(path, "loss config")
    if isinstance(config, str):
        from ..config_text import load_yaml

        config = load_yaml(config, "the loss config")
        if isinstance(config, str):
            config = {"name": config}
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"a loss config must be a mapping like {{'name': 'DiceLoss', ...}}, got {config!r}"
        )
    config = dict(config)
    if set(config) == {"loss"} and isinstance(config["loss"], Mapping):
        config = dict(config["loss"])
    if "loss_switch" in config:  # a staged config: its stage 1 is the top-level loss
        switch = config.pop("loss_switch")
        if switch is not None and not isinstance(switch, Mapping):
            raise ConfigError(
                f"loss_switch must be a mapping with loss_stages (see LossStageScheduler), "
                f"got {switch!r}"
            )
    return config


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


def _resolve(name: str) -> tuple[str, Factory]:
    key = name if name in _REGISTRY else _casefold_match(name)
    if key is None:
        valid = ", ".join(available_losses())
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown loss {name!r}{hint}; valid losses: {valid}")
    factory = _REGISTRY[key]
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise ConfigError(
                f"loss {key!r} is registered as {_REGISTRY[key]!r} but cannot be loaded: {err}"
            ) from None
    return key, factory


def _casefold_match(name: str) -> str | None:
    folded = {k.casefold(): k for k in _REGISTRY}
    return folded.get(str(name).casefold())


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


def _build(name: str, params: dict[str, Any], *, weight: Any, stats: Any) -> nn.Module:
    key, factory = _resolve(name)
    if factory is MixedLoss:
        return _build_mixed(params, weight=weight, stats=stats)
    accepted = _accepted(factory)
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
            and params.get("weight") is None
            and params.get("class_weights") is None
        ):
            params["weight"] = weight
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


def _build_mixed(params: dict[str, Any], *, weight: Any, stats: Any) -> MixedLoss:
    params = dict(params)
    items = params.pop("losses", None)
    factors = params.pop("weights", None)
    shared = {k: params.pop(k) for k in ("mode", "ignore_index") if k in params}
    if params:
        raise ConfigError(
            f"Mixed got unknown argument(s) {sorted(params)}; valid arguments: "
            "losses, weights, mode, ignore_index"
        )
    if not isinstance(items, list) or not items:
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
        modules.append(_build(name, sub, weight=weight, stats=stats))
        names.append(key)
    if factors is None:
        given = [f for _, _, f in parsed]
        factors = [1.0 / len(parsed) if f is None else f for f in given]
    return MixedLoss(modules, factors, names=names)
