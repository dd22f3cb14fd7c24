"""Reading loss and staged-loss configs: any mapping (a dict, an OmegaConf ``DictConfig``), a
YAML string or a YAML file, turned into plain dicts and lists, with weight files resolved.

Pure Python (no torch): :mod:`classweights.losses` builds from what this module reads, and
:mod:`classweights.schedule` reads the stages' conditions.

**Any Mapping / Sequence.** Hydra composes configs as ``DictConfig``/``ListConfig``, which are
``Mapping``/``Sequence`` but not ``dict``/``list``; :func:`plain` copies any of them into
plain containers first (interpolations resolved), so no reader below checks ``isinstance(...,
list)`` on a user's object.

**Weight files named in a config** (``weight: w.pth``, ``pos_weight: pw.npy``,
``class_weights: w.json``, ``alpha``, ``base_weight``; anywhere in the config, stages included)
and the ``dataset`` of the top-level ``class_weights: {dataset: PATH, ...}`` mapping resolve
relative to the YAML file that names them; in a config with no file (a dict, a YAML string, a
composed Hydra config) relative to the working directory, as Hydra's ``to_absolute_path`` does
(the original working directory when a Hydra job has changed into its run folder).

>>> plain({"losses": ({"name": "Dice", "weight": 0.7},)})
{'losses': [{'name': 'Dice', 'weight': 0.7}]}
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_text import MAX_CONFIG_DEPTH, load_yaml, read_config_text
from .errors import ConfigError

#: Keys whose string value names a weight file (in any loss config, at any depth).
WEIGHT_FILE_KEYS = ("weight", "class_weights", "pos_weight", "alpha", "base_weight")
#: Suffixes of the weight files a loss reads (``as_weight_tensor``).
WEIGHT_FILE_SUFFIXES = (".pth", ".pt", ".npy", ".json", ".yaml", ".yml")
#: The top-level key naming the dataset the class weights come from (``load_weights`` args).
DATASET_KEY = "class_weights"

_STAGE_KEYS = ("enabled", "lr_multiplier", "conditions", "loss")
_CONDITION_KEYS = ("global_dice_threshold", "class_dice_thresholds", "consecutive_epochs")
_STAGES_PATH = "loss_switch.loss_stages"


def plain(value: Any, _depth: int = 0) -> Any:
    """``value`` with every Mapping copied to a ``dict`` and every Sequence (not text) to a
    ``list``, recursively: a ``DictConfig``/``ListConfig`` reads as the dict/list it shows."""
    if _depth > MAX_CONFIG_DEPTH:
        raise ConfigError(
            f"the config is nested more than {MAX_CONFIG_DEPTH} levels deep (or refers to "
            "itself); a loss config is a shallow mapping"
        )
    if isinstance(value, Mapping):
        return {k: plain(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return [plain(v, _depth + 1) for v in value]
    return value


def is_config_path(config: Any) -> bool:
    """Whether ``config`` names a YAML file (a path, or a one-line string ending in .yaml/.yml).

    >>> is_config_path("staged.yaml"), is_config_path("loss_name: Dice"), is_config_path({})
    (True, False, False)
    """
    return isinstance(config, os.PathLike) or (
        isinstance(config, str) and "\n" not in config and config.endswith((".yaml", ".yml"))
    )


def read_config(config: Any, what: str = "loss config") -> tuple[Any, Path | None]:
    """``(plain content, folder of its file or None)`` of a mapping, YAML string or YAML file.

    Weight-file paths and ``class_weights.dataset`` are made absolute (see the module
    docstring). The content is not checked to be a mapping: the caller says what it expects.
    """
    base: Path | None = None
    if is_config_path(config):
        path = Path(config)
        if not path.is_file():
            raise ConfigError(
                f"{what} file {str(path)!r} not found: it does not exist (a path is relative "
                "to the working directory)"
            )
        content = load_yaml(read_config_text(path, what), str(path))
        base = path.resolve().parent
    elif isinstance(config, str):
        content = load_yaml(config, f"the {what}")
    elif isinstance(config, Mapping):
        content = plain(config)
    else:
        raise ConfigError(
            f"a {what} must be a mapping (dict, DictConfig), a YAML string or a YAML file path; "
            f"got {type(config).__name__}"
        )
    return resolve_paths(plain(content), base), base


def absolute(path: str, base: Path | None) -> str:
    """``path`` made absolute against ``base`` (a config file's folder) or, with no file, the
    working directory as Hydra's ``to_absolute_path`` sees it; URLs pass through.

    >>> absolute("w.pth", Path("/runs/cfg")), absolute("s3://b/w.pth", None)
    ('/runs/cfg/w.pth', 's3://b/w.pth')
    """
    if "://" in path or os.path.isabs(os.path.expanduser(path)):
        return os.path.expanduser(path)
    if base is not None:
        return str(base / path)
    if "hydra" in sys.modules:  # a Hydra job may run in its own folder: the original cwd
        try:
            from hydra.utils import to_absolute_path

            return str(to_absolute_path(path))
        except Exception:  # pragma: no cover - an unusual Hydra state: fall back to os
            pass
    return os.path.abspath(path)


def resolve_paths(config: Any, base: Path | None) -> Any:
    """Weight-file values (``weight: w.pth``...) and ``class_weights.dataset`` made absolute."""
    if isinstance(config, dict):
        out = {}
        for key, value in config.items():
            if (
                key in WEIGHT_FILE_KEYS
                and isinstance(value, str)
                and value.lower().endswith(WEIGHT_FILE_SUFFIXES)
            ):
                value = absolute(value, base)
            out[key] = resolve_paths(value, base)
        spec = out.get(DATASET_KEY)
        if isinstance(spec, dict) and "dataset" in spec:
            data = spec["dataset"]
            if isinstance(data, str):
                spec["dataset"] = absolute(data, base)
            elif isinstance(data, list) and all(isinstance(d, str) for d in data):
                spec["dataset"] = [absolute(d, base) for d in data]
        return out
    if isinstance(config, list):
        return [resolve_paths(v, base) for v in config]
    return config


def dataset_spec(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The top-level ``class_weights: {dataset: PATH, ...}`` mapping of a config, or ``None``
    (a list or a file there is the loss argument ``class_weights``, an alias of ``weight``).

    >>> dataset_spec({"name": "Dice", "class_weights": {"dataset": "m", "num_classes": 3}})
    {'dataset': 'm', 'num_classes': 3}
    >>> dataset_spec({"name": "Dice", "class_weights": [1.0, 2.0]}) is None
    True
    """
    spec = config.get(DATASET_KEY)
    if not isinstance(spec, Mapping):
        return None
    if "dataset" not in spec:
        raise ConfigError(
            f"{DATASET_KEY}: a mapping here names the dataset the class weights come from "
            f"and needs 'dataset' (e.g. {{dataset: masks/train, method: sqrt_inv_freq, "
            f"num_classes: 19}}); got keys {sorted(spec)}"
        )
    return dict(spec)


# ---------------------------------------------------------------------- staged configs
@dataclass(frozen=True)
class Stage:
    """One parsed stage. Stage 1 is the base loss and has no conditions."""

    number: int
    path: str
    loss_config: dict[str, Any] | None
    enabled: bool = True
    lr_multiplier: float = 1.0
    global_dice_threshold: float | None = None
    class_dice_thresholds: dict[str, float] = field(default_factory=dict)
    consecutive_epochs: int = 1


def is_staged(config: Mapping[str, Any]) -> bool:
    """Whether a (plain) config has loss stages (``loss_switch``).

    >>> is_staged({"loss_name": "Dice", "loss_switch": {"loss_stages": {}}})
    True
    """
    return config.get("loss_switch") is not None


def load_stage_config(config: Any) -> dict[str, Any]:
    """A staged config as a plain dict (any mapping, a YAML string or a YAML file)."""
    content, _ = read_config(config, "loss config")
    if not isinstance(content, dict):
        where = str(config) if is_config_path(config) else "the YAML string"
        raise ConfigError(f"{where} must hold a mapping with loss_name; got {content!r}")
    return copy.deepcopy(content)


def _number(value: Any, path: str, what: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ConfigError(f"{path}: {what} must be a number in [{lo}, {hi}]; got {value!r}")
    return float(value)


def _check_keys(section: Any, allowed: Sequence[str], path: str) -> Mapping[str, Any]:
    if not isinstance(section, Mapping):
        raise ConfigError(f"{path}: expected a mapping; got {section!r}")
    for key in section:
        if key not in allowed:
            near = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"{path}.{key}: unknown key{hint}; allowed: {', '.join(allowed)}")
    return section


def mixed_weights(loss_config: Mapping[str, Any], path: str) -> list[float] | None:
    """Validate the component weights of a Mixed loss config; ``None`` for other losses.

    >>> mixed_weights({"loss_name": "Mixed", "loss_parameter": {"losses": [
    ...     {"name": "BCE", "weight": 0.3}, {"name": "Dice", "weight": 0.7}]}}, "")
    [0.3, 0.7]
    """
    if str(loss_config.get("loss_name", "")).lower() not in ("mixed", "mixedloss"):
        return None
    params = loss_config.get("loss_parameter") or {}
    comps = params.get("losses") if isinstance(params, Mapping) else None
    where = f"{path}loss_parameter.losses"
    if not isinstance(comps, Sequence) or isinstance(comps, str) or not comps:
        raise ConfigError(f"{where}: a Mixed loss needs a non-empty list of {{name, weight}}")
    weights = []
    for i, comp in enumerate(comps):
        if not isinstance(comp, Mapping) or not isinstance(
            comp.get("name", comp.get("loss_name")), str
        ):
            raise ConfigError(f"{where}[{i}]: expected {{name: LossName, weight: w}}; got {comp!r}")
        weights.append(_number(comp.get("weight"), f"{where}[{i}].weight", "weight", 0.0, 1.0))
    if not math.isclose(sum(weights), 1.0, abs_tol=1e-6):
        raise ConfigError(
            f"{where}: weights {weights} sum to {sum(weights):.6g}; the weights of a staged "
            f"Mixed loss are a ratio and must sum to 1 (e.g. 0.2 and 0.8)"
        )
    return weights


def same_components(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two Mixed loss configs differ at most in their component weights."""

    def strip(cfg: Mapping[str, Any]) -> Any:
        cfg = plain(cfg)
        for comp in (cfg.get("loss_parameter") or {}).get("losses", []):
            comp.pop("weight", None)
        return cfg

    return mixed_weights(a, "") is not None and strip(a) == strip(b)


def parse_stages(cfg: Mapping[str, Any], class_names: Sequence[str] | None) -> list[Stage]:
    """The stages of a config: stage 1 (the base loss) and ``loss_switch.loss_stages``."""
    if "loss_name" not in cfg and "name" in cfg:
        cfg = {("loss_name" if k == "name" else k): v for k, v in cfg.items()}
    if "loss_name" not in cfg:
        raise ConfigError("loss_name: missing; stage 1 is the base loss (e.g. loss_name: Mixed)")
    allowed = {"loss_name", "loss_parameter", "loss_switch"}
    if isinstance(cfg.get(DATASET_KEY), Mapping):  # the dataset the weights come from
        allowed.add(DATASET_KEY)
    extra = sorted(map(str, set(cfg) - allowed))
    if extra:
        raise ConfigError(
            f"{', '.join(extra)}: unknown top-level key(s) of a staged config; stage 1's "
            "arguments (class weights included) go under loss_parameter (top-level keys: "
            f"loss_name, loss_parameter, loss_switch, {DATASET_KEY}: {{dataset: ...}})"
        )
    base = {"loss_name": cfg["loss_name"], "loss_parameter": cfg.get("loss_parameter") or {}}
    mixed_weights(base, "")
    stages = [Stage(1, "", base)]
    switch = _check_keys(cfg.get("loss_switch") or {}, ("loss_stages",), "loss_switch")
    raw = switch.get("loss_stages") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{_STAGES_PATH}: expected a mapping stage2: ..., stage3: ...")
    numbered = {}
    for key in raw:
        m = re.fullmatch(r"stage([1-9]\d*)", str(key))
        if m is not None and m.group(1) == "1" and _empty(raw[key]):
            continue  # "stage1:" left empty: stage 1 is the top-level loss, as documented
        if m is None or m.group(1) == "1":
            raise ConfigError(
                f"{_STAGES_PATH}.{key}: stage keys are stage2, stage3, ...; stage 1 is the "
                f"base loss given by loss_name/loss_parameter (leave stage1 empty or drop it)"
            )
        numbered[int(m.group(1))] = key
    for expected, number in enumerate(sorted(numbered), start=2):
        if number != expected:
            raise ConfigError(
                f"{_STAGES_PATH}.stage{number}: stage numbering has a gap "
                f"(no stage{expected}); number stages stage2, stage3, ... without gaps"
            )
    stages.extend(_parse_stage(n, raw[numbered[n]], class_names) for n in sorted(numbered))
    return stages


def _empty(value: Any) -> bool:
    """Whether a ``stage1`` entry is empty (``null`` or ``{}``): it means the top-level loss."""
    return value is None or (isinstance(value, Mapping) and not value)


def _parse_stage(number: int, raw: Any, class_names: Sequence[str] | None) -> Stage:
    path = f"{_STAGES_PATH}.stage{number}"
    raw = _check_keys(raw, _STAGE_KEYS, path)
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{path}.enabled: must be true or false; got {enabled!r}")
    lr_mult = raw.get("lr_multiplier", 1.0)
    _number(lr_mult, f"{path}.lr_multiplier", "lr_multiplier", 0.0, math.inf)
    if lr_mult <= 0 or math.isinf(lr_mult):
        raise ConfigError(f"{path}.lr_multiplier: must be finite and > 0; got {lr_mult!r}")
    cpath = f"{path}.conditions"
    cond = _check_keys(raw.get("conditions") or {}, _CONDITION_KEYS, cpath)
    glob = cond.get("global_dice_threshold")
    if glob is not None:
        glob = _number(glob, f"{cpath}.global_dice_threshold", "a Dice threshold", 0.0, 1.0)
    classes = cond.get("class_dice_thresholds") or {}
    if not isinstance(classes, Mapping):
        raise ConfigError(f"{cpath}.class_dice_thresholds: expected {{ClassName: threshold}}")
    thresholds = {}
    for name, value in classes.items():
        where = f"{cpath}.class_dice_thresholds.{name}"
        if class_names is not None and str(name) not in class_names:
            near = difflib.get_close_matches(str(name), class_names, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"{where}: unknown class{hint}; known: {', '.join(class_names)}")
        thresholds[str(name)] = _number(value, where, "a Dice threshold", 0.0, 1.0)
    n = cond.get("consecutive_epochs", 1)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"{cpath}.consecutive_epochs: must be an int >= 1; got {n!r}")
    if glob is None and not thresholds:
        raise ConfigError(
            f"{cpath}: no condition; give global_dice_threshold and/or class_dice_thresholds"
        )
    loss_cfg = raw.get("loss")
    if loss_cfg is not None:
        lpath = f"{path}.loss"
        loss_cfg = dict(_check_keys(loss_cfg, ("loss_name", "loss_parameter"), lpath))
        if "loss_name" not in loss_cfg:
            raise ConfigError(f"{lpath}.loss_name: missing")
        loss_cfg.setdefault("loss_parameter", {})
        mixed_weights(loss_cfg, f"{lpath}.")
    return Stage(number, path, loss_cfg, enabled, float(lr_mult), glob, thresholds, n)
