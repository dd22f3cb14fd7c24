"""The names :func:`~classweights.losses.build_loss` accepts and what each one builds.

One table maps a config name (``DiceLoss``, the short ``Dice``, ``Mixed``...) to a factory:
a callable returning an ``nn.Module``, or ``"package.module:Attribute"`` imported on first
use. :func:`register_loss` adds an entry, :func:`available_losses` lists them, and
``_resolve`` (for :mod:`classweights.losses.build`) turns a config name into its factory:
exact match first, then the same name in another case; an unknown name raises a
``ConfigError`` suggesting the closest one and listing every valid name.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable

from torch import nn

from ..errors import ConfigError
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
    """Make ``name`` buildable by :func:`~classweights.losses.build_loss`.

    Args:
        name: the config name, e.g. ``"LovaszLoss"``.
        factory: a callable returning an ``nn.Module``, or ``"package.module:Attribute"``
            imported on first use.
        overwrite: replace an existing entry instead of raising.

    >>> from classweights.losses import build_loss
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
    """The names :func:`~classweights.losses.build_loss` accepts, sorted.

    >>> "DiceLoss" in available_losses()
    True
    """
    return sorted(_REGISTRY)


def _resolve(name: str) -> tuple[str, Factory]:
    """``(registered name, factory)`` of a config name; a lazy entry is imported here."""
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
