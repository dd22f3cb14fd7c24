"""Turning user input into class-weight tensors, and the mixin that stores them.

Every loss takes its class weights (``weight``, ``pos_weight``, ``alpha``) through
:func:`as_weight_tensor`, so a tensor, an array, a list, a saved ``.pth`` file or the output
of :func:`classweights.load_weights` all work the same way, and a bad vector fails with one
clear :class:`~classweights.errors.ConfigError`.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from .constants import ARGUMENT_OF_METHOD, MODES, REDUCTIONS

if TYPE_CHECKING:
    from ..stats import ClassStats


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is one of :data:`MODES`, else raise a :class:`ConfigError`.

    >>> check_mode("multilabel")
    'multilabel'
    """
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r} is not a loss mode; use one of {', '.join(MODES)}")
    return mode


def check_reduction(reduction: str) -> str:
    """Return ``reduction`` if it is one of :data:`REDUCTIONS`, else raise a :class:`ConfigError`.

    >>> check_reduction("sum")
    'sum'
    """
    if reduction not in REDUCTIONS:
        raise ConfigError(
            f"reduction={reduction!r} is not supported; use one of {', '.join(REDUCTIONS)}"
        )
    return reduction


def as_weight_tensor(
    weight: Any,
    expected_len: int | None = None,
    *,
    name: str = "weight",
    allow_scalar: bool = False,
) -> torch.Tensor | None:
    """Convert a class-weight vector given in any supported form to a float tensor.

    Args:
        weight: ``None``, a 1-D tensor, a NumPy array, a list/tuple of numbers, a weight
            record (a mapping with ``"weights"``), or a path to a weight file as
            ``classweights compute -o`` writes it: ``.pth`` (a tensor or a dict with a
            ``"weights"`` tensor, read with ``torch.load(path, weights_only=True)``), ``.npy``,
            ``.json`` or ``.yaml``. With ``allow_scalar``, a plain number. A ``(C, 1, 1)``
            vector (``load_weights(spatial_dims=2)``, for ``nn.BCEWithLogitsLoss``) is read as
            ``(C,)``: every loss here applies per-class vectors to the channel axis.
        expected_len: the number of classes ``C`` the vector must have, or ``None`` to accept
            any length.
        name: the argument name used in error messages.
        allow_scalar: accept a Python number and return a 0-d tensor.

    Returns:
        ``None`` if ``weight`` is ``None``, else a ``(C,)`` float32 tensor (``float64`` input
        stays ``float64``) on the CPU, or the device of an input tensor.

    Raises:
        ConfigError: the vector is not 1-D, has the wrong length, holds a negative or
            non-finite value, is all zero, or the file cannot be read.

    >>> as_weight_tensor([1, 2.5, 0.5], 3)
    tensor([1.0000, 2.5000, 0.5000])
    >>> as_weight_tensor([1.0, 2.0], 3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classweights.errors.ConfigError: weight has 2 values but the loss has 3 classes; ...
    """
    if weight is None:
        return None
    source = ""
    if isinstance(weight, (str, Path)):
        source = f" (read from {weight})"
        weight = _load_pth(Path(weight), name)
    elif isinstance(weight, Mapping) and "weights" in weight:  # a weight record, as loaded
        weight = weight["weights"]
    if isinstance(weight, (bool, str)):
        raise ConfigError(f"{name} must be a sequence of numbers, got {weight!r}")
    if isinstance(weight, (int, float)) and not allow_scalar:
        raise ConfigError(
            f"{name}={weight!r} is a single number; pass one weight per class, e.g. [1.0, 2.0, ...]"
        )
    try:
        if isinstance(weight, torch.Tensor):
            t = weight.detach()
            t = t.to(torch.float64 if t.dtype == torch.float64 else torch.float32)
        else:  # lists, arrays and numbers become float32, as torch's own loss weights
            t = torch.as_tensor(np.asarray(weight, dtype=np.float64)).to(torch.float32)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name} must be numbers, got {weight!r}: {err}") from None
    if t.ndim == 0 and allow_scalar:
        return _check_values(t.clone(), name, source)
    if t.ndim > 1 and all(n == 1 for n in t.shape[1:]):  # (C, 1, 1): load_weights(spatial_dims=2)
        t = t.reshape(-1)
    if t.ndim != 1:
        raise ConfigError(
            f"{name} must be a 1-D vector of per-class weights, got shape {tuple(t.shape)}{source}"
        )
    if expected_len is not None and t.numel() != expected_len:
        raise ConfigError(
            f"{name} has {t.numel()} values{source} but the loss has {expected_len} classes; "
            f"pass one weight per class (C={expected_len})"
        )
    return _check_values(t.clone(), name, source)


