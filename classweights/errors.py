"""The exceptions classweights raises for bad input.

Every user-facing error is a :class:`ClassWeightsError` (a ``ValueError``) whose message
says what was expected, what was found, where, and how to fix it. The CLI prints the
message on one line and exits with code 2.
"""

from __future__ import annotations


class ClassWeightsError(ValueError):
    """Base class of every error classweights raises for bad input or settings."""


class ConfigError(ClassWeightsError):
    """A setting is invalid (``num_classes``, ``ignore_index``, a remap or colour table...)."""


class MaskReadError(ClassWeightsError):
    """A mask file could not be read or decoded (names the file)."""


class DatasetError(ClassWeightsError):
    """The dataset as a whole is unusable: no masks found, mixed layouts, ..."""


class UnknownLabelError(ClassWeightsError):
    """Label values outside ``0..num_classes-1`` that are not the ignore index were found."""


class DuplicateWarning(UserWarning):
    """The same mask was given more than once (a path listed twice, a folder given twice); it is
    counted once."""


class MissingDependencyError(ClassWeightsError, ImportError):
    """An optional dependency is needed; the message names the install command."""


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency or raise an error naming the install command.

    >>> require("json", "none", "testing").__name__
    'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        pip = "torch==2.13.0" if extra == "torch" else f"'classweights[{extra}]'"
        raise MissingDependencyError(
            f"{purpose} needs the optional dependency {module!r}, which is not installed; "
            f"install it with: pip install {pip}"
        ) from None
