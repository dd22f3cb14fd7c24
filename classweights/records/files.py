"""Reading weight files: ``.pth`` with ``torch.load(weights_only=True)`` (never unpickled),
``.npy`` (never pickled), ``.json``/``.yaml`` as bounded settings files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config_text import load_json, load_yaml, read_config_text
from ..errors import ConfigError

#: What :func:`read_weight_file` reads, by suffix (anything else is tried as a torch file).
WEIGHT_SUFFIXES = (".pth", ".pt", ".npy", ".json", ".yaml", ".yml")


def read_weight_file(path: str | Path, what: str = "weight") -> dict[str, Any]:
    """Read any export of ``classweights compute -o``: a dict with a ``"weights"`` entry.

    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.json"
    >>> _ = p.write_text(json.dumps({"method": "inverse_freq", "weights": [0.5, 2.0]}))
    >>> read_weight_file(p)["weights"]
    [0.5, 2.0]
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".json", ".yaml", ".yml"):
        return read_pth(path, what)
    if not path.is_file():
        raise ConfigError(f"{path}: no such {what} file (it does not exist)")
    if suffix == ".npy":
        import numpy as np

        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise ConfigError(f"{path}: not a readable .npy {what} file ({e})") from None
        return {"weights": arr}
    text = read_config_text(path, what)
    data = load_json(text, str(path)) if suffix == ".json" else load_yaml(text, str(path))
    if isinstance(data, list):
        return {"weights": data}
    if isinstance(data, dict) and "weights" in data:
        return data
    raise ConfigError(
        f"{path}: expected a list of weights or a mapping with a 'weights' list (as "
        "`classweights compute -o FILE.json` writes), got "
        + (f"keys {sorted(map(str, data))[:8]}" if isinstance(data, dict) else type(data).__name__)
    )


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
        if "Weights only load failed" in first:  # torch's own advice would unpickle it: not ours
            first = "it holds objects other than tensors and numbers, which are never unpickled"
        raise ConfigError(
            f"{path}: not a readable {what} file (torch.load with weights_only=True refused it: "
            f"{first[:200]}); weight files are .pth, .npy, .json or .yaml as `classweights "
            "compute -o` writes them"
        ) from None
    if not isinstance(obj, dict):
        return {"weights": obj}
    if "weights" not in obj:
        raise ConfigError(
            f"{path} holds a dict with keys {sorted(map(str, obj))} but no 'weights' entry; "
            "save a tensor or {'weights': tensor}"
        )
    return obj
