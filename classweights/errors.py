"""The exceptions classweights raises for bad input.

Every user-facing error is a :class:`ClassWeightsError` (a ``ValueError``) whose message
says what was expected, what was found, where, and how to fix it. The CLI prints the
message on one line and exits with code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ClassWeightsError(ValueError):
    """Base class of every error classweights raises for bad input or settings."""


class ConfigError(ClassWeightsError):
    """A setting is invalid (``num_classes``, ``ignore_index``, a remap or colour table...)."""


class RecordError(ConfigError):
    """A weight file is damaged or cannot be verified (checksum, shape, non-finite values)."""


class MaskReadError(ClassWeightsError):
    """A mask file could not be read or decoded (names the file)."""


class DatasetError(ClassWeightsError):
    """The dataset as a whole is unusable: no masks found, mixed layouts, ..."""


class UnknownLabelError(ClassWeightsError):
    """Label values outside ``0..num_classes-1`` that are not the ignore index were found."""


class OutputError(ClassWeightsError, OSError):
    """An output path cannot be written (a folder, permission, a read-only file system, binary
    data to a terminal); the CLI exits with code 2. An ``OSError`` too, for callers that
    catch those."""


class WriteError(ClassWeightsError, OSError):
    """Writing an output failed during the write (no space left, an I/O error, standard
    output closed): not the user's input, so the CLI exits with code 1."""


class DataWarning(UserWarning):
    """The numbers are exact, but the data may not be what the settings assume (palettes that
    differ across files, a preset's look-alike, 255 counted as a class...): the message names
    the fix. Raised through :func:`warn_data`."""


class DuplicateWarning(DataWarning):
    """The same mask was given more than once (a path listed twice, a folder given twice); it is
    counted once."""


class PaletteWarning(DataWarning):
    """Palette masks counted by index whose palettes differ across files on the indices used."""


class LayoutWarning(DataWarning):
    """A layout's data do not look like its dataset: its class names are withheld."""


def warn_data(message: str, category: type[Warning] = DataWarning, stacklevel: int = 2) -> None:
    """Raise a warning about the data a scan reads: the one place every such warning goes
    through (finding files, reading them, and the numbers of a finished scan), so that a caller
    can record them (e.g. with ``warnings.catch_warnings(record=True)``, or by wrapping this
    function) and raise them again where the numbers are served from elsewhere.

    ``stacklevel`` counts from the caller, as for :func:`warnings.warn`.
    """
    import warnings

    warnings.warn(message, category, stacklevel=stacklevel + 1)


class MissingDependencyError(ClassWeightsError, ImportError):
    """An optional dependency is needed; the message names the install command."""


#: Optional packages (their top-level import name) and the extra of classweights that
#: installs each.
EXTRAS = {
    "torch": "torch",
    "dask": "dask",
    "distributed": "dask",
    "fsspec": "dask",
    "matplotlib": "plot",
    "nibabel": "medical",
    "nrrd": "medical",
    "lightning": "lightning",
    "torchmetrics": "torchmetrics",
    "hydra": "hydra",
    "omegaconf": "hydra",
    "pyarrow": "hf",
}


def install_hint(extra: str) -> str:
    """The install command of an extra.

    >>> install_hint("medical")
    "pip install 'classweights[medical]'"
    """
    hint = f"pip install 'classweights[{extra}]'"
    if extra == "torch":
        hint += " (or first the CPU or CUDA build of torch your machine needs, from pytorch.org)"
    return hint


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency or raise an error naming the install command.

    >>> require("json", "none", "testing").__name__
    'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{purpose} needs the optional dependency {module!r}, which is not installed; "
            f"install it with: {install_hint(extra)}"
        ) from None


def missing_dependency(
    error: BaseException, purpose: str = "this command"
) -> MissingDependencyError | None:
    """The error naming the extra to install, for an import of a known optional package that
    failed (``None`` for any other error).

    >>> e = missing_dependency(ModuleNotFoundError("No module named 'nrrd'", name="nrrd"))
    >>> str(e).endswith("install it with: pip install 'classweights[medical]'")
    True
    """
    if not isinstance(error, ModuleNotFoundError) or isinstance(error, MissingDependencyError):
        return None
    top = (error.name or "").split(".")[0]
    if top not in EXTRAS:
        return None
    return MissingDependencyError(
        f"{purpose} needs the optional dependency {top!r}, which is not installed; "
        f"install it with: {install_hint(EXTRAS[top])}"
    )


def unknown_keywords(
    what: str, given: Iterable[str], valid: Iterable[str], expected: str | None = None
) -> ConfigError:
    """The error for keywords that are not among ``valid``, naming the closest valid one
    (``expected``: how to list the valid ones, if not one by one).

    >>> print(unknown_keywords("setting", ["ignore_idx"], ["ignore_index", "num_classes"]))
    unknown setting ignore_idx (did you mean ignore_index?); expected: ignore_index, num_classes
    """
    valid = list(valid)
    parts = []
    for name in sorted(given):
        near = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        parts.append(f"{name} (did you mean {near[0]}?)" if near else name)
    plural = "s" if len(parts) > 1 else ""
    expected = expected or ", ".join(valid)
    return ConfigError(f"unknown {what}{plural} {', '.join(parts)}; expected: {expected}")