def _check_values(t: torch.Tensor, name: str, source: str) -> torch.Tensor:
    if not bool(torch.isfinite(t).all()):
        raise ConfigError(f"{name} holds non-finite values {t.tolist()}{source}")
    if bool((t < 0).any()):
        raise ConfigError(f"{name} must be >= 0, got {t.tolist()}{source}")
    if t.numel() and not bool((t > 0).any()):
        raise ConfigError(f"{name} is all zero{source}; at least one class needs a weight > 0")
    return t


def _load_pth(path: Path, name: str) -> Any:
    """The weights of a weight file, through the one reader (a record's checksum verified)."""
    from ..records import WeightRecord

    return WeightRecord.load(path, name).weights


def pos_weight_from_stats(stats: ClassStats, *, max_value: float | None = None) -> torch.Tensor:
    """``pos_weight`` for multi-label BCE: :func:`classweights.weights.pos_weight` as a tensor.

    Negatives over positives of each channel; a channel with no positives or no negatives
    gets ``1.0`` (no re-weighting), with a ``ClassWeightsWarning``. ``max_value`` clips very
    rare channels. There is one implementation (``weights/multilabel.py``); this wrapper
    only checks that the statistics are multi-label and returns float32.

    Args:
        stats: multi-label :class:`~classweights.ClassStats` (``stats.multilabel`` is True).
        max_value: optional upper bound of each entry.

    Returns:
        ``(C,)`` float32 tensor.

    >>> import warnings
    >>> from classweights import ClassStats
    >>> s = ClassStats.from_counts([[10, 2, 0]], image_total=[20], multilabel=True)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     pos_weight_from_stats(s)
    tensor([1., 9., 1.])
    """
    from ..weights.multilabel import pos_weight

    if not getattr(stats, "multilabel", False):
        raise ConfigError(
            "pos_weight needs multi-label statistics (scan with multilabel=True / --multilabel); "
            "these statistics count one class per pixel"
        )
    ratio = pos_weight(stats, max_value=max_value)
    return torch.as_tensor(ratio, dtype=torch.float32)


def resolve_class_weights(weight: Any, class_weights: Any, owner: str = "loss") -> Any:
    """``weight`` or its deprecated alias ``class_weights``: a loss constructor takes PyTorch's
    name; the alias stays for a release (a ``DeprecationWarning``) and for good in
    :func:`classweights.losses.build_loss` configs, where training scripts use it.

    Raises:
        ConfigError: both are given.

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     resolve_class_weights(None, [1.0, 2.0])
    [1.0, 2.0]
    >>> resolve_class_weights([1.0], [2.0], "DiceLoss")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classweights.errors.ConfigError: DiceLoss got both weight= and class_weights=; ...
    """
    if class_weights is None:
        return weight
    warnings.warn(
        f"{owner}(class_weights=...) is deprecated; pass weight=... (PyTorch's name); "
        "build_loss configs keep accepting class_weights",
        DeprecationWarning,
        stacklevel=3,
    )
    if weight is not None:
        raise ConfigError(
            f"{owner} got both weight= and class_weights=; class_weights is an alias of "
            "weight, pass only one of them"
        )
    return class_weights


