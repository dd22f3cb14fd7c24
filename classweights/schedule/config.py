"""Parsing and validation of a staged-loss config (a dict, a YAML string or a YAML file)."""

from __future__ import annotations

import copy
import difflib
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config_text import load_yaml, read_config_text
from ..errors import ConfigError

_STAGE_KEYS = ("enabled", "lr_multiplier", "conditions", "loss")
_CONDITION_KEYS = ("global_dice_threshold", "class_dice_thresholds", "consecutive_epochs")
_STAGES_PATH = "loss_switch.loss_stages"


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


def _load_config(config: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    if isinstance(config, Mapping):
        return copy.deepcopy(dict(config))
    if isinstance(config, os.PathLike) or (
        isinstance(config, str) and "\n" not in config and config.endswith((".yaml", ".yml"))
    ):
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"loss config file {str(path)!r} not found")
        text, where = read_config_text(path, "schedule config"), str(path)
    elif isinstance(config, str):
        text, where = config, "the YAML string"
    else:
        raise ConfigError(
            f"config must be a dict, a YAML string or a YAML file path; got {type(config).__name__}"
        )
    loaded = load_yaml(text, where)
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"{where} must hold a mapping with loss_name; got {loaded!r}")
    return dict(loaded)


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


def _mixed_weights(loss_config: Mapping[str, Any], path: str) -> list[float] | None:
    """Validate the component weights of a Mixed loss config; ``None`` for other losses."""
    if str(loss_config.get("loss_name", "")).lower() not in ("mixed", "mixedloss"):
        return None
    params = loss_config.get("loss_parameter") or {}
    comps = params.get("losses") if isinstance(params, Mapping) else None
    where = f"{path}loss_parameter.losses"
    if not isinstance(comps, list) or not comps:
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


def _same_components(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two loss configs differ at most in their component weights."""

    def strip(cfg: Mapping[str, Any]) -> Any:
        cfg = copy.deepcopy(dict(cfg))
        for comp in (cfg.get("loss_parameter") or {}).get("losses", []):
            comp.pop("weight", None)
        return cfg

    return _mixed_weights(a, "") is not None and strip(a) == strip(b)


def _parse(cfg: dict[str, Any], class_names: Sequence[str] | None) -> list[Stage]:
    """The stages of a config: stage 1 (the base loss) and ``loss_switch.loss_stages``."""
    if "loss_name" not in cfg:
        raise ConfigError("loss_name: missing; stage 1 is the base loss (e.g. loss_name: Mixed)")
    base = {"loss_name": cfg["loss_name"], "loss_parameter": cfg.get("loss_parameter") or {}}
    _mixed_weights(base, "")
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
        _mixed_weights(loss_cfg, f"{lpath}.")
    return Stage(number, path, loss_cfg, enabled, float(lr_mult), glob, thresholds, n)
