"""Published weight vectors in, reproducing commands out: what ``classweights match`` parses
and prints, for Python users of :func:`classweights.provenance.match` too.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError

#: keys under which a JSON object may hold the published list
JSON_KEYS = ("weights", "class_weight", "weight")


def parse_published(text: str | None = None, file: str | Path | None = None) -> list[str]:
    """The published values as strings (their digits are the precision ``match`` fits to).

    Exactly one of ``text`` ("0.2595,0.1826,..." or any list of numbers separated by commas,
    spaces, semicolons or brackets) and ``file`` (``.txt``, ``.json`` list or
    ``{"weights": [...]}``, ``.npy``).

    Raises:
        ConfigError: neither or both given, or no numbers found.

    >>> parse_published("[0.2595, 0.1826; 4.5640]")
    ['0.2595', '0.1826', '4.5640']
    """
    if (text is None) == (file is None):
        raise ConfigError(
            'give the published vector with --weights "w0,w1,..." or --weights-file FILE'
        )
    if file is not None and str(file).endswith(".npy"):
        import numpy as np

        arr = np.load(file, allow_pickle=False).reshape(-1)
        return [np.format_float_positional(v, unique=True, trim="-") for v in arr]
    body = text if text is not None else Path(file).read_text()  # type: ignore[arg-type]
    if file is not None and str(file).endswith(".json"):
        data = json.loads(body, parse_float=str, parse_int=str)
        if isinstance(data, dict):
            data = next((data[k] for k in JSON_KEYS if k in data), None)
        if not isinstance(data, list):
            raise ConfigError(f'{file}: expected a JSON list of weights (or {{"weights": [...]}})')
        return [str(v) for v in data]
    values = [v for v in re.split(r"[\s,;\[\]()]+", body) if v]
    if not values:
        raise ConfigError("no numbers found in the published weights")
    return values


def dataset_args(
    paths: Sequence[str],
    *,
    num_classes: int | None = None,
    ignore_index: int | None = None,
    remap: str | None = None,
    classes: str | None = None,
    palette: str | None = None,
    glob: str | None = None,
    reduce_zero_label: bool = False,
    multilabel: bool = False,
    sample: str | int | float | None = None,
    seed: int = 0,
) -> str:
    """The dataset part of a reproducing ``classweights compute`` command (shell-quoted);
    pass it as ``match(..., dataset_args=...)``.

    >>> dataset_args(["gt fine/train"], num_classes=19, ignore_index=255)
    "'gt fine/train' --num-classes 19 --ignore-index 255"
    """
    args = [shlex.quote(p) for p in paths]
    valued = {
        "num_classes": num_classes,
        "ignore_index": ignore_index,
        "remap": remap,
        "classes": classes,
        "palette": palette,
        "glob": glob,
    }
    args += [
        f"--{flag.replace('_', '-')} {shlex.quote(str(value))}"
        for flag, value in valued.items()
        if value is not None
    ]
    flags = {"reduce_zero_label": reduce_zero_label, "multilabel": multilabel}
    args += [f"--{flag.replace('_', '-')}" for flag, on in flags.items() if on]
    if sample:
        args.append(f"--sample {sample} --seed {seed}")
    return " ".join(args)
