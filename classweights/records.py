"""The one reader of ``.pth`` weight files, shared by the cache and the losses.

A weight file is ``torch.save`` of a tensor or of a dict with a ``"weights"`` entry (the
record ``classweights compute -o w.pth`` writes, see :mod:`classweights.cache.record`). It is
read with ``torch.load(weights_only=True)``, so a file holding pickled objects is refused and
never run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigError


def read_pth(path: str | Path, what: str = "weight") -> dict[str, Any]:
    """Read a weight file: its dict, or ``{"weights": obj}`` for a file holding one object.

    Args:
        path: the ``.pth`` file.
        what: what the file holds, for the messages (``"weight"``, ``"pos_weight"``...).

    Returns:
        A dict with at least a ``"weights"`` entry (a tensor for files written by torch).

    Raises:
        ConfigError: the file does not exist, cannot be read with ``weights_only=True`` (e.g.
            it holds pickled objects), or holds a dict without ``"weights"``.

    >>> import tempfile, pathlib, torch
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.pth"
    >>> torch.save(torch.tensor([0.5, 2.0]), p)
    >>> read_pth(p)["weights"].tolist()
    [0.5, 2.0]
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such {what} file (it does not exist); pass a .pth path or the values"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt or pickled file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(
            f"{path}: not a readable {what} file (torch.load with weights_only=True refused it: "
            f"{first[:200]})"
        ) from None
    if not isinstance(obj, dict):
        return {"weights": obj}
    if "weights" not in obj:
        raise ConfigError(
            f"{path} holds a dict with keys {sorted(map(str, obj))} but no 'weights' entry; "
            "save a tensor or {'weights': tensor}"
        )
    return obj
