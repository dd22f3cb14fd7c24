"""Parameter constraints: one table per request object, checked on every construction.

scikit-learn's ``_parameter_constraints`` / ``validate_parameter_constraints`` is the model:
each object lists, per parameter, the constraints a value may satisfy (any one suffices), and
one function checks them all and raises one :class:`~classweights.errors.ConfigError` that
names the parameter, quotes the value and lists what is accepted::

    >>> table = {"workers": [Interval(int, 1, None), None]}
    >>> validate("scan", table, {"workers": 4})
    >>> validate("scan", table, {"workers": 0})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classweights.errors.ConfigError: workers=0 is not valid: expected an int >= 1 or None

:data:`UNSET` means "not given": a layout (or a method's default) fills only what the caller
left unset, so an explicit value equal to a default still wins (``reduce_zero_label=False``
over the ade20k preset). Errors speak Python (``ignore_index=``); the CLI translates the
parameter names into its flags once, at its error boundary (``ConfigError.param``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from .errors import ConfigError


class _Unset:
    """The "not given" marker (a singleton; falsy; its repr is ``UNSET``)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"  # pickles (Dask, multiprocessing) as the module-level singleton


#: A parameter the caller did not give.
UNSET: Any = _Unset()


def given(value: Any) -> bool:
    """True unless ``value`` is :data:`UNSET`.

    >>> given(None), given(UNSET)
    (True, False)
    """
    return value is not UNSET


def is_int(value: Any) -> bool:
    """A whole number that is not a bool (``True`` would pass as 1 silently).

    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
    (True, True, False, False)
    """
    return isinstance(value, (int, Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def is_real(value: Any) -> bool:
    """A finite or infinite real number that is not a bool."""
    return isinstance(value, (Real, np.floating, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


@dataclass(frozen=True)
class Interval:
    """A number of ``kind`` (``int`` or ``float``: any real) between ``left`` and ``right``
    (None: unbounded), ``closed`` at ``"both"``, ``"left"``, ``"right"`` or ``"neither"``."""

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        if not (is_int(value) if self.kind is int else is_real(value)):
            return False
        if self.kind is not int and not math.isfinite(float(value)):
            return False
        lo_ok = (
            self.left is None
            or value > self.left
            or (value == self.left and self.closed in ("both", "left"))
        )
        hi_ok = (
            self.right is None
            or value < self.right
            or (value == self.right and self.closed in ("both", "right"))
        )
        return bool(lo_ok and hi_ok)

    def __str__(self) -> str:
        what = "an int" if self.kind is int else "a number"
        lo, hi = self.left, self.right
        if self.kind is int and (lo, hi) == (-(1 << 63), (1 << 63) - 1):
            return "a 64-bit int"
        if lo is not None and hi is not None:
            left = "[" if self.closed in ("both", "left") else "("
            right = "]" if self.closed in ("both", "right") else ")"
            return f"{what} in {left}{_num(lo)}, {_num(hi)}{right}"
        if lo is not None:
            return f"{what} {'>=' if self.closed in ('both', 'left') else '>'} {_num(lo)}"
        if hi is not None:
            return f"{what} {'<=' if self.closed in ('both', 'right') else '<'} {_num(hi)}"
        return what


def _num(x: float) -> str:
    if is_int(x) and abs(int(x)) >= 1 << 20:
        exp = int(x).bit_length() - 1
        sign = "-" if x < 0 else ""
        if abs(int(x)) == 1 << exp:
            return f"{sign}2**{exp}"
        if abs(int(x)) == (1 << (exp + 1)) - 1:
            return f"{sign}2**{exp + 1} - 1"
        return f"{int(x):,}"
    return f"{int(x):,}" if is_int(x) else repr(x)


@dataclass(frozen=True)
class Options:
    """One of a tuple of allowed values (compared with ``==``; types must match)."""

    values: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values) or any(
            isinstance(value, str) and value == v for v in self.values if isinstance(v, str)
        )

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Instance:
    """An instance of ``types``, described as ``text`` in messages."""

    types: type | tuple[type, ...]
    text: str

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types) and not (
            isinstance(value, (bool, np.bool_)) and bool not in _as_tuple(self.types)
        )

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Check:
    """A value for which ``test(value)`` is true, described as ``text``."""

    test: Callable[[Any], bool]
    text: str

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except Exception:
            return False

    def __str__(self) -> str:
        return self.text


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


BOOL = Instance((bool, np.bool_), "True or False")
TEXT = Instance(str, "a string")
PATH = Instance((str, os.PathLike), "a path")
MAPPING = Instance(Mapping, "a mapping")
NAMES = Check(
    lambda v: (
        isinstance(v, Sequence)
        and not isinstance(v, (str, bytes))
        and all(isinstance(x, str) for x in v)
    ),
    "a list of names",
)

Constraint = Interval | Options | Instance | Check | None


def accepts(constraint: Constraint, value: Any) -> bool:
    """True if ``value`` satisfies ``constraint`` (``None``: the value ``None``)."""
    if constraint is None:
        return value is None
    return constraint.accepts(value)


def describe(constraints: Iterable[Constraint]) -> str:
    """``"an int >= 1 or None"``: the constraints as one phrase."""
    parts = ["None" if c is None else str(c) for c in constraints]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def check(name: str, value: Any, constraints: Sequence[Constraint]) -> None:
    """Raise a :class:`ConfigError` naming ``name`` unless ``value`` satisfies one constraint.

    >>> check("seed", -1, [Interval(int, 0, None)])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classweights.errors.ConfigError: seed=-1 is not valid: expected an int >= 0
    """
    if any(accepts(c, value) for c in constraints):
        return
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    error = ConfigError(f"{name}={shown} is not valid: expected {describe(constraints)}")
    error.param = name  # type: ignore[attr-defined]
    raise error


def validate(
    owner: str, table: Mapping[str, Sequence[Constraint]], values: Mapping[str, Any]
) -> None:
    """Check every given value of ``values`` against its row of ``table`` (UNSET passes).

    ``owner`` names the object in the rare message about a parameter without a row.
    """
    for name, value in values.items():
        if value is UNSET:
            continue
        if name not in table:
            raise ConfigError(f"{owner} has no parameter {name!r}")
        check(name, value, table[name])


__all__ = [
    "BOOL",
    "MAPPING",
    "NAMES",
    "PATH",
    "TEXT",
    "UNSET",
    "Check",
    "Constraint",
    "Instance",
    "Interval",
    "Options",
    "accepts",
    "check",
    "describe",
    "given",
    "is_int",
    "is_real",
    "validate",
]
