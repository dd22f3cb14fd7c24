"""The checks of :class:`~classweights.losses.subclassified.SubclassifiedLoss`'s arguments.

Pure functions of the constructor's values, run once at construction: integer settings,
the ``K`` of every class (one int, one per class, or ``{class index or name: K}``) and the
class-weight vector. Each bad value is one :class:`~classweights.errors.ConfigError` naming
the argument, what it got and what it takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..errors import ConfigError


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an ``int`` at least ``minimum`` (``bool`` and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def subclass_counts(
    spec: Any, num_classes: int, class_names: Sequence[str] | None
) -> tuple[int, ...]:
    """``K`` of each of the ``num_classes`` classes from ``num_subclasses``.

    An int is every class's ``K``; a sequence holds one per class; a mapping
    ``{class index or name: K}`` gives the listed classes theirs and the others ``K=1``.
    """
    c = num_classes
    if isinstance(spec, Mapping):
        ks = [1] * c
        for key, val in spec.items():
            ks[class_index(key, num_classes, class_names)] = positive_int(
                val, f"num_subclasses[{key!r}]"
            )
        return tuple(ks)
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        if len(spec) != c:
            raise ConfigError(
                f"num_subclasses has {len(spec)} values but num_classes={c}; pass one K "
                "per class, a single int, or a mapping {class: K}"
            )
        return tuple(positive_int(v, "num_subclasses") for v in spec)
    return (positive_int(spec, "num_subclasses"),) * c


def class_index(key: Any, num_classes: int, class_names: Sequence[str] | None) -> int:
    """The class a ``num_subclasses`` key names: an index in ``0..C-1`` or a class name."""
    if isinstance(key, str):
        if class_names is None:
            raise ConfigError(
                f"num_subclasses uses the class name {key!r} but no class_names were "
                "given; pass class_names=[...] or use class indices"
            )
        if key not in class_names:
            raise ConfigError(
                f"unknown class name {key!r} in num_subclasses; known names: "
                f"{', '.join(class_names)}"
            )
        return list(class_names).index(key)
    if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < num_classes:
        raise ConfigError(
            f"num_subclasses key {key!r} is not a class index in 0..{num_classes - 1} "
            "or a class name"
        )
    return key


def base_weight_vector(weight: Any, num_classes: int) -> torch.Tensor | None:
    """``(C,)`` float32 copy of the class weights (``None`` stays ``None``)."""
    if weight is None:
        return None
    w = torch.as_tensor(weight, dtype=torch.float32).detach().clone().reshape(-1)
    if w.numel() != num_classes or not torch.isfinite(w).all() or (w < 0).any():
        raise ConfigError(
            f"base_weight must hold {num_classes} finite, non-negative values; got "
            f"{w.numel()} values {w.tolist()[:8]}"
        )
    return w