def check_weight_len(
    weight: torch.Tensor | None,
    num_classes: int,
    *,
    name: str = "weight",
    include_background: bool = True,
) -> torch.Tensor | None:
    """Check a stored weight against the ``C`` of the logits; expand a ``C-1`` vector.

    With ``include_background=False`` a vector of ``C-1`` values (one per foreground class)
    is accepted and gets a leading 0 for the dropped background class.

    >>> check_weight_len(torch.tensor([2.0, 3.0]), 3, include_background=False)
    tensor([0., 2., 3.])
    """
    if weight is None:
        return None
    n = weight.numel()
    if n == num_classes:
        return weight
    if not include_background and n == num_classes - 1:
        return torch.cat([weight.new_zeros(1), weight])
    extra = "" if include_background else f" or {num_classes - 1} (without background)"
    raise ConfigError(
        f"{name} has {n} values but the logits have C={num_classes} channels; "
        f"pass {num_classes}{extra} values"
    )


class WeightedLossMixin(nn.Module):
    """Base of the losses: weights as buffers, and :meth:`from_cache`."""

    def _set_weight_buffer(self, name: str, value: Any, *, allow_scalar: bool = False) -> None:
        tensor = as_weight_tensor(value, None, name=name, allow_scalar=allow_scalar)
        self.register_buffer(name, tensor)

    @classmethod
    def from_cache(
        cls,
        path: str | Path | Sequence[str | Path],
        method: str = "sqrt_inv_freq",
        *,
        loss_kwargs: dict[str, Any] | None = None,
        **scan_kwargs: Any,
    ) -> Any:
        """Build the loss with class weights from :func:`classweights.load_weights`.

        The weights are computed once (scan + formula) and cached on disk; later calls read
        the cache. The loss ignores what the scan ignored: ``ignore_index`` is the weight
        record's (given, or set by a layout) unless ``loss_kwargs`` gives one.

        Args:
            path: the masks (folder, glob, list) passed to ``load_weights``.
            method: the weight method, e.g. ``"sqrt_inv_freq"``.
            loss_kwargs: other arguments of the loss (``mode``, ``smooth``...).
            **scan_kwargs: passed to ``load_weights`` (``num_classes``, ``ignore_index``...).

        Returns:
            The loss module with ``weight`` set.

        Example (needs a mask folder, so not run here)::

            loss_fn = DiceLoss.from_cache("examples/masks", method="sqrt_inv_freq",
                                          num_classes=19, ignore_index=255)
        """
        from ..pipeline import record_for  # training code reaches datasets through the pipeline

        return cls.from_record(record_for(path, method, **scan_kwargs), **(loss_kwargs or {}))

    @classmethod
    def from_record(cls, record: Any, **loss_kwargs: Any) -> Any:
        """Build the loss from a weight record (a :class:`~classweights.records.WeightRecord`
        or any weight file :meth:`WeightRecord.load` reads, checksum verified).

        The loss ignores what the counts ignored: ``ignore_index`` is the record's unless
        given in ``loss_kwargs``. A ``pos_weight`` record becomes the loss's ``pos_weight``, a
        ``focal_alpha`` record its ``alpha``, any other its class ``weight``.

        Example (needs a weight file, so not run here)::

            loss_fn = CrossEntropyLoss.from_record("weights.pth")
        """
        from ..records import WeightRecord

        if not isinstance(record, WeightRecord):
            record = WeightRecord.load(record)
        kwargs = dict(loss_kwargs)
        accepted = inspect.signature(cls).parameters
        if record.ignore_index is not None and "ignore_index" in accepted:
            kwargs.setdefault("ignore_index", record.ignore_index)
        name = ARGUMENT_OF_METHOD.get(record.method, "weight")
        if name not in accepted:
            raise ConfigError(f"{cls.__name__} takes no {name}= (a {record.method} record)")
        kwargs[name] = record.tensor()
        return cls(**kwargs)


def finite_float(value: Any, name: str) -> float:
    """Return ``value`` as a float, raising :class:`ConfigError` if it is not finite.

    >>> finite_float(2, "gamma")
    2.0
    """
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return out
